"""The signed-in person's session, kept in one encrypted, HttpOnly cookie.

The cookie holds the bearer token the portal sends to the APIs, the person's
organisation and role, and the CSRF token every form must echo. It is
encrypted and authenticated (Fernet) with a key derived from the session secret,
so a browser can neither read nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

SESSION_COOKIE = "vndx_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Session:
    """What the portal remembers about one browser."""

    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    @property
    def token(self) -> str | None:
        value = self.data.get("token")
        return value if isinstance(value, str) else None

    @property
    def org(self) -> str | None:
        value = self.data.get("org")
        return value if isinstance(value, str) else None

    @property
    def role(self) -> str | None:
        value = self.data.get("role")
        return value if isinstance(value, str) else None

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def csrf_token(self) -> str:
        """This browser's CSRF token, made on first use."""
        token = self.data.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            self.set("csrf", token)
        return token

    def csrf_matches(self, candidate: str | None) -> bool:
        expected = self.data.get("csrf")
        return (
            isinstance(expected, str)
            and candidate is not None
            and hmac.compare_digest(expected, candidate)
        )

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.changed = True

    def pop(self, key: str) -> Any:
        self.changed = True
        return self.data.pop(key, None)

    def sign_in(self, token: str, org: str, role: str, name: str | None = None) -> None:
        """Start a fresh session (a new CSRF token) for a signed-in person."""
        self.data = {"token": token, "org": org, "role": role, "name": name or org}
        self.changed = True
        self.csrf_token()

    def sign_out(self) -> None:
        self.data = {}
        self.changed = True


class SessionCodec:
    """Turns a session into a cookie value and back."""

    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(b"vndx-portal-session\x00" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def dumps(self, session: Session) -> str:
        raw = json.dumps(session.data, separators=(",", ":")).encode()
        return self._fernet.encrypt(raw).decode("ascii")

    def loads(self, cookie: str | None, max_age_s: int) -> Session:
        if not cookie:
            return Session()
        try:
            raw = self._fernet.decrypt(cookie.encode("ascii"), ttl=max_age_s)
            data = json.loads(raw)
        except (InvalidToken, ValueError, UnicodeError):
            return Session()
        return Session(data if isinstance(data, dict) else {})
