"""The audit service on a broker of its own, served by uvicorn so that CLI and SSE clients see it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from services.common.auth import TokenIssuer
from services.common.events import to_record
from services.common.kafka import KafkaPublisher, ensure_topics
from services.common.settings import Settings
from services.contracts.envelope import Envelope
from services.contracts.topics import all_topics_with_dlq
from streams.audit.api.app import create_app
from vndx.embedded import Tansu
from vndx.embedded.ports import free_port


class AuditServer:
    """The audit app under uvicorn in a thread; stopping it runs the lifespan's shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("audit server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(30)
        self._server = self._thread = None


@pytest.fixture(scope="module")
def audit_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    """A broker for this module only: its `audit.ledger` topic holds one ledger."""
    broker = Tansu(tmp_path_factory.mktemp("audit-broker") / "tansu.log")
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap_servers, all_topics_with_dlq()))
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def audit_settings(
    audit_broker: Tansu, keys_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    database = tmp_path_factory.mktemp("audit-db") / "audit.db"
    return Settings(
        env="test",
        service_name="audit",
        data_dir=keys_dir,
        database_url=f"sqlite:///{database}",
        kafka_bootstrap=audit_broker.bootstrap_servers,
        outbox_poll_interval_s=0.1,
        audit_checkpoint_every=4,
        audit_checkpoint_interval_s=0.3,
        audit_watch_downloads_per_hour=3,
    )


@pytest.fixture(scope="module")
def audit_server(audit_settings: Settings) -> Iterator[AuditServer]:
    server = AuditServer(audit_settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def token_for(issuer: TokenIssuer) -> Callable[[str, str], str]:
    def issue(org: str, role: str) -> str:
        return issuer.issue(org, role)  # type: ignore[arg-type]

    return issue


def publish(settings: Settings, envelopes: list[Envelope]) -> None:
    """Publish events as their producing services' relays would (KafkaPublisher)."""

    async def send() -> None:
        publisher = KafkaPublisher(settings)
        try:
            await publisher.publish([to_record(Envelope.payload(e).topic, e) for e in envelopes])
        finally:
            await publisher.stop()

    asyncio.run(send())


def wait_for(
    fetch: Callable[[], Any], done: Callable[[Any], bool], *, timeout_s: float = 60.0
) -> Any:
    """Poll `fetch` until `done` holds for its result; fail with the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = fetch()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout_s} s; last: {result!r}")
        time.sleep(0.2)


def get(url: str, path: str, token: str, **params: Any) -> httpx.Response:
    return httpx.get(
        url + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
