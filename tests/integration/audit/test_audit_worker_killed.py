"""The faust audit worker killed (SIGKILL) mid-stream on real Tansu: no gap, no duplicate leaf.

The worker runs as its own process (uvicorn, as in the embedded stack). It is
killed twice while events stream in: once by itself right after a batch
committed in the database and before faust committed its offsets (the crash
point `consumer.after_effect_before_commit`, so that batch is delivered
again), and once from outside at an arbitrary moment. Every event is also
published a second time. The ledger must end up holding each event exactly
once, at consecutive positions, and verify.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from services.common import faults
from services.common.settings import Settings
from tests.integration.audit.conftest import get, publish, wait_for
from tests.unit.audit.audit_events import access_sequence, wrap
from vndx.cli import app as cli
from vndx.embedded.ports import free_port
from vndx.embedded.process import ChildProcess, child_environment
from vndx.stack import serving_command

Tokens = Callable[[str, str], str]
BUYER = "killed-buyer"


class WorkerProcess:
    """The audit service in a child process, started with or without an armed crash point."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: ChildProcess | None = None
        self.starts = 0

    def start(self, *, crash_point: str = "") -> None:
        self.starts += 1
        env = child_environment({"PYTHONUNBUFFERED": "1"})
        env.update(
            {
                "VNDX_ENV": "test",
                "VNDX_SERVICE_NAME": "audit",
                "VNDX_DATA_DIR": str(self.settings.data_dir),
                "VNDX_DATABASE_URL": self.settings.resolved_database_url,
                "VNDX_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
                "VNDX_OUTBOX_POLL_INTERVAL_S": "0.1",
                "VNDX_AUDIT_CHECKPOINT_EVERY": "50",
                "VNDX_AUDIT_CHECKPOINT_INTERVAL_S": "0.3",
                "VNDX_AUDIT_BATCH_MAX": "7",
                "VNDX_FAULT_INJECTION": crash_point,
            }
        )
        argv = serving_command("streams.audit.api.app:create_app", self.port)
        self.process = ChildProcess(
            argv, self.log_dir / f"audit-{self.starts}.log", env=env, cwd=Path.cwd()
        )
        self.process.start()

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def kill(self) -> None:
        if self.process is not None and self.process.pid is not None and self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        assert not self.alive()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(10)


@pytest.fixture
def worker(audit_settings: Settings, tmp_path: Path, keys_dir: Path) -> Iterator[WorkerProcess]:
    settings = audit_settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path / 'killed.db'}", "data_dir": keys_dir}
    )
    process = WorkerProcess(settings, tmp_path)
    yield process
    process.stop()


def ledger(url: str, token: str) -> list[dict[str, Any]]:
    """Every record of the ledger (empty while the service is down)."""
    items: list[dict[str, Any]] = []
    after = -1
    while True:
        try:
            response = get(url, "/v1/audit/records", token, after=after, limit=1000)
        except httpx.HTTPError:
            return items
        if response.status_code != 200:
            return items
        body = response.json()
        items.extend(body["items"])
        if body["next_after"] is None:
            return items
        after = body["next_after"]


def test_worker_killed_mid_stream_restarts_without_gap_or_duplicate(
    worker: WorkerProcess, audit_settings: Settings, token_for: Tokens
) -> None:
    regulator = token_for("bo-tt", "regulator")
    first = [wrap(p) for n in range(40) for p in access_sequence(f"killed-{n}", buyer=BUYER)]
    late = [wrap(p) for n in range(10) for p in access_sequence(f"killed-late-{n}", buyer=BUYER)]

    # 1. The worker kills itself after a stored batch, before its offsets are committed.
    worker.start(crash_point=f"{faults.CONSUMER_AFTER_EFFECT}:0.5")
    publish(audit_settings, first)
    wait_for(worker.alive, lambda alive: not alive, timeout_s=120)
    stored_before_restart = len(ledger(worker.url, regulator))

    # 2. Restarted unarmed; killed from outside while the stream is still coming in.
    worker.start()
    wait_for(
        lambda: len(ledger(worker.url, regulator)),
        lambda size: size > stored_before_restart,
        timeout_s=120,
    )
    publish(audit_settings, first + late)  # everything again, and new events
    worker.kill()

    # 3. Restarted once more: it catches up on everything.
    worker.start()
    expected = {e.id for e in first + late}
    whole = wait_for(
        lambda: ledger(worker.url, regulator),
        lambda items: expected <= {i["event_id"] for i in items},
        timeout_s=180,
    )
    assert [i["seq"] for i in whole] == list(range(len(whole)))  # no gap
    assert len({i["event_id"] for i in whole}) == len(whole)  # no duplicate leaf
    assert {i["event_id"] for i in whole if i["buyer_org"] == BUYER} == expected
    wait_for(
        lambda: get(worker.url, "/v1/audit/checkpoints/latest", regulator),
        lambda r: r.status_code == 200 and r.json()["tree_size"] >= len(whole),
    )
    result = CliRunner().invoke(cli, ["audit", "verify", "--url", worker.url, "--token", regulator])
    assert result.exit_code == 0, result.output
