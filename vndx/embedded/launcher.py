"""What every embedded launcher shares: one server child, started until ready, then stopped.

`Tansu`, `SeaweedS3` and `Postgres` subclass `Launcher`: each builds its own
command line and readiness check, and extends `stop()` for its own cleanup.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from vndx.embedded.ports import free_port, require_free_port
from vndx.embedded.process import ChildProcess, start_until_ready

T = TypeVar("T")


def known_once_started(value: T | None, missing: str) -> T:
    """`value`, or a `RuntimeError` saying that `missing` ("Tansu has no port") until started."""
    if value is None:
        raise RuntimeError(f"{missing} until it is started")
    return value


def port_for_attempt(attempt: int, *, fixed: int | None, previous: int | None, what: str) -> int:
    """The port launch `attempt` listens on: the caller's (if still free), else a free one.

    The first attempt keeps `previous` so that a restart keeps its address;
    a retry draws a fresh port, the last one having probably been taken.
    """
    if fixed is not None:
        require_free_port(fixed, what)
        return fixed
    if attempt > 0 or previous is None:
        return free_port()
    return previous


class Launcher:
    """One server child process writing to `log_file`, also usable as a context manager."""

    def __init__(self, log_file: Path, *, start_timeout: float) -> None:
        self.log_file = log_file
        self.start_timeout = start_timeout
        self._process: ChildProcess | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.running

    @property
    def pid(self) -> int | None:
        """Process id of the server while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        raise NotImplementedError

    def _start_until_ready(
        self,
        launch: Callable[[int], ChildProcess],
        ready: Callable[[], bool],
        *,
        describe: Callable[[], str],
        retry_when_exited: bool,
    ) -> None:
        """Launch until `ready()`, within `start_timeout` seconds per attempt."""
        self._process = start_until_ready(
            launch,
            ready,
            describe=describe,
            timeout=self.start_timeout,
            log_file=self.log_file,
            retry_when_exited=retry_when_exited,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: politely, then after `timeout` s by killing its process group."""
        if self._process is not None:
            self._process.stop(timeout)
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
