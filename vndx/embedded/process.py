"""A server child process: output to a log file, stopped politely and then firmly.

Each child runs in its own session (process group) so that a firm stop also
takes down anything it forked (PostgreSQL backends, for one). Children still
running when the interpreter exits are stopped by an `atexit` hook, so a test
run that forgets one does not leave it behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from vndx.embedded.ports import ExitedWhileStartingError, wait_for

#: Variables the children may see; anything else (proxies, S3_BUCKET,
#: LISTENER_URL, PGDATA, ...) could silently change how a server starts.
_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")

_running: set[ChildProcess] = set()
_running_lock = threading.Lock()


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A small, predictable environment for a server child."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.setdefault("LANG", "C.UTF-8")
    env["NO_COLOR"] = "1"
    if extra:
        env.update(extra)
    return env


class ChildProcess:
    """One server process whose stdout and stderr go to `log_file`."""

    def __init__(
        self,
        argv: Sequence[str],
        log_file: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.argv = list(argv)
        self.log_file = log_file
        self.env = dict(env) if env is not None else child_environment()
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def running(self) -> bool:
        return self.is_alive()

    def is_alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen is not None else None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.argv[0]} is already running (pid {self.pid})")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user is not None else None,
            )
        with _running_lock:
            _running.add(self)

    def run_to_end(self) -> int:
        """Start, wait until the process ends, return its exit code (a one-shot tool's run).

        An interrupted wait (Ctrl-C, say) stops the process rather than leave it running.
        """
        self.start()
        try:
            assert self._popen is not None
            return self._popen.wait()
        finally:
            self.stop()

    def stop(self, timeout: float = 10.0) -> int | None:
        """Send the stop signal, wait up to `timeout` s, then SIGKILL the whole group.

        Returns the exit code (negative for a signal), or None if never started.
        """
        popen = self._popen
        if popen is None:
            return None
        try:
            if popen.poll() is None:
                popen.send_signal(self.stop_signal)
                try:
                    popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    _kill_group(popen.pid)
                    popen.wait()
            # The leader is gone; stragglers it forked would be orphans.
            _kill_group(popen.pid)
            return popen.returncode
        finally:
            with _running_lock:
                _running.discard(self)


def start_until_ready(
    launch: Callable[[int], ChildProcess],
    is_ready: Callable[[], bool],
    *,
    describe: Callable[[], str],
    timeout: float,
    log_file: Path,
    retry_when_exited: bool,
    attempts: int = 3,
) -> ChildProcess:
    """Launch (attempt 0, 1, ...) until a process becomes ready; stop the ones that do not.

    A process that exits while starting has usually lost a race for a port
    chosen as free, so with `retry_when_exited` the next attempt gets another
    launch (which should choose fresh ports). Timeouts are not retried.
    """
    for attempt in range(attempts):
        process = launch(attempt)
        try:
            wait_for(
                is_ready,
                timeout,
                describe(),
                log_file=log_file,
                alive=process.is_alive,
            )
            return process
        except ExitedWhileStartingError:
            process.stop()
            if not retry_when_exited or attempt == attempts - 1:
                raise
        except BaseException:
            process.stop()
            raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _stop_all_at_exit() -> None:
    with _running_lock:
        leftovers = list(_running)
    for child in leftovers:
        child.stop(timeout=5.0)


atexit.register(_stop_all_at_exit)
