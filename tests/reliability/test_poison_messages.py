"""Poison messages go to ``<topic>.dlq`` with the reason; consumers keep going.

A malformed record, an event of an unknown version and an oversized one are put
on ``orders.orders`` (read by access and audit). Each group parks each of them
with ``vndx_dlq_reason`` and ``vndx_dlq_origin``, a purchase made afterwards
still completes, ``vndx dlq list`` shows them and ``vndx dlq replay`` puts a
parked event back on its topic, where the inboxes skip what was applied.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from aiokafka import AIOKafkaProducer

from services.common.events import KafkaRecord, to_record
from services.common.kafka import DLQ_ORIGIN_HEADER, DLQ_REASON_HEADER, KafkaPublisher
from services.contracts.envelope import Envelope
from services.contracts.topics import ORDERS_ORDERS
from tests.reliability.harness import MAX_EVENT_BYTES, Market, metric, run_cli, until
from tests.reliability.invariants import check_purchases, rows
from vndx.commands.dlq import DeadLetter, read_dead_letters

GROUPS_READING_ORDERS = {"access", "audit"}


def _produce(bootstrap: str, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2_000_000)
        await producer.start()
        try:
            for key, value, headers in records:
                await producer.send_and_wait(ORDERS_ORDERS, value, key=key, headers=headers)
        finally:
            await producer.stop()

    asyncio.run(send())


def _unknown_version(paid: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    future = paid.model_copy(
        update={"id": str(uuid.uuid4()), "type": "vn.vndx.orders.order.paid.v9"}
    )
    record = to_record(ORDERS_ORDERS, future)
    return record.key or b"", record.value, record.headers


def _letters(market: Market) -> list[DeadLetter]:
    return asyncio.run(read_dead_letters(market.stack.settings(), [f"{ORDERS_ORDERS}.dlq"]))


def test_poison_is_parked_with_its_reason_and_the_consumers_go_on(market: Market) -> None:
    stack = market.stack
    bootstrap = stack.tansu.bootstrap_servers
    paid_json = rows(
        stack.data_dir / "orders.db",
        "SELECT envelope_json FROM outbox WHERE event_type LIKE '%order.paid%' LIMIT 1",
    )[0][0]
    paid = Envelope.model_validate_json(paid_json)
    unknown = _unknown_version(paid)
    malformed_key = uuid.uuid4().hex.encode()
    oversized = json.dumps({"padding": "x" * (MAX_EVENT_BYTES + 10)}).encode()
    already = len(_letters(market))
    _produce(
        bootstrap,
        [
            (malformed_key, b"\x00not an event{", [("ce_type", b"garbage")]),
            unknown,
            (b"big", oversized, [("ce_id", b"oversized-1")]),
        ],
    )

    def parked() -> list[DeadLetter] | None:
        letters = _letters(market)[already:]
        return letters if len(letters) >= 3 * len(GROUPS_READING_ORDERS) else None

    letters = until("the poison to be dead-lettered", parked, timeout=60)
    by_reason = {letter.reason.split(":")[0] for letter in letters}
    assert {"malformed", "unknown version", "oversized"} <= by_reason
    origins = {letter.header(DLQ_ORIGIN_HEADER).split("/")[-1] for letter in letters}
    assert origins == GROUPS_READING_ORDERS
    assert all(letter.origin_topic == ORDERS_ORDERS for letter in letters)

    order = market.buy_once()
    assert order is not None
    until(
        "a purchase after the poison to settle",
        lambda: not check_purchases(stack, {str(order["id"])}).problems,
        timeout=60,
    )

    listing = run_cli(stack, "dlq", "list", "--topic", ORDERS_ORDERS)
    assert f"{len(letters) + already} dead letters" in listing
    assert unknown[2] and paid.id not in listing


def test_a_replayed_dead_letter_is_applied_once(market: Market) -> None:
    stack = market.stack
    paid_json = rows(
        stack.data_dir / "orders.db",
        "SELECT envelope_json FROM outbox WHERE event_type LIKE '%order.paid%' LIMIT 1",
    )[0][0]
    paid = Envelope.model_validate_json(paid_json)
    parked = to_record(ORDERS_ORDERS, paid)
    headers = [
        *parked.headers,
        (DLQ_REASON_HEADER, b"handler failed 3 times: database locked"),
        (DLQ_ORIGIN_HEADER, f"{ORDERS_ORDERS}/0/0/access".encode()),
    ]

    async def park() -> None:
        publisher = KafkaPublisher(stack.settings())
        try:
            await publisher.publish(
                [KafkaRecord(f"{ORDERS_ORDERS}.dlq", parked.key, parked.value, headers)]
            )
        finally:
            await publisher.stop()

    asyncio.run(park())
    on_topic = _copies(market, paid.id)
    before = check_purchases(stack, set())
    skipped = metric(stack, "access", "vndx_consumer_duplicates_total")
    output = run_cli(stack, "dlq", "replay", "--topic", ORDERS_ORDERS, "--event-id", paid.id)
    assert "1 dead letters published again" in output
    until(
        "the replayed event to be on its topic again",
        lambda: _copies(market, paid.id) > on_topic,
        timeout=30,
    )
    until(
        "access to skip the replayed event",
        lambda: metric(stack, "access", "vndx_consumer_duplicates_total") > skipped,
        timeout=30,
    )
    after = check_purchases(stack, set())
    assert after.grants == before.grants
    assert after.ledger_size == before.ledger_size
    assert after.problems == []


def _copies(market: Market, event_id: str) -> int:
    """How many records of ``event_id`` the topic holds (read raw: poison sits there too)."""
    records = asyncio.run(read_dead_letters(market.stack.settings(), [ORDERS_ORDERS]))
    return sum(1 for record in records if record.event_id == event_id)
