"""The portal's client to the APIs: a read whose connection broke is sent once more, a write never.

The server here is a real TCP server that hangs up on the first request it reads
without answering (what a server closing an idle connection does to a request
that crossed the close) and answers every later one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.common.keep_alive import CLIENT_IDLE_S, SERVER_IDLE_S
from services.common.settings import Settings
from services.portal.backends import BackendError, Backends
from vndx.stack import serving_command

ANSWER = (
    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
)


class HangsUpOnce:
    """Counts the requests it reads; hangs up on the first, answers the rest."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.requests.append(head.split(b" ", 1)[0])
                if len(self.requests) == 1:
                    break
                writer.write(ANSWER)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        writer.close()


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[HangsUpOnce, Backends]]:
    server = HangsUpOnce()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    backends = Backends.create(Settings(access_url=f"http://127.0.0.1:{port}"))
    yield server, backends
    await backends.close()
    listening.close()
    await listening.wait_closed()


async def test_a_read_whose_connection_broke_is_sent_again(
    flaky: tuple[HangsUpOnce, Backends],
) -> None:
    server, backends = flaky
    assert await backends.get("access", "/v1/grants/g-1") == {"ok": True}
    assert server.requests == [b"GET", b"GET"]


async def test_a_write_whose_connection_broke_is_not_sent_again(
    flaky: tuple[HangsUpOnce, Backends],
) -> None:
    server, backends = flaky
    with pytest.raises(BackendError) as refused:
        await backends.post("access", "/v1/grants/g-1/terminate", json={"reason": "done"})
    assert refused.value.status == 503 and "access is unreachable" in refused.value.message
    assert server.requests == [b"POST"]


def test_the_portal_gives_up_idle_connections_before_the_services_close_them() -> None:
    served = serving_command("services.access.api.app:create_app", 8104)
    assert served[served.index("--timeout-keep-alive") + 1] == str(SERVER_IDLE_S)
    pool = Backends.create(Settings()).client._transport._pool  # type: ignore[attr-defined]
    assert pool._keepalive_expiry == CLIENT_IDLE_S < SERVER_IDLE_S
