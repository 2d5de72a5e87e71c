"""Free loopback ports and waiting for a server to come up."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

LOOPBACK = "127.0.0.1"


class NotReadyError(RuntimeError):
    """A part did not become ready in time, or exited while starting."""


class ExitedWhileStartingError(NotReadyError):
    """The part's process ended before it was ready (often: a port was taken)."""


_FIRST_PORT = 20_000
_LAST_PORT = 32_768  # Linux's ephemeral range starts here (net.ipv4.ip_local_port_range)

# Every port this process has handed out. A port is chosen some time before its
# server binds it (a stack picks its services' ports, then starts the broker and
# SeaweedFS, which pick theirs): handing it out twice would let two of our own
# servers race for it, and the loser's health check be answered by the winner.
_handed_out: set[int] = set()
_HANDED_OUT_LIMIT = (_LAST_PORT - _FIRST_PORT) // 2


class PortInUseError(NotReadyError):
    """A port given by the caller is taken by another process."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on `host` that nothing listens on right now."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return `count` distinct free TCP ports on `host`.

    Ports are drawn at random below the kernel's ephemeral range (32768 and up
    on Linux), so that the local ends of outgoing connections — plentiful while
    a test suite runs — can never take a port between its choice and its use.
    No port is handed out twice by one process (until half the range has been),
    so ports chosen for servers not yet started cannot be chosen again meanwhile.
    The probe sockets stay open until all are chosen; another process may still
    take one afterwards, which is why the launchers retry with fresh ports.
    """
    rng = random.SystemRandom()
    if len(_handed_out) + count > _HANDED_OUT_LIMIT:
        _handed_out.clear()
    with ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            candidate = rng.randrange(_FIRST_PORT, _LAST_PORT)
            if candidate in ports or candidate in _handed_out:
                continue
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            ports.append(candidate)
        _handed_out.update(ports)
        return ports


def free_port_with_partner(offset: int, host: str = LOOPBACK) -> int:
    """A free port p with p + `offset` free as well (servers that derive one port from another)."""
    for _ in range(50):
        (candidate,) = free_ports(1, host)
        partner = candidate + offset
        if partner <= 65_535 and partner not in _handed_out and port_is_free(partner, host):
            _handed_out.add(partner)
            return candidate
    raise RuntimeError(f"found no free port p with p + {offset} free as well")


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a listening socket could be bound to `host:port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def accepts_tcp(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on `host:port` now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free_port(port: int, what: str, host: str = LOOPBACK) -> None:
    """Raise `PortInUseError` if something already listens on `host:port`."""
    if not port_is_free(port, host):
        raise PortInUseError(f"cannot start {what}: {host}:{port} is already in use")


def log_tail(log_file: Path | None, lines: int = 20) -> str:
    """The last `lines` lines of a log file, or a note that there is none."""
    if log_file is None:
        return "(no log file)"
    try:
        with log_file.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return f"(log file {log_file} does not exist)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log file {log_file} is empty)"


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    log_file: Path | None = None,
    alive: Callable[[], bool] | None = None,
    interval: float = 0.05,
) -> None:
    """Call `predicate` until it returns True; raise `NotReadyError` after `timeout` seconds.

    An exception from `predicate` counts as "not yet" and is named in the final
    error. When `alive` returns False the wait ends at once with
    `ExitedWhileStartingError`: there is no point waiting for a dead process.
    """
    deadline = time.monotonic() + timeout
    last_problem = "predicate never returned True"
    while True:
        try:
            # A predicate can be answered by whoever else holds the port while our
            # process is dying of "address in use": only a live process counts.
            if predicate() and (alive is None or alive()):
                return
        except Exception as error:
            last_problem = f"{type(error).__name__}: {error}"
        if alive is not None and not alive():
            raise ExitedWhileStartingError(
                f"{what} exited before it was ready ({last_problem}).\n"
                f"Last lines of its log:\n{log_tail(log_file)}"
            )
        if time.monotonic() >= deadline:
            raise NotReadyError(
                f"{what} was not ready after {timeout:g} s ({last_problem}).\n"
                f"Last lines of its log:\n{log_tail(log_file)}"
            )
        time.sleep(interval)
