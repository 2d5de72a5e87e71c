"""Child processes: output to a log file, polite then firm stop, no orphans."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from vndx.embedded.ports import ExitedWhileStartingError
from vndx.embedded.process import ChildProcess, child_environment, start_until_ready


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_until(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)


def test_output_goes_to_the_log_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    child = ChildProcess(["sh", "-c", "echo hello; echo oops >&2"], log)
    child.start()
    _wait_until(lambda: not child.running)
    assert child.stop() == 0
    assert log.read_text().splitlines() == ["hello", "oops"]


def test_stop_ends_a_running_server(tmp_path: Path) -> None:
    child = ChildProcess(["sleep", "30"], tmp_path / "sleep.log")
    child.start()
    assert child.running
    assert child.stop(timeout=5) == -signal.SIGTERM
    assert not child.running


def test_stop_kills_a_child_that_ignores_the_polite_signal_and_its_children(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = f"trap '' TERM; sleep 30 & echo $! > {pid_file}; echo ready; wait"
    log = tmp_path / "stubborn.log"
    child = ChildProcess(["sh", "-c", script], log)
    child.start()
    _wait_until(lambda: "ready" in log.read_text())
    grandchild = int(pid_file.read_text())

    assert child.stop(timeout=0.2) == -signal.SIGKILL
    _wait_until(lambda: _gone(grandchild))
    assert _gone(grandchild)


def test_child_environment_passes_only_what_servers_need(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("S3_BUCKET", "surprise")
    monkeypatch.setenv("PGDATA", "/elsewhere")
    env = child_environment({"HOME": "/srv"})
    assert "S3_BUCKET" not in env
    assert "PGDATA" not in env
    assert env["HOME"] == "/srv"
    assert env["PATH"]


def test_start_until_ready_tries_again_when_the_process_dies(tmp_path: Path) -> None:
    log = tmp_path / "flaky.log"
    launched: list[ChildProcess] = []

    def launch(attempt: int) -> ChildProcess:
        argv = ["sh", "-c", "exit 3"] if attempt == 0 else ["sleep", "30"]
        child = ChildProcess(argv, log)
        child.start()
        launched.append(child)
        return child

    ready = start_until_ready(
        launch,
        lambda: len(launched) == 2,  # only the second launch is a real server
        describe=lambda: "flaky",
        timeout=5,
        log_file=log,
        retry_when_exited=True,
    )
    assert ready is launched[1]
    ready.stop()


def test_start_until_ready_gives_up_without_retry(tmp_path: Path) -> None:
    def launch(attempt: int) -> ChildProcess:
        child = ChildProcess(["sh", "-c", "echo port taken; exit 3"], tmp_path / "dead.log")
        child.start()
        return child

    with pytest.raises(ExitedWhileStartingError, match="port taken"):
        start_until_ready(
            launch,
            lambda: False,
            describe=lambda: "dead",
            timeout=5,
            log_file=tmp_path / "dead.log",
            retry_when_exited=False,
        )
