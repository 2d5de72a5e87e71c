"""The ledger agent on a real (SQLite) store: order, once-only, proofs, checkpoints."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlmodel import col, select

from services.common.db import transaction
from services.common.outbox import OutboxRow
from services.common.settings import Settings
from streams.audit.checkpoints import latest_checkpoint, sign_if_due
from streams.audit.keys import ledger_signing_key
from streams.audit.tables import LedgerEntryRow
from streams.audit.tree import LedgerTree
from streams.ledger.auditor import verify_ledger
from streams.ledger.records import LedgerRecord
from streams.ledger.verify import verify_inclusion
from tests.unit.audit.audit_events import access_sequence, ids, order_paid, order_refunded, wrap
from tests.unit.audit.conftest import Apply


def stored(engine: Engine) -> list[LedgerEntryRow]:
    with transaction(engine) as session:
        return list(session.exec(select(LedgerEntryRow).order_by(col(LedgerEntryRow.seq))).all())


def test_each_event_becomes_one_record_in_order(engine: Engine, apply: Apply) -> None:
    envelopes = [wrap(p) for p in access_sequence("e2e")]
    for envelope in envelopes:
        apply(envelope)

    rows = stored(engine)
    assert [r.seq for r in rows] == [0, 1, 2, 3]
    assert [r.event_id for r in rows] == [e.id for e in envelopes]
    records = [LedgerRecord.from_bytes(r.record) for r in rows]
    assert [r.event_type for r in records] == [e.type for e in envelopes]
    assert records[1].data == envelopes[1].data
    assert {r.publisher_org for r in rows} == {"so-tnmt-da-nang"}  # learnt from GrantIssued


def test_redelivery_and_a_second_consumer_never_add_a_leaf(
    engine: Engine, apply: Apply, settings: Settings
) -> None:
    envelopes = [wrap(p) for p in access_sequence("redelivered")]
    for envelope in envelopes:
        apply(envelope)
    assert not any(apply(e) for e in envelopes)  # the inbox

    # Past the inbox (e.g. its row lost): the unique event id still holds.
    from streams.audit.agents import audit_handlers

    handlers = audit_handlers(settings)
    for envelope in envelopes:
        with transaction(engine) as session:
            handlers[envelope.type](session, envelope, envelope.payload())

    rows = stored(engine)
    assert [r.seq for r in rows] == [0, 1, 2, 3]
    with transaction(engine) as session:
        published = session.exec(
            select(OutboxRow).where(OutboxRow.event_type == "vn.vndx.audit.record.appended.v1")
        ).all()
    assert sorted(json.loads(r.envelope_json)["data"]["seq"] for r in published) == [0, 1, 2, 3]


def test_payments_and_refunds_are_recorded(engine: Engine, apply: Apply) -> None:
    listing, order, _ = ids("paid")
    apply(wrap(order_paid(listing, order)))
    apply(wrap(order_refunded(listing, order)))
    types = [LedgerRecord.from_bytes(r.record).event_type for r in stored(engine)]
    assert types == ["vn.vndx.orders.order.paid.v1", "vn.vndx.orders.order.refunded.v1"]


def test_checkpoints_and_proofs_verify(engine: Engine, apply: Apply, settings: Settings) -> None:
    key = ledger_signing_key(settings)
    tree = LedgerTree(engine)
    for label in ("a", "b", "c"):
        for payload in access_sequence(label):
            apply(wrap(payload))
        assert sign_if_due(engine, tree, key, every=4, interval_s=3600) is not None
    assert sign_if_due(engine, tree, key, every=4, interval_s=3600) is None  # nothing new

    rows = stored(engine)
    with transaction(engine) as session:
        latest = latest_checkpoint(session)
    assert latest is not None and latest.tree_size == 12
    for row in rows:
        proof = tree.inclusion_proof(row.seq, latest.tree_size)
        verify_inclusion(row.leaf_hash, row.seq, latest.tree_size, proof, latest.root_hash)

    from streams.audit.checkpoints import list_checkpoints

    with transaction(engine) as session:
        checkpoints = list_checkpoints(session)
    assert [c.tree_size for c in checkpoints] == [4, 8, 12]
    report = verify_ledger([r.record for r in rows], checkpoints, key.public_key())
    assert report.ok and report.verified_size == 12


def test_checkpoint_policy_waits_for_n_records_or_t_seconds(
    engine: Engine, apply: Apply, settings: Settings
) -> None:
    from datetime import timedelta

    key = ledger_signing_key(settings)
    tree = LedgerTree(engine)
    apply(wrap(access_sequence("first")[0]))
    first = sign_if_due(engine, tree, key, every=10, interval_s=60)
    assert first is not None and first.tree_size == 1  # the first record is signed at once
    apply(wrap(access_sequence("second")[0]))
    assert sign_if_due(engine, tree, key, every=10, interval_s=60, now=first.timestamp) is None
    later = first.timestamp + timedelta(seconds=61)
    signed = sign_if_due(engine, tree, key, every=10, interval_s=60, now=later)
    assert signed is not None and signed.tree_size == 2
