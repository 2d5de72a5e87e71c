"""Who sees which ledger records: regulators all, buyers and providers their own."""

from __future__ import annotations

from sqlalchemy import Engine

from services.common.auth import Principal
from services.common.db import transaction
from streams.audit.queries import RecordFilter, page_records, visible_record
from tests.unit.audit.audit_events import BUYER, OTHER_BUYER, PUBLISHER, access_sequence, wrap
from tests.unit.audit.conftest import Apply


def seqs(engine: Engine, principal: Principal, wanted: RecordFilter | None = None) -> list[int]:
    with transaction(engine) as session:
        return [r.seq for r in page_records(session, principal, wanted or RecordFilter())]


def test_each_party_sees_its_own_entries(engine: Engine, apply: Apply) -> None:
    for payload in access_sequence("mine", buyer=BUYER) + access_sequence(
        "theirs", buyer=OTHER_BUYER
    ):
        apply(wrap(payload))

    assert seqs(engine, Principal("r", "bo-tt", "regulator")) == list(range(8))
    assert seqs(engine, Principal("b", BUYER, "buyer")) == [0, 1, 2, 3]
    assert seqs(engine, Principal("b", OTHER_BUYER, "buyer")) == [4, 5, 6, 7]
    assert seqs(engine, Principal("p", PUBLISHER, "provider")) == list(range(8))
    assert seqs(engine, Principal("p", "another-agency", "provider")) == []
    with transaction(engine) as session:
        assert visible_record(session, Principal("b", BUYER, "buyer"), 5) is None
        assert visible_record(session, Principal("b", OTHER_BUYER, "buyer"), 5) is not None


def test_filters(engine: Engine, apply: Apply) -> None:
    mine = access_sequence("mine", buyer=BUYER)
    for payload in mine + access_sequence("theirs", buyer=OTHER_BUYER):
        apply(wrap(payload))
    regulator = Principal("r", "bo-tt", "regulator")
    grant = mine[0].model_dump()["grant_id"]
    assert seqs(engine, regulator, RecordFilter(grant=grant)) == [0, 1, 2, 3]
    assert seqs(engine, regulator, RecordFilter(type="grant.revoked")) == [3, 7]
    assert seqs(engine, regulator, RecordFilter(org=OTHER_BUYER)) == [4, 5, 6, 7]
    assert seqs(
        engine, regulator, RecordFilter(type="vn.vndx.access.grant.issued.v1", org=BUYER)
    ) == [0]
