"""The embedded stack only counts a service as up when that service itself answers.

In CI a SeaweedFS started after the portal stack chose its ports took the port of
``orders``; its ``/healthz`` answered 200, the stack went on, and every order then
met SeaweedFS's "404 page not found". Now a taken port is refused before the
service starts, and the health check asks for the service by name.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vndx.embedded import SeaweedS3, Tansu
from vndx.embedded.ports import PortInUseError
from vndx.stack import EmbeddedStack, StackConfig, answers_as


class _ForeignHealth(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def foreign_server() -> Iterator[int]:
    """Another program with a healthy ``/healthz`` on a loopback port: its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ForeignHealth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_service_whose_port_another_program_holds_is_refused_naming_the_port(
    tmp_path: Path, foreign_server: int, tansu: Tansu, seaweed: SeaweedS3
) -> None:
    stack = EmbeddedStack(
        StackConfig(
            data_dir=tmp_path, service_ports={"portal": foreign_server}, services=("portal",)
        ),
        tansu=tansu,
        s3=seaweed,
    )
    assert not answers_as(stack.url("portal"), "portal")
    try:
        stack.start_infrastructure()
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{foreign_server} is already in use"):
            stack.start_service("portal")
    finally:
        stack.stop()


def test_a_service_on_its_own_port_is_answered_by_itself(
    tmp_path: Path, tansu: Tansu, seaweed: SeaweedS3
) -> None:
    config = StackConfig.on_free_ports(tmp_path, services=("portal",))
    stack = EmbeddedStack(config, tansu=tansu, s3=seaweed)
    try:
        stack.start()
        assert answers_as(stack.url("portal"), "portal")
        assert not answers_as(stack.url("portal"), "orders")
    finally:
        stack.stop()
