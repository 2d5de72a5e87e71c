"""Services killed (SIGKILL) at every crash point while buyers keep buying.

One service at a time is armed with a crash point and a probability; it kills
itself there, the supervisor restarts it without faults, and the next point is
armed. Afterwards every paid order has exactly one grant, one fulfilment and one
audit record per grant event, and extracts and grants match one to one.

The quick run (make test) kills a few times over about fifty orders; the slow run
kills fifty times over more than a thousand orders.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common import faults
from tests.reliability.harness import FaultyStack, Market, Supervisor, start_stack, until
from tests.reliability.invariants import check_purchases

#: (service, crash point, probability per pass through the point)
CRASHES = (
    ("access", faults.CONSUMER_AFTER_EFFECT, 0.2),
    ("access", faults.EXTRACT_MID_UPLOAD, 0.3),
    ("orders", faults.OUTBOX_AFTER_COMMIT, 0.3),
    ("audit", faults.CONSUMER_AFTER_EFFECT, 0.1),
    ("access", faults.OUTBOX_AFTER_PUBLISH, 0.3),
    ("orders", faults.CONSUMER_AFTER_EFFECT, 0.2),
    ("access", faults.OUTBOX_AFTER_COMMIT, 0.3),
    ("orders", faults.OUTBOX_AFTER_PUBLISH, 0.3),
    ("audit", faults.OUTBOX_AFTER_COMMIT, 0.3),
    ("audit", faults.OUTBOX_AFTER_PUBLISH, 0.3),
)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[FaultyStack]:
    running = start_stack(tmp_path / "stack")
    yield running
    running.stop()


def _crash_while_buying(stack: FaultyStack, workdir: Path, orders: int, kills: int) -> None:
    market = Market(stack)
    market.publish(workdir)
    schedule = list(itertools.islice(itertools.cycle(CRASHES), kills))
    done = threading.Event()

    def keep_buying() -> None:
        while not done.is_set() or len(market.placed) < orders:
            market.buy(8, concurrency=8)

    buyer = threading.Thread(target=keep_buying, name="buyers")
    with Supervisor(stack) as supervisor:
        buyer.start()
        missed: list[tuple[str, str]] = []
        for index, (service, point, probability) in enumerate(schedule, start=1):
            # Killed while starting: the supervisor counts it and restarts it clean.
            with contextlib.suppress(Exception):
                stack.restart(service, f"{point}:{probability}")
            if not supervisor.wait_for_kill(index - len(missed), timeout=90):
                missed.append((service, point))
                stack.restart(service)
        done.set()
        buyer.join()
        until("the supervisor to finish restarting", lambda: not stack.dead(), 60)
    assert not missed, f"these crash points never fired: {missed}"
    assert len(supervisor.kills) >= kills
    assert all(kill.returncode == -9 for kill in supervisor.kills)
    order_ids = {str(order["id"]) for order in market.placed}
    assert len(order_ids) >= orders

    def settled() -> bool:
        return not check_purchases(stack, order_ids).problems

    try:
        until("every purchase to settle", settled, timeout=300, every=2)
    finally:
        snapshot = check_purchases(stack, order_ids)
    assert snapshot.problems == []
    assert snapshot.grants == {"issued": len(order_ids)}


def test_a_few_kills_lose_and_double_nothing(stack: FaultyStack, tmp_path: Path) -> None:
    _crash_while_buying(stack, tmp_path, orders=50, kills=5)


@pytest.mark.slow
def test_fifty_kills_over_a_thousand_orders(stack: FaultyStack, tmp_path: Path) -> None:
    _crash_while_buying(stack, tmp_path, orders=1000, kills=50)
