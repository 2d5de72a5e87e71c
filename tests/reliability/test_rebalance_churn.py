"""Consumers join and leave their groups every few seconds while buyers buy.

Replicas of pricing, orders and access (same database, same consumer group,
their own port) start and stop in turn — some politely (they leave the group),
some with SIGKILL (the group notices when their session runs out) — and the
audit service restarts, every ``CHURN_S`` seconds. Each change is a rebalance
of a group mid-load. Afterwards the end state is the one a run without churn
has: every order fulfilled with exactly one grant, its extract, one audit record
per event, nothing else.

The quick run (make test) makes four group changes over forty orders or more on
the shared stack; the slow run (make test-reliability) forty or more over five
hundred orders on its own stack.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.harness import FaultyStack, Market, until
from tests.reliability.invariants import check_purchases, unsettled

CHURN_S = 3.0
WINDOW = 40
REPLICATED = ("access", "orders", "pricing")


class Churn:
    """Starts and stops replicas (and restarts audit) in turn until stopped."""

    def __init__(self, stack: FaultyStack) -> None:
        self.stack = stack
        self.changes: list[str] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="churn", daemon=True)

    def __enter__(self) -> Churn:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(120)
        for name in list(self.stack.replicas):
            self.stack.stop_replica(name)

    def _run(self) -> None:
        turns = itertools.count()
        for service in itertools.cycle((*REPLICATED, "audit")):
            if self._stop.wait(CHURN_S):
                return
            turn = next(turns)
            try:
                self._change(service, turn)
            except Exception as exc:
                self.errors.append(f"{service}: {type(exc).__name__}: {exc}"[:300])

    def _change(self, service: str, turn: int) -> None:
        name = f"{service}-replica"
        if service == "audit":
            self.stack.restart("audit")
            self.changes.append("audit left and joined")
        elif name in self.stack.replicas:
            # A replica stops every second round of its own; alternate the two ways.
            crash = (turn // (2 * (len(REPLICATED) + 1))) % 2 == 0
            self.stack.stop_replica(name, kill=crash)
            self.changes.append(f"{name} {'killed' if crash else 'left'}")
        else:
            self.stack.start_replica(service, name)
            self.changes.append(f"{name} joined")


def _buy_through_churn(market: Market, orders: int, changes: int) -> None:
    """Buy at least ``orders`` while the groups change at least ``changes`` times."""
    stack = market.stack
    before = len(market.placed)
    with Churn(stack) as churn:
        while len(market.placed) - before < orders or len(churn.changes) < changes:
            if unsettled(stack) >= WINDOW:
                time.sleep(0.5)
                continue
            market.buy(8, concurrency=8)
        # Let the group changes go on while the last purchases settle, too.
        until("the last purchases to be paid", lambda: unsettled(stack) < WINDOW // 2, 300)
    print(f"{len(churn.changes)} group changes: {', '.join(churn.changes)}")
    assert churn.errors == []
    assert market.failures == []
    assert len(churn.changes) >= changes
    order_ids = {str(order["id"]) for order in market.placed[before:]}
    assert len(order_ids) >= orders
    until(
        "every purchase to settle after the churn",
        lambda: not check_purchases(stack, order_ids).problems,
        timeout=300,
        every=2,
    )
    final = check_purchases(stack, order_ids)
    assert final.problems == []
    assert final.grants.get("pending", 0) == final.grants.get("failed", 0) == 0


def test_consumers_joining_and_leaving_change_nothing(market: Market) -> None:
    _buy_through_churn(market, orders=40, changes=4)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_five_hundred_orders_through_churn(own_stack: FaultyStack, tmp_path: Path) -> None:
    market = Market(own_stack)
    market.publish(tmp_path)
    _buy_through_churn(market, orders=500, changes=40)
