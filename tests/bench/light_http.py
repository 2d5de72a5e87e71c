"""A light asyncio HTTP/1.1 keep-alive client on raw sockets, for load generators.

httpx costs a few milliseconds of CPU per request, which a bench would take from the
two cores the stack under test runs on. This client writes a request's bytes, reads
the status line, the headers and a ``Content-Length`` or chunked body, and keeps the
connection for the next request: just enough for JSON APIs served by uvicorn.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Response:
    """What came back: the status, the headers (lower-case names) and the body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def encode_request(
    method: str,
    host: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: Any = None,
    content: bytes | None = None,
) -> bytes:
    """One HTTP/1.1 request as bytes (a JSON body when ``json_body`` is given)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    body = content
    if json_body is not None:
        body = json.dumps(json_body, separators=(",", ":")).encode()
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.reusable = True

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> Response:
        """Write ``request`` (already encoded) and read its whole answer."""
        self._writer.write(request)
        status_line = await self._reader.readline()
        if not status_line:
            self.reusable = False
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunks()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        return Response(status, headers, body)

    async def _read_chunks(self) -> bytes:
        parts: list[bytes] = []
        while size := int((await self._reader.readline()).split(b";")[0], 16):
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()
        while (await self._reader.readline()) not in (b"\r\n", b""):
            pass  # trailers
        return b"".join(parts)

    def close(self) -> None:
        self.reusable = False
        self._writer.close()


class Client:
    """Requests to one server over a pool of keep-alive connections, opened on demand.

    As many connections are open as requests are in flight at once, so an open-loop
    load generator is never held back by the pool.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.authority = f"{self.host}:{self.port}"
        self._idle: list[Connection] = []

    async def send(self, request: bytes) -> Response:
        """Send an encoded request on an idle connection (or a new one)."""
        reused = bool(self._idle)
        connection = self._idle.pop() if reused else await Connection.open(self.host, self.port)
        try:
            response = await connection.send(request)
        except ConnectionError:
            connection.close()
            if not reused:
                raise
            # An idle connection the server timed out: it never saw this request.
            return await self.send(request)
        except BaseException:
            connection.close()
            raise
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> Response:
        return await self.send(
            encode_request(
                method, self.authority, path, headers=headers, json_body=json, content=content
            )
        )

    async def post(
        self, path: str, *, headers: dict[str, str] | None = None, json: Any = None
    ) -> Response:
        return await self.request("POST", path, headers=headers, json=json)

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Response:
        return await self.request("GET", path, headers=headers)

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
