"""Guards every service gets in front of its routes: body size, rate, deadline, outages.

- Bodies: JSON and other small bodies above ``VNDX_MAX_REQUEST_BYTES`` get 413
  (file uploads — CSV, Parquet, octet-stream, multipart — are capped at
  ``VNDX_MAX_UPLOAD_BYTES`` here and checked again by the route).
- Rates: quotes, orders, download URLs and sandbox queries are limited per
  organisation (a token bucket per organisation and kind, in this process; the
  token is verified, so nobody spends another organisation's allowance); over
  the limit is 429 with ``Retry-After``.
- Deadline: a request that has not started its answer after
  ``VNDX_REQUEST_DEADLINE_S`` (a database or object store that stopped
  answering) gets 503 with ``Retry-After`` instead of hanging; streams that
  have started are left alone.
- Outages: a database or object-store connection error that reaches the top
  is a 503 with ``Retry-After``, not a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.settings import Settings

FILE_TYPES = (
    "text/csv",
    "application/octet-stream",
    "application/vnd.apache.parquet",
    "multipart/form-data",  # the catalog and portal take uploads as multipart too
)
RETRY_AFTER_S = 5


@dataclass(frozen=True)
class RateRule:
    """Requests of one kind (method + path pattern), limited per organisation."""

    kind: str
    method: str
    path: re.Pattern[str]
    per_minute: Callable[[Settings], int]


RATE_RULES = (
    RateRule("quotes", "POST", re.compile(r"^/v1/quotes/?$"), lambda s: s.rate_quotes_per_minute),
    RateRule("orders", "POST", re.compile(r"^/v1/orders/?$"), lambda s: s.rate_orders_per_minute),
    RateRule(
        "downloads",
        "POST",
        re.compile(r"^/v1/grants/[^/]+/download/?$"),
        lambda s: s.rate_downloads_per_minute,
    ),
    RateRule(
        "queries",
        "POST",
        re.compile(r"^/v1/grants/[^/]+/query/?$"),
        lambda s: s.rate_queries_per_minute,
    ),
)


class TokenBuckets:
    """One bucket per key: ``capacity`` requests at once, refilled evenly over a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, str], per_minute: int) -> float:
        """Spend one token; return 0 if allowed, else the seconds until one is free."""
        rate = per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate


def _json_error(status: int, code: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, **extra}}).encode()


async def _answer(send: Send, status: int, body: bytes, retry_after: int | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """The guards above, as one ASGI middleware (outermost, so that they apply first)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        verify_org: Callable[[Scope, str], str | None],
        buckets: TokenBuckets | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.verify_org = verify_org
        self.buckets = buckets or TokenBuckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self._body_limit(headers.get("content-type", ""))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, _too_large(limit))
            return
        refusal = self._rate_refusal(scope, headers.get("authorization", ""))
        if refusal is not None:
            await _answer(send, 429, refusal[0], retry_after=refusal[1])
            return
        body_done = asyncio.Event()
        if declared in ("", "0") and "chunked" not in headers.get("transfer-encoding", ""):
            body_done.set()
        # A file upload may take long to arrive and to store: no deadline for it.
        deadline = (
            None if limit == self.settings.max_upload_bytes else self.settings.request_deadline_s
        )
        await self._call_with_deadline(
            scope, _limited(receive, limit, body_done), send, limit, body_done, deadline
        )

    def _body_limit(self, content_type: str) -> int:
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind in FILE_TYPES:
            return self.settings.max_upload_bytes
        return self.settings.max_request_bytes

    def _rate_refusal(self, scope: Scope, authorization: str) -> tuple[bytes, int] | None:
        method, path = scope["method"], scope["path"]
        rule = next((r for r in RATE_RULES if r.method == method and r.path.match(path)), None)
        if rule is None or not authorization.lower().startswith("bearer "):
            return None
        org = self.verify_org(scope, authorization[7:].strip())
        if org is None:
            return None  # the route answers 401
        wait = self.buckets.take((rule.kind, org), rule.per_minute(self.settings))
        if wait <= 0:
            return None
        retry_after = max(1, math.ceil(wait))
        message = (
            f"too many {rule.kind} for organisation {org}: at most "
            f"{rule.per_minute(self.settings)} a minute; retry after {retry_after} s"
        )
        return _json_error(429, "too_many_requests", message), retry_after

    async def _call_with_deadline(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        body_done: asyncio.Event,
        deadline_s: float | None,
    ) -> None:
        """Run the app; 503 if it has not begun answering ``deadline_s`` after the body came."""
        started = asyncio.Event()
        answered_by_guard = False

        async def guarded_send(message: Message) -> None:
            if answered_by_guard:
                return  # the client already has our 503
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        waiter = asyncio.ensure_future(started.wait())
        arrived = asyncio.ensure_future(body_done.wait())
        try:
            if deadline_s is None:
                await task
                return
            await asyncio.wait({task, waiter, arrived}, return_when=asyncio.FIRST_COMPLETED)
            done, _ = await asyncio.wait(
                {task, waiter}, timeout=deadline_s, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                answered_by_guard = True
                task.cancel()
                await _answer(
                    send,
                    503,
                    _json_error(
                        503,
                        "unavailable",
                        "a dependency (database or object store) is not answering; retry later",
                    ),
                    retry_after=RETRY_AFTER_S,
                )
                return
            await task
        except _TooLarge:
            if not started.is_set():
                answered_by_guard = True
                await _answer(send, 413, _too_large(limit))
        except Exception as exc:
            if started.is_set() or not _is_outage(exc):
                raise
            answered_by_guard = True
            await _answer(
                send,
                503,
                _json_error(
                    503, "unavailable", f"a dependency is unavailable: {type(exc).__name__}"
                ),
                retry_after=RETRY_AFTER_S,
            )
        finally:
            waiter.cancel()
            arrived.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _too_large(limit: int) -> bytes:
    return _json_error(413, "too_large", f"the request body exceeds {limit} bytes", field="body")


def _limited(receive: Receive, limit: int, body_done: asyncio.Event) -> Receive:
    """A receive that raises once more than ``limit`` body bytes have arrived."""
    seen = 0

    async def receive_limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            if not message.get("more_body", False):
                body_done.set()
        return message

    return receive_limited


_OUTAGE_NAMES = {
    "OperationalError",  # sqlalchemy: the database went away or refused
    "TimeoutError",  # sqlalchemy pool, asyncio
    "MaxRetryError",  # urllib3 under minio: the object store is unreachable
    "NewConnectionError",
    "ProtocolError",
    "ReadTimeoutError",
    "ConnectionError",
    "ConnectionRefusedError",
}


def _is_outage(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if any(type(current).__name__ == name for name in _OUTAGE_NAMES) or isinstance(
            current, ConnectionError | TimeoutError
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def _verified_org(scope: Scope, token: str) -> str | None:
    """The organisation of a valid token (the app's own verifier), else None."""
    from services.common.auth import AuthError

    verifier = getattr(scope["app"].state, "token_verifier", None)
    if verifier is None:
        return None
    try:
        org: str = verifier.verify(token).org
    except AuthError:
        return None
    return org


def install_guards(app: Any, settings: Settings) -> None:
    """Put the guards in front of ``app``'s routes (called by ``install_health``)."""
    app.add_middleware(GuardMiddleware, settings=settings, verify_org=_verified_org)
