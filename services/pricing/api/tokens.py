"""A token verifier that remembers the tokens it accepted, until they expire.

Checking an EdDSA bearer token costs more CPU than pricing a quote, and a buyer sends
the same token with every request. A token that verified once stays valid until its
`exp` (JWTs cannot be revoked before that anyway), so the principal is kept for at most
`ttl_seconds` and never past `exp`. Refused tokens are not remembered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import jwt

from services.common.auth import Principal, TokenVerifier

DEFAULT_TTL_SECONDS = 60.0
DEFAULT_CAPACITY = 10_000


class CachingTokenVerifier(TokenVerifier):
    def __init__(
        self,
        public_key_pem: bytes,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(public_key_pem, issuer=issuer, audience=audience)
        self._ttl_seconds = ttl_seconds
        self._capacity = capacity
        self._clock = clock
        self._accepted: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        now = self._clock()
        found = self._accepted.get(token)
        if found is not None and now < found[0]:
            return found[1]
        principal = super().verify(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        until = min(float(claims["exp"]), now + self._ttl_seconds)
        with self._lock:
            if len(self._accepted) >= self._capacity:
                self._accepted.clear()
            self._accepted[token] = (until, principal)
        return principal
