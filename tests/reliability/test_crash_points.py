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
from pathlib import Path

import pytest

from services.common import faults
from tests.reliability.harness import FaultyStack, Market, Supervisor, until
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


def _crash_while_buying(market: Market, orders: int, kills: int) -> None:
    stack = market.stack
    before = len(market.placed)
    schedule = list(itertools.islice(itertools.cycle(CRASHES), kills))
    done = threading.Event()

    def keep_buying() -> None:
        while not done.is_set() or len(market.placed) - before < orders:
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
            print(
                f"kill {index}/{len(schedule)}: {service} at {point}; {len(market.placed)} orders"
            )
        done.set()
        buyer.join()
        until("the supervisor to finish restarting", lambda: not stack.dead(), 60)
    assert not missed, f"these crash points never fired: {missed}"
    assert len(supervisor.kills) >= kills
    assert all(kill.returncode == -9 for kill in supervisor.kills)
    order_ids = {str(order["id"]) for order in market.placed[before:]}
    assert len(order_ids) >= orders

    def settled() -> bool:
        return not check_purchases(stack, order_ids).problems

    try:
        until("every purchase to settle", settled, timeout=300, every=2)
    finally:
        snapshot = check_purchases(stack, order_ids)
    assert snapshot.problems == []
    assert snapshot.grants.get("pending", 0) == snapshot.grants.get("failed", 0) == 0


def test_a_few_kills_lose_and_double_nothing(market: Market) -> None:
    _crash_while_buying(market, orders=40, kills=3)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fifty_kills_over_a_thousand_orders(own_stack: FaultyStack, tmp_path: Path) -> None:
    market = Market(own_stack)
    market.publish(tmp_path)
    _crash_while_buying(market, orders=1000, kills=50)
