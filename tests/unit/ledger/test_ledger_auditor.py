"""The offline auditor accepts an intact ledger and names the first altered record."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.ledger.auditor import VerifyReport, verify_ledger
from streams.ledger.checkpoint import Checkpoint, generate_private_key, sign_checkpoint
from streams.ledger.log import AuditLog
from streams.ledger.merkle import EMPTY_ROOT
from streams.ledger.records import LedgerRecord, canonical_json, record_digest

MakeRecord = Callable[[int], LedgerRecord]
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SignedLedger:
    records: list[bytes]
    checkpoints: list[Checkpoint]
    key: Ed25519PrivateKey


@pytest.fixture(scope="module")
def ledger_10k(signing_key: Ed25519PrivateKey, record_factory: MakeRecord) -> SignedLedger:
    """10,000 records with a checkpoint every 1,000."""
    log = AuditLog(signing_key)
    records: list[bytes] = []
    checkpoints: list[Checkpoint] = []
    for seq in range(10_000):
        records.append(log.append(record_factory(seq)))
        if log.size % 1_000 == 0:
            checkpoints.append(log.checkpoint(START + timedelta(seconds=seq)))
    return SignedLedger(records, checkpoints, signing_key)


def verify(ledger: SignedLedger, records: list[bytes] | None = None) -> VerifyReport:
    return verify_ledger(
        ledger.records if records is None else records,
        ledger.checkpoints,
        ledger.key.public_key(),
    )


def test_an_intact_ledger_verifies(ledger_10k: SignedLedger) -> None:
    report = verify(ledger_10k)
    assert report == VerifyReport(
        ok=True, records_checked=10_000, checkpoints_checked=10, verified_size=10_000
    )


def test_records_may_be_given_as_objects(
    signing_key: Ed25519PrivateKey, record_factory: MakeRecord
) -> None:
    log = AuditLog(signing_key)
    records = [record_factory(seq) for seq in range(25)]
    for record in records:
        log.append(record)
    checkpoint = log.checkpoint(START)
    report = verify_ledger(records, [checkpoint], signing_key.public_key())
    assert report.ok
    assert report.verified_size == 25


def test_single_byte_changes_deletions_and_swaps_are_named(ledger_10k: SignedLedger) -> None:
    rng = random.Random(20250301)
    size = len(ledger_10k.records)
    for trial in range(210):
        records = list(ledger_10k.records)
        kind = ("byte", "delete", "swap")[trial % 3]
        if kind == "byte":
            index = rng.randrange(size)
            changed = bytearray(records[index])
            position = rng.randrange(len(changed))
            changed[position] = (changed[position] + rng.randrange(1, 256)) % 256
            records[index] = bytes(changed)
        elif kind == "delete":
            index = rng.randrange(size)
            del records[index]
        else:
            index = rng.randrange(size - 1)
            other = rng.randrange(index + 1, min(size, index + rng.choice((2, 50, 5000))))
            records[index], records[other] = records[other], records[index]
        report = verify(ledger_10k, records)
        assert not report.ok, (kind, index)
        assert report.first_bad_index == index, (kind, index, report.reason)
        assert report.reason


def test_the_reason_says_what_happened(ledger_10k: SignedLedger) -> None:
    deleted = ledger_10k.records[:1500] + ledger_10k.records[1501:]
    report = verify(ledger_10k, deleted)
    assert report.first_bad_index == 1500
    assert report.reason == (
        "record 1500 has seq 1501: records are missing, duplicated or out of order"
    )
    assert report.verified_size == 1000
    assert report.checkpoints_checked == 1
    assert report.records_checked == 1500

    edited = list(ledger_10k.records)
    edited[4321] = edited[4321].replace(b"org-", b"org_")
    report = verify(ledger_10k, edited)
    assert report.first_bad_index == 4321
    assert report.reason is not None
    assert "digest" in report.reason


def test_a_duplicated_record_is_named_where_it_repeats(ledger_10k: SignedLedger) -> None:
    records = ledger_10k.records[:701] + ledger_10k.records[700:]
    assert verify(ledger_10k, records).first_bad_index == 701


def test_missing_records_at_the_end_are_named(ledger_10k: SignedLedger) -> None:
    report = verify(ledger_10k, ledger_10k.records[:9_990])
    assert not report.ok
    assert report.first_bad_index == 9_990
    assert report.bad_checkpoint == 9
    assert report.verified_size == 9_000


def test_a_rewritten_record_with_a_recomputed_digest_fails_its_checkpoint(
    ledger_10k: SignedLedger,
) -> None:
    members = json.loads(ledger_10k.records[2500])
    del members["digest"]
    members["org"] = "someone-else"
    members["digest"] = record_digest(canonical_json(members))
    records = list(ledger_10k.records)
    records[2500] = canonical_json(members)
    report = verify(ledger_10k, records)
    assert not report.ok
    assert report.first_bad_index == 2000
    assert report.bad_checkpoint == 2
    assert report.reason is not None
    assert "records 2000..2999" in report.reason


def test_a_forged_or_foreign_checkpoint_is_named(ledger_10k: SignedLedger) -> None:
    checkpoints = list(ledger_10k.checkpoints)
    checkpoints[4] = dataclasses.replace(checkpoints[4], tree_size=4_999)
    report = verify_ledger(ledger_10k.records, checkpoints, ledger_10k.key.public_key())
    assert (report.ok, report.bad_checkpoint, report.first_bad_index) == (False, 4, None)

    stranger = generate_private_key()
    checkpoints[4] = sign_checkpoint(stranger, 5_000, checkpoints[4].root_hash, START)
    report = verify_ledger(ledger_10k.records, checkpoints, ledger_10k.key.public_key())
    assert (report.ok, report.bad_checkpoint) == (False, 4)
    assert report.reason is not None
    assert "signed by key" in report.reason


def test_a_checkpoint_dated_before_a_smaller_one_is_refused(ledger_10k: SignedLedger) -> None:
    key = ledger_10k.key
    first, second = ledger_10k.checkpoints[:2]
    backdated = sign_checkpoint(
        key, second.tree_size, second.root_hash, first.timestamp - timedelta(seconds=1)
    )
    report = verify_ledger(ledger_10k.records[:2000], [first, backdated], key.public_key())
    assert (report.ok, report.bad_checkpoint) == (False, 1)


def test_checkpoints_may_come_in_any_order_and_repeat(ledger_10k: SignedLedger) -> None:
    checkpoints = [*reversed(ledger_10k.checkpoints), ledger_10k.checkpoints[3]]
    empty = sign_checkpoint(ledger_10k.key, 0, EMPTY_ROOT, START)
    report = verify_ledger(ledger_10k.records, [empty, *checkpoints], ledger_10k.key.public_key())
    assert report.ok
    assert report.checkpoints_checked == 12


def test_unsigned_tail_is_checked_but_not_covered(
    ledger_10k: SignedLedger, record_factory: MakeRecord
) -> None:
    log = AuditLog(ledger_10k.key)
    for raw in ledger_10k.records:
        log.append_bytes(raw)
    extra = log.append(record_factory(10_000))
    report = verify(ledger_10k, [*ledger_10k.records, extra])
    assert report.ok
    assert (report.records_checked, report.verified_size) == (10_001, 10_000)

    report = verify(ledger_10k, [*ledger_10k.records, extra.replace(b"org-", b"org+")])
    assert (report.ok, report.first_bad_index) == (False, 10_000)


def test_records_without_any_checkpoint_are_not_ok(
    signing_key: Ed25519PrivateKey, record_factory: MakeRecord
) -> None:
    records = [record_factory(seq).to_bytes() for seq in range(3)]
    report = verify_ledger(records, [], signing_key.public_key())
    assert not report.ok
    assert report.reason == "no signed checkpoint covers any of the 3 records"
    assert verify_ledger([], [], signing_key.public_key()).ok


def test_the_log_refuses_records_out_of_order(
    signing_key: Ed25519PrivateKey, record_factory: MakeRecord
) -> None:
    log = AuditLog(signing_key)
    log.append(record_factory(0))
    with pytest.raises(ValueError, match="seq 2 is not the next position 1"):
        log.append(record_factory(2))
    with pytest.raises(ValueError, match="seq 1"):
        log.append_bytes(record_factory(0).to_bytes())
