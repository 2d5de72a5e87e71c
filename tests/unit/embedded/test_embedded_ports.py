"""Free-port discovery and waiting for readiness."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vndx.embedded.ports import (
    ExitedWhileStartingError,
    NotReadyError,
    PortInUseError,
    free_port,
    free_port_with_partner,
    free_ports,
    log_tail,
    port_is_free,
    require_free_port,
    wait_for,
)


def test_free_port_can_be_bound_on_loopback() -> None:
    port = free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
    assert 1024 <= port <= 65535


def test_free_ports_are_distinct() -> None:
    ports = free_ports(12)
    assert len(set(ports)) == 12


def test_a_port_is_never_handed_out_twice_before_its_server_binds_it() -> None:
    # A stack chooses its services' ports, then the broker and SeaweedFS choose
    # theirs while nothing listens on the first ones yet: 400 draws from 12,768
    # ports would repeat one nearly every time if they were independent.
    chosen = [free_port() for _ in range(300)] + free_ports(100)
    assert len(set(chosen)) == len(chosen)


def test_a_port_with_a_partner_keeps_the_partner_from_being_handed_out() -> None:
    port = free_port_with_partner(10)
    assert port_is_free(port + 10)
    assert port + 10 not in free_ports(1_000)


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_is_free(port)
        with pytest.raises(PortInUseError, match=f"Tansu: 127.0.0.1:{port} is already in use"):
            require_free_port(port, "Tansu")
    assert port_is_free(port)


def test_wait_for_returns_once_the_predicate_holds() -> None:
    answers = iter([False, False, True])
    wait_for(lambda: next(answers), timeout=5, what="the thing", interval=0.001)


def test_wait_for_names_what_did_not_come_up_and_shows_its_log(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("starting\nbind: address in use\n")

    def refuse() -> bool:
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(NotReadyError) as raised:
        wait_for(refuse, timeout=0.05, what="Tansu on 127.0.0.1:1", log_file=log, interval=0.01)
    message = str(raised.value)
    assert "Tansu on 127.0.0.1:1 was not ready" in message
    assert "ConnectionRefusedError: connection refused" in message
    assert "bind: address in use" in message


def test_wait_for_stops_at_once_when_the_process_is_gone(tmp_path: Path) -> None:
    with pytest.raises(ExitedWhileStartingError, match="exited before it was ready"):
        wait_for(lambda: False, timeout=60, what="weed", alive=lambda: False)


def test_a_dead_process_is_not_ready_even_if_someone_answers() -> None:
    with pytest.raises(ExitedWhileStartingError):
        wait_for(lambda: True, timeout=60, what="tansu", alive=lambda: False)


def test_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)))
    assert log_tail(log, lines=2) == "line 98\nline 99"
    assert "does not exist" in log_tail(tmp_path / "missing.log")
    assert log_tail(None) == "(no log file)"
