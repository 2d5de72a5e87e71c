"""Fixtures for the audit ledger tests: records, a signing key, the shared vectors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from streams.ledger.checkpoint import generate_private_key
from streams.ledger.records import LedgerRecord

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)

EVENT_TYPES = (
    "vn.vndx.access.grant.issued.v1",
    "vn.vndx.access.download.v1",
    "vn.vndx.access.query.v1",
    "vn.vndx.access.grant.expired.v1",
)


def make_record(seq: int) -> LedgerRecord:
    """A plausible access event at position `seq`."""
    return LedgerRecord(
        seq=seq,
        event_id=str(uuid.UUID(int=seq + 1)),
        event_type=EVENT_TYPES[seq % len(EVENT_TYPES)],
        occurred_at=START + timedelta(seconds=seq),
        recorded_at=START + timedelta(seconds=seq, milliseconds=40),
        org=f"org-{seq % 13}",
        listing_id=str(uuid.UUID(int=seq % 97 + 1000)),
        grant_id=str(uuid.UUID(int=seq // 5 + 5000)),
        order_id=None if seq % 3 else str(uuid.UUID(int=seq + 9000)),
        data={"rows": seq * 7 % 1000, "purpose": "nghiên cứu thị trường", "sandbox": seq % 2 == 0},
    )


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture(scope="session")
def record_factory() -> Callable[[int], LedgerRecord]:
    return make_record


@pytest.fixture
def vectors_dir(merkle_vectors_dir: Path) -> Path:
    return merkle_vectors_dir
