"""Built extracts kept in memory, keyed by the recipe that made them.

An extract is a function of the raw object (listing versions are immutable), its
format, the build plan and the privacy targets, unless a column is kept as a
pseudonym: pseudonyms are keyed per grant, so such a recipe is never shared. Each
grant still gets its own copy of the files under its own prefix; only the work of
building them is shared.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

from services.access.domain import PrivacyTargets
from services.access.domain.listing_rules import BuildPlan
from services.access.domain.privacy import PrivacyFigures


def recipe_fingerprint(
    raw_key: str, raw_format: str, plan: BuildPlan, targets: PrivacyTargets
) -> str | None:
    """sha256 of everything that shapes the extract; None when it holds per-grant pseudonyms."""
    if any(rule.keep_as_pseudonym for rule in plan.rules):
        return None
    recipe = {
        "raw_key": raw_key,
        "raw_format": raw_format,
        "rules": [rule.model_dump(mode="json") for rule in plan.rules],
        "hierarchies": plan.hierarchies,
        "targets": targets.model_dump(mode="json"),
    }
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CachedExtract:
    """What a build produced: its figures and the bytes of both files."""

    rows_in: int
    rows_out: int
    figures: PrivacyFigures
    checked_by: tuple[str, ...]
    parquet: bytes
    csv: bytes

    @property
    def size(self) -> int:
        return len(self.parquet) + len(self.csv)


class ExtractCache:
    """A bounded LRU of built extracts, safe for the threads of one process.

    ``max_bytes`` bounds the total, ``max_entry_bytes`` each extract; 0 disables it.
    """

    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self._entries: OrderedDict[str, CachedExtract] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entry_bytes > 0

    def fits(self, size: int) -> bool:
        return size <= self.max_entry_bytes

    def get(self, fingerprint: str) -> CachedExtract | None:
        with self._lock:
            entry = self._entries.get(fingerprint)
            if entry is not None:
                self._entries.move_to_end(fingerprint)
            return entry

    def put(self, fingerprint: str, entry: CachedExtract) -> None:
        if not self.fits(entry.size):
            return
        with self._lock:
            previous = self._entries.pop(fingerprint, None)
            if previous is not None:
                self._bytes -= previous.size
            self._entries[fingerprint] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.size

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
