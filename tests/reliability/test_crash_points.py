"""Services killed (SIGKILL) at every crash point while buyers keep buying.

One service at a time is armed with a crash point and a probability; it kills
itself there, the supervisor restarts it without faults, and the next point is
armed once the buyers have placed their share of the orders, so that the kills
are spread over the whole run. Afterwards every paid order has exactly one
grant, one fulfilment and one audit record per grant event, and extracts and
grants match one to one.

Buyers keep at most ``WINDOW`` orders unsettled: the stack builds an extract
per grant much more slowly than buyers can order, and an unbounded backlog is
what kept the first version of the slow run from ever finishing (thousands of
pending grants when the last kill fired). A buyer refused for good is recorded,
not allowed to stop the load silently.

The quick run (make test) kills a few times over about forty orders; the slow
run (make test-reliability) kills fifty times over a thousand orders. The
Stripe crash point (between the Stripe call and recording its id) needs card
buyers and Stripe as the payment provider: ``test_stripe_crash_point.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from pathlib import Path

import pytest

from services.common import faults
from tests.reliability.harness import FaultyStack, Market, Supervisor, until
from tests.reliability.invariants import check_purchases, unsettled

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
#: Most orders placed but not yet fulfilled at any time.
WINDOW = 40


def _crash_while_buying(market: Market, orders: int, kills: int) -> None:
    stack = market.stack
    before = len(market.placed)
    schedule = list(itertools.islice(itertools.cycle(CRASHES), kills))
    share = max(1, orders // kills)
    kills_done = threading.Event()

    def placed() -> int:
        return len(market.placed) - before

    def keep_buying() -> None:
        while not (kills_done.is_set() and placed() >= orders):
            if unsettled(stack) >= WINDOW:
                time.sleep(0.5)
                continue
            market.buy(8, concurrency=8)

    buyer = threading.Thread(target=keep_buying, name="buyers", daemon=True)
    missed: list[tuple[str, str]] = []
    with Supervisor(stack) as supervisor:
        buyer.start()
        try:
            for index, (service, point, probability) in enumerate(schedule, start=1):
                share_placed = (index - 1) * share
                until(
                    f"the buyers to place their share before kill {index}",
                    lambda: placed() >= share_placed or not buyer.is_alive(),  # noqa: B023
                    timeout=600,
                    every=0.5,
                )
                # Killed while starting: the supervisor counts it and restarts it clean.
                with contextlib.suppress(Exception):
                    stack.restart(service, f"{point}:{probability}")
                if not supervisor.wait_for_kill(index - len(missed), timeout=120):
                    missed.append((service, point))
                    stack.restart(service)
                print(f"kill {index}/{kills}: {service} at {point}; {placed()} orders placed")
        finally:
            kills_done.set()
            buyer.join(900)
        until("the supervisor to finish restarting", lambda: not stack.dead(), 60)
    assert not buyer.is_alive(), "the buyers never finished"
    assert market.failures == []
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
    print(f"{len(order_ids)} orders, {len(supervisor.kills)} kills: every invariant holds")


def test_a_few_kills_lose_and_double_nothing(market: Market) -> None:
    _crash_while_buying(market, orders=40, kills=3)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fifty_kills_over_a_thousand_orders(own_stack: FaultyStack, tmp_path: Path) -> None:
    market = Market(own_stack)
    market.publish(tmp_path)
    _crash_while_buying(market, orders=1000, kills=50)
