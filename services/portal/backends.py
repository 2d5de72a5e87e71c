"""The portal's only way to the other services: their public HTTP APIs.

Every call carries the signed-in person's bearer token; a refusal becomes a
``BackendError`` with the API's code, field and line so that a page can show
it next to the field at fault, in the person's language.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from services.common.keep_alive import CLIENT_IDLE_S
from services.common.settings import Settings

Service = Literal["catalog", "pricing", "orders", "access", "audit"]
_RESENDABLE = ("GET", "HEAD")


class BackendError(Exception):
    """An API refused or could not be reached."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.line = line
        self.errors = errors or []


def _error_of(response: httpx.Response) -> BackendError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return BackendError(response.status_code, "http_error", response.text[:300])
    line = error.get("line")
    errors = error.get("errors")
    return BackendError(
        response.status_code,
        str(error.get("code", "http_error")),
        str(error.get("message", "")),
        field=error.get("field") if isinstance(error.get("field"), str) else None,
        line=line if isinstance(line, int) else None,
        errors=errors if isinstance(errors, list) else None,
    )


@dataclass
class Backends:
    """One pooled HTTP client for every API the portal talks to."""

    settings: Settings
    client: httpx.AsyncClient

    @classmethod
    def create(
        cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> Backends:
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=5.0),
            transport=transport,
            limits=httpx.Limits(
                max_connections=50, max_keepalive_connections=20, keepalive_expiry=CLIENT_IDLE_S
            ),
        )
        return cls(settings, client)

    def url(self, service: Service, path: str) -> str:
        base: str = getattr(self.settings, f"{service}_url")
        return base.rstrip("/") + path

    async def request(
        self,
        method: str,
        service: Service,
        path: str,
        *,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
        time_limit_s: float | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        # A read whose connection broke before any answer came is sent once more: it
        # changes nothing, and the second try gets a fresh connection.
        tries = 2 if method in _RESENDABLE else 1
        for tried in range(1, tries + 1):
            try:
                response = await self.client.request(
                    method,
                    self.url(service, path),
                    params=clean,
                    json=json,
                    content=content,
                    headers=sent,
                    timeout=time_limit_s if time_limit_s is not None else httpx.USE_CLIENT_DEFAULT,
                )
                break
            except httpx.HTTPError as exc:
                broke = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
                if broke and tried < tries:
                    continue
                raise BackendError(503, "unavailable", f"{service} is unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    async def get(self, service: Service, path: str, **kwargs: Any) -> Any:
        return (await self.request("GET", service, path, **kwargs)).json()

    async def post(self, service: Service, path: str, **kwargs: Any) -> Any:
        return (await self.request("POST", service, path, **kwargs)).json()

    async def put(self, service: Service, path: str, **kwargs: Any) -> Any:
        return (await self.request("PUT", service, path, **kwargs)).json()

    @asynccontextmanager
    async def stream_url(self, url: str) -> AsyncIterator[httpx.Response]:
        """Stream a presigned object-store URL (the extract) through the portal."""
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise BackendError(
                        response.status_code, "gone", "the file is no longer available"
                    )
                yield response
        except httpx.HTTPError as exc:
            raise BackendError(503, "unavailable", f"object store unreachable: {exc}") from exc

    async def close(self) -> None:
        await self.client.aclose()
