"""The lifecycle every launcher shares: ports per attempt, start until ready, stop."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vndx.embedded.launcher import Launcher, known_once_started, port_for_attempt
from vndx.embedded.ports import LOOPBACK, PortInUseError, free_port
from vndx.embedded.process import ChildProcess


class _Sleeper(Launcher):
    """The smallest launcher: a `sleep` that is ready as soon as it runs."""

    def start(self) -> None:
        def launch(attempt: int) -> ChildProcess:
            process = ChildProcess(["sleep", "30"], self.log_file)
            process.start()
            return process

        self._start_until_ready(
            launch, lambda: True, describe=lambda: "sleep", retry_when_exited=False
        )


def test_a_launcher_runs_inside_its_with_block_only(tmp_path: Path) -> None:
    sleeper = _Sleeper(tmp_path / "sleep.log", start_timeout=5)
    assert not sleeper.running
    assert sleeper.pid is None
    with sleeper:
        assert sleeper.running
        assert sleeper.pid is not None
    assert not sleeper.running
    assert sleeper.pid is None


def test_a_value_is_refused_until_started() -> None:
    assert known_once_started(5432, "Postgres has no port") == 5432
    with pytest.raises(RuntimeError, match="Postgres has no port until it is started"):
        known_once_started(None, "Postgres has no port")


def test_a_restart_keeps_its_port_and_a_retry_draws_another() -> None:
    previous = free_port()
    assert port_for_attempt(0, fixed=None, previous=previous, what="x") == previous
    assert port_for_attempt(1, fixed=None, previous=previous, what="x") != previous
    assert port_for_attempt(0, fixed=None, previous=None, what="x") > 0


def test_a_given_port_is_kept_and_refused_when_taken() -> None:
    given = free_port()
    assert port_for_attempt(3, fixed=given, previous=given, what="Tansu") == given
    with socket.socket() as taken:
        taken.bind((LOOPBACK, given))
        taken.listen()
        with pytest.raises(PortInUseError, match=f"cannot start Tansu: {LOOPBACK}:{given}"):
            port_for_attempt(0, fixed=given, previous=given, what="Tansu")


def test_run_to_end_returns_the_exit_code_with_the_output_logged(tmp_path: Path) -> None:
    log = tmp_path / "tool.log"
    assert ChildProcess(["sh", "-c", "echo made; exit 3"], log).run_to_end() == 3
    assert log.read_text() == "made\n"
