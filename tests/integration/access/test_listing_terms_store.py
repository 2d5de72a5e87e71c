"""Listing terms, agreements and terminations stored on SQLite and PostgreSQL alike.

The consumer's and the builder's steps run against a fresh database of each kind:
a listing's terms replace the older ones, ``min_k`` only raises k, the agreement
is stored canonical (its bytes hash to the recorded SHA-256) and the grant view's
facts come back by id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import event
from sqlmodel import select

from services.access import handlers, listing_terms
from services.access.adapters.orm import ACCESS_TABLES, GrantRow
from services.access.domain import PrivacyTargets
from services.access.domain.grant import Grant, MeasuredPrivacy
from services.common import usage_policy
from services.common.db import create_tables, make_engine, reading, transaction
from services.contracts._base import RevenueSplit
from services.contracts.orders import OrderPaid
from tests.listing_snapshots import bare_snapshot

NOW = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)
IRI = "https://vndx.example"


def _paid(listing_id: str, policy: str) -> OrderPaid:
    return OrderPaid(
        order_id=str(uuid.uuid4()),
        buyer_org="lab",
        listing_id=listing_id,
        quote_id=str(uuid.uuid4()),
        publisher_org="gso",
        listing_version=1,
        product="download",
        duration_days=30,
        total=1_100_000,
        currency="VND",
        split=RevenueSplit(
            platform_fee=100_000, agency_share=800_000, budget_share=100_000, vat=100_000
        ),
        payment_provider="local",
        paid_at=NOW,
        purpose="education",
        policy_sha256=policy,
    )


def test_terms_agreement_and_termination_round_trip(database_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine, ACCESS_TABLES)
    listing_id, grant_id = str(uuid.uuid4()), str(uuid.uuid4())
    defaults = PrivacyTargets(k=5)
    try:
        with transaction(engine) as session:
            listing_terms.remember_terms(session, bare_snapshot(listing_id, min_k=3))
        with transaction(engine) as session:
            assert listing_terms.targets_for(session, listing_id, defaults).k == 5
            newer = bare_snapshot(listing_id, min_k=9, min_group_size=40, buyer_may_terminate=False)
            listing_terms.remember_terms(session, newer)
        with transaction(engine) as session:
            assert listing_terms.targets_for(session, listing_id, defaults).k == 9
            assert listing_terms.sandbox_threshold(session, listing_id, defaults) == 40
            assert listing_terms.buyer_may_terminate(session, listing_id) is False
            unknown = str(uuid.uuid4())
            assert listing_terms.sandbox_threshold(session, unknown, defaults) == 5
            policy = usage_policy.policy_sha256(usage_policy.offer(newer, IRI))
            listing_terms.remember_order(session, grant_id, _paid(listing_id, policy))

        grant = Grant(
            id=grant_id,
            order_id="o",
            listing_id=listing_id,
            listing_version=1,
            publisher_org="gso",
            buyer_org="lab",
            product="download",
            duration_days=30,
            created_at=NOW,
        )
        grant.issue(MeasuredPrivacy(9, None, 0.0, 0.1), 10, [], NOW)
        with transaction(engine) as session:
            made = listing_terms.make_agreement(session, grant, IRI)
        with transaction(engine) as session:
            stored = listing_terms.grant_terms(session, grant_id)
            assert stored is not None and stored.agreement_json is not None
            assert hashlib.sha256(stored.agreement_json.encode()).hexdigest() == made.sha256
            document = json.loads(stored.agreement_json)
            assert document["vndx:acceptedOffer"] == policy and made.purpose == "education"
            assert listing_terms.agreement_facts(session, [grant_id, "other"]) == {
                grant_id: ("education", made.sha256)
            }
            later = NOW + timedelta(days=3)
            listing_terms.record_termination(session, grant_id, "mic", "regulator", "full", later)
        with transaction(engine) as session:
            ended = listing_terms.grant_terms(session, grant_id)
            assert ended is not None and (ended.refund, ended.terminated_by_role) == (
                "full",
                "regulator",
            )
            at = ended.terminated_at
            assert at is not None
            assert (at if at.tzinfo else at.replace(tzinfo=UTC)) == later
    finally:
        engine.dispose()


def test_a_batch_of_paid_orders_opens_one_grant_each_written_together(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    create_tables(engine, ACCESS_TABLES)
    listing_id = str(uuid.uuid4())
    orders = [_paid(listing_id, "0" * 64) for _ in range(5)]
    grant_inserts: list[str] = []

    def count_grant_inserts(_c: object, _cur: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO GRANTS "):
            grant_inserts.append(statement)

    event.listen(engine, "before_cursor_execute", count_grant_inserts)
    try:
        with transaction(engine) as session:
            for paid in [*orders, orders[2]]:  # one order delivered twice in the batch
                handlers.open_grant(session, paid, NOW, iri_base=IRI)
        with reading(engine) as session:
            stored = session.exec(select(GrantRow.order_id, GrantRow.status)).all()
        assert sorted(stored) == sorted((paid.order_id, "pending") for paid in orders)
        # A lookup in the batch does not flush the grants opened before it one by one.
        assert len(grant_inserts) == 1
    finally:
        engine.dispose()
