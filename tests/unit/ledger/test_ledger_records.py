"""Ledger records serialise canonically and every byte of them is checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from streams.ledger.records import (
    LedgerRecord,
    RecordError,
    canonical_json,
    quick_check,
    record_digest,
)

MakeRecord = Callable[[int], LedgerRecord]


def test_canonical_json_follows_rfc8785() -> None:
    assert canonical_json({"b": 1, "a": [True, None, 1.5e30], "é": "đ"}) == (
        '{"a":[true,null,1.5e+30],"b":1,"é":"đ"}'.encode()
    )
    assert canonical_json({"n": 10.0}) == b'{"n":10}'
    with pytest.raises(ValueError, match="canonicalisable"):
        canonical_json({"when": datetime.now(UTC)})


def test_record_bytes_are_canonical_json_with_a_digest_of_the_rest(
    record_factory: MakeRecord,
) -> None:
    raw = record_factory(42).to_bytes()
    members = json.loads(raw)
    assert canonical_json(members) == raw
    assert list(members) == sorted(members)
    assert list(members)[-1] == "seq"
    digest = members.pop("digest")
    assert digest == record_digest(canonical_json(members))
    assert members["seq"] == 42
    assert members["occurred_at"] == "2025-03-01T08:00:42.000000Z"
    assert members["recorded_at"] == "2025-03-01T08:00:42.040000Z"


def test_bytes_round_trip(record_factory: MakeRecord) -> None:
    record = record_factory(7)
    assert LedgerRecord.from_bytes(record.to_bytes()) == record


def test_times_are_stored_in_utc() -> None:
    hanoi = timezone(timedelta(hours=7))
    record = LedgerRecord(
        seq=0,
        event_id="e",
        event_type="t",
        occurred_at=datetime(2025, 1, 1, 7, 0, tzinfo=hanoi),
        recorded_at=datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
    )
    assert record.occurred_at == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    assert record.occurred_at.utcoffset() == timedelta(0)
    assert b'"occurred_at":"2025-01-01T00:00:00.000000Z"' in record.to_bytes()


@pytest.mark.parametrize(
    "change",
    [
        {"occurred_at": datetime(2025, 1, 1)},
        {"seq": -1},
        {"data": {"bad": float("nan")}},
        {"data": {"bad": object()}},
        {"unknown": "field"},
    ],
)
def test_invalid_records_are_refused(change: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "seq": 0,
        "event_id": "e",
        "event_type": "t",
        "occurred_at": datetime(2025, 1, 1, tzinfo=UTC),
        "recorded_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    with pytest.raises(ValidationError):
        LedgerRecord.model_validate(fields | change)


def test_records_are_immutable(record_factory: MakeRecord) -> None:
    record = record_factory(1)
    with pytest.raises(ValidationError):
        record.seq = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw.replace(b'"seq":5', b'"seq": 5'), "canonical form"),
        (lambda raw: raw.replace(b"org-5", b"org-6"), "does not match the record's content"),
        (lambda raw: raw[:-1], "not valid UTF-8 JSON"),
        (lambda raw: b"[]", "not a JSON object"),
        (lambda raw: raw.replace(b'"digest":"', b'"digests":"'), "digest member is missing"),
        (lambda raw: raw.replace(b'"org":', b'"orgs":'), "Extra inputs"),
        (lambda raw: raw.replace(b'"seq":5', b'"seq":"5"'), "canonical form"),
    ],
)
def test_from_bytes_says_what_is_wrong(
    record_factory: MakeRecord, mutate: Callable[[bytes], bytes], message: str
) -> None:
    raw = mutate(record_factory(5).to_bytes())
    with pytest.raises(RecordError, match=message):
        LedgerRecord.from_bytes(raw)


def test_quick_check_accepts_a_record_at_its_seq_only(record_factory: MakeRecord) -> None:
    raw = record_factory(123).to_bytes()
    assert quick_check(raw, 123)
    assert not quick_check(raw, 124)
    assert not quick_check(raw, 12)


def test_quick_check_catches_every_single_byte_change(record_factory: MakeRecord) -> None:
    raw = record_factory(321).to_bytes()
    for position in range(len(raw)):
        for delta in (1, 0x80):
            changed = bytearray(raw)
            changed[position] = (changed[position] + delta) % 256
            assert not quick_check(bytes(changed), 321), (position, delta)


def test_quick_check_is_not_fooled_by_a_digest_key_inside_data() -> None:
    record = LedgerRecord(
        seq=3,
        event_id="e",
        event_type="t",
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        recorded_at=datetime(2025, 1, 1, tzinfo=UTC),
        data={"a": 1, "digest": "x" * 44, "seq": 3},
    )
    raw = record.to_bytes()
    assert quick_check(raw, 3)
    assert not quick_check(raw.replace(b'"a":1', b'"a":2'), 3)
