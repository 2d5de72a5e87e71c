"""The broker stops and comes back empty: nothing is lost, nothing is doubled.

Tansu (memory storage) is stopped while purchases are in flight and more orders
are placed while it is gone; it starts again on the same port with no topics
and no messages. The services reconnect by themselves (same processes), and
``vndx outbox replay --since`` republishes from the durable outboxes what the
broker lost; the inboxes make the replay issue no second grant and append no
second audit record.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

from services.common.kafka import ensure_topics
from services.contracts.topics import all_topics_with_dlq
from tests.reliability.harness import Market, run_cli, until
from tests.reliability.invariants import check_purchases, rows


def test_an_emptied_broker_is_refilled_from_the_outboxes(market: Market) -> None:
    stack = market.stack
    since = datetime.now(UTC) - timedelta(seconds=1)
    before = len(market.placed)
    pids = {name: proc.pid for name, proc in stack.processes.items()}

    market.buy(16)
    stack.tansu.stop()
    while_down = threading.Thread(target=market.buy, args=(8,))
    while_down.start()
    while_down.join()
    stack.tansu.start()
    asyncio.run(ensure_topics(stack.tansu.bootstrap_servers, all_topics_with_dlq()))

    output = run_cli(stack, "outbox", "replay", "--since", since.isoformat())
    assert "orders" in output and "access" in output

    order_ids = {str(order["id"]) for order in market.placed[before:]}
    assert len(order_ids) == 24
    until(
        "every purchase to settle after the broker came back",
        lambda: not check_purchases(stack, order_ids).problems,
        timeout=180,
        every=2,
    )
    assert {name: proc.pid for name, proc in stack.processes.items()} == pids
    ledger = check_purchases(stack, order_ids).ledger_size
    # A second replay of everything changes nothing: every consumer's inbox holds it.
    run_cli(stack, "outbox", "replay", "--since", since.isoformat())
    until("the relays to publish the replay", lambda: _backlog(market) == 0, timeout=60)
    final = check_purchases(stack, order_ids)
    assert final.problems == []
    assert final.ledger_size == ledger


def _backlog(market: Market) -> int:
    return sum(
        int(
            rows(
                market.stack.data_dir / f"{name}.db",
                "SELECT count(*) FROM outbox WHERE published_at IS NULL",
            )[0][0]
        )
        for name in ("orders", "access", "audit")
    )
