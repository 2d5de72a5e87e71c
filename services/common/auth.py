"""Bearer tokens: Ed25519-signed JWTs naming an organisation and a role.

Every service verifies tokens with the public key alone; only the identity
provider (``vndx token`` in the embedded stack, an OIDC issuer later) signs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast, get_args

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

Role = Literal["provider", "buyer", "regulator", "operator"]
ROLES: tuple[str, ...] = get_args(Role)
ALGORITHM = "EdDSA"


class AuthError(Exception):
    """A token that must be refused (401)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: an organisation acting in one role."""

    subject: str
    org: str
    role: Role
    segment: str | None = None

    def is_operator(self) -> bool:
        return self.role == "operator"


def generate_keypair(private_path: Path, public_path: Path) -> None:
    """Write a new Ed25519 key pair as PEM files (private key readable by owner only)."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def ensure_keypair(private_path: Path, public_path: Path) -> None:
    if not (private_path.exists() and public_path.exists()):
        generate_keypair(private_path, public_path)


KEY_NAMES = ("jwt", "quote", "ledger")
"""The embedded stack's signing keys: tokens, quotes, audit checkpoints."""


class TokenIssuer:
    """Signs tokens (the embedded identity provider)."""

    def __init__(self, private_key_pem: bytes, *, issuer: str, audience: str) -> None:
        self._key = serialization.load_pem_private_key(private_key_pem, password=None)
        self._issuer = issuer
        self._audience = audience

    def issue(
        self,
        org: str,
        role: Role,
        *,
        subject: str | None = None,
        ttl_s: int = 3600,
        segment: str | None = None,
    ) -> str:
        now = datetime.now(UTC)
        claims: dict[str, object] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject or f"{org}:{role}",
            "org": org,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl_s),
            "jti": str(uuid.uuid4()),
        }
        if segment:
            claims["segment"] = segment
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)  # type: ignore[arg-type]


#: Seconds of clock skew allowed on ``exp`` and ``nbf``.
LEEWAY_S = 5


class TokenVerifier:
    """Checks signature, algorithm, issuer, audience and validity times.

    A client sends the same token with every request, and checking its EdDSA signature
    costs more CPU than a cheap request's own work. A token that passed is remembered
    by its exact text (bounded, least recently used first) for at most ``remember_s``
    and never past its ``exp``; refused tokens are checked again every time.
    """

    def __init__(
        self,
        public_key_pem: bytes,
        *,
        issuer: str,
        audience: str,
        remember: int = 10_000,
        remember_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem)
        self._issuer = issuer
        self._audience = audience
        self._remember = remember
        self._remember_s = remember_s
        self._clock = clock
        self._passed: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        now = self._clock()
        with self._lock:
            known = self._passed.get(token)
            if known is not None and now < known[1]:
                self._passed.move_to_end(token)
                return known[0]
        principal, expires = self._check(token)
        with self._lock:
            self._passed[token] = (principal, min(expires, now + self._remember_s))
            while len(self._passed) > self._remember:
                self._passed.popitem(last=False)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
                leeway=LEEWAY_S,
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        org, role = claims.get("org"), claims.get("role")
        if not isinstance(org, str) or not org or role not in ROLES:
            raise AuthError("invalid token: missing org or role")
        segment = claims.get("segment")
        principal = Principal(
            subject=str(claims["sub"]),
            org=org,
            role=cast(Role, role),
            segment=segment if isinstance(segment, str) else None,
        )
        return principal, float(claims["exp"])
