"""What a quote needs to know, kept in memory for a second: no database read per quote.

A quote needs the listing's status and terms, the version's facts, the buyer
organisation's verification and the policy in effect. Each comes from a short read and a
validation that would cost more than the pricing itself; here each answer is kept for
`ttl_seconds`. This process's consumer and policy activations forget what they change at
once; another replica's changes (a shared database in production) show within the TTL,
well inside the seconds a catalog event takes to arrive anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TTL_SECONDS = 1.0


class Lookups:
    """A small time-bounded memo of read results, by key."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        capacity: int = 100_000,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._capacity = capacity
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value remembered for `key`, or `load()`'s (remembered for the TTL)."""
        now = self._monotonic()
        found = self._entries.get(key)
        if found is not None and found[0] > now:
            value: T = found[1]
            return value
        value = load()
        with self._lock:
            if len(self._entries) >= self._capacity:
                self._entries.clear()
            self._entries[key] = (now + self.ttl_seconds, value)
        return value

    def forget(self, predicate: Callable[[Hashable], bool]) -> None:
        with self._lock:
            for key in [k for k in self._entries if predicate(k)]:
                del self._entries[key]

    def forget_listing(self, listing_id: str) -> None:
        self.forget(lambda key: isinstance(key, tuple) and key[:2] == ("listing", listing_id))

    def forget_organisation(self, org: str) -> None:
        self.forget(lambda key: key == ("organisation", org))

    def forget_policies(self) -> None:
        self.forget(lambda key: key == ("policies",))
