"""The embedded stack starts its services side by side and names the one that failed.

The services are stood in for (starting real ones is what tests/e2e and
tests/reliability do); what is checked here is the stack's own sequencing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vndx.embedded.ports import NotReadyError
from vndx.embedded.process import ChildProcess
from vndx.stack import EmbeddedStack, StackConfig

SERVICES = ("catalog", "pricing", "orders", "access", "audit")


class _StandIns(EmbeddedStack):
    """Each service 'starts' by waiting for all the others to be starting too."""

    def __init__(self, data_dir: Path, failing: str | None = None) -> None:
        super().__init__(StackConfig.on_free_ports(data_dir, services=SERVICES))
        self.all_starting = threading.Barrier(len(SERVICES), timeout=10)
        self.failing = failing
        self.started: list[str] = []

    def start_service(self, service: str) -> ChildProcess:
        self.all_starting.wait()  # broken (and raising) if the services start one by one
        if service == self.failing:
            raise NotReadyError(f"{service} did not answer its health check")
        self.started.append(service)
        return ChildProcess(["true"], self.log_dir / f"{service}.log")


def test_every_service_is_starting_before_any_has_answered(tmp_path: Path) -> None:
    stack = _StandIns(tmp_path)
    stack.start_services(SERVICES)
    assert sorted(stack.started) == sorted(SERVICES)


def test_a_service_that_does_not_come_up_is_named(tmp_path: Path) -> None:
    stack = _StandIns(tmp_path, failing="orders")
    with pytest.raises(NotReadyError, match="orders"):
        stack.start_services(SERVICES)
    assert sorted(stack.started) == sorted(set(SERVICES) - {"orders"})
