"""localstripe (a stateful Stripe fake) behind a proxy that honours Idempotency-Key.

localstripe ignores the ``Idempotency-Key`` header, which real Stripe honours: a POST
retried with the same key returns the first response (and a different body with the same
key is a 400). The proxy adds exactly that, so tests observe what Stripe would do when
orders retries a call after a crash.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from vndx.embedded.ports import accepts_tcp, free_port, wait_for
from vndx.embedded.process import ChildProcess

_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


class _Replay:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.responses: dict[tuple[str, str], tuple[bytes, int, bytes]] = {}


def _handler(upstream: str, replay: _Replay) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            return

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Idempotency-Key")
            slot = (self.headers.get("Authorization", ""), key) if key else None
            if slot is not None and self.command == "POST":
                with replay.lock:
                    cached = replay.responses.get(slot)
                    if cached is None:
                        cached = self._upstream(body)
                        replay.responses[slot] = (body, cached[1], cached[2])
                        self._answer(cached[1], cached[2])
                        return
                if cached[0] != body:
                    self._answer(
                        400,
                        b'{"error": {"type": "idempotency_error", "message": "Keys for '
                        b'idempotent requests can only be used with the same parameters"}}',
                    )
                    return
                self._answer(cached[1], cached[2])
                return
            _, status, content = self._upstream(body)
            self._answer(status, content)

        def _upstream(self, body: bytes) -> tuple[bytes, int, bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            response = httpx.request(
                self.command, upstream + self.path, content=body, headers=headers, timeout=30
            )
            return body, response.status_code, response.content

        def _answer(self, status: int, content: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = _forward

    return Proxy


class IdempotentStripe:
    """Starts localstripe on a free port and the idempotency proxy in front of it."""

    def __init__(self, log_file: Path) -> None:
        self._port = free_port()
        self._process = ChildProcess(
            [sys.executable, "-m", "localstripe", "--port", str(self._port), "--from-scratch"],
            log_file,
        )
        self._server: ThreadingHTTPServer | None = None

    @property
    def api_base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._process.start()
        wait_for(
            lambda: accepts_tcp(self._port),
            30,
            "localstripe",
            log_file=self._process.log_file,
            alive=self._process.is_alive,
        )
        handler = _handler(f"http://127.0.0.1:{self._port}", _Replay())
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._process.stop()
