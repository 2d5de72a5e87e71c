"""One embedded stack (real processes) shared by the quick reliability tests.

Tests that break things (kill services, empty the broker) leave the stack
running and consistent again before they end; the slow tests start their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.harness import FaultyStack, Market, start_stack


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyStack]:
    running = start_stack(tmp_path_factory.mktemp("reliability"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def market(shared_stack: FaultyStack, tmp_path_factory: pytest.TempPathFactory) -> Market:
    """A published small listing on the shared stack, already bought once."""
    shared = Market(shared_stack)
    shared.publish(tmp_path_factory.mktemp("listing"))
    return shared


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[FaultyStack]:
    running = start_stack(tmp_path / "stack")
    yield running
    running.stop()
