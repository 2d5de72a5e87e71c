"""Events on the audit ledger topic: appended records and signed checkpoints."""

from __future__ import annotations

from typing import Any

from services.contracts.envelope import EventPayload, register
from services.contracts.topics import AUDIT_LEDGER

LEDGER_KEY = "ledger"


@register
class LedgerRecordAppended(EventPayload):
    """One record appended at ``seq``: its canonical JSON and leaf hash (base64)."""

    event_type = "vn.vndx.audit.record.appended.v1"
    topic = AUDIT_LEDGER

    seq: int
    record: dict[str, Any]
    leaf_hash: str

    def aggregate_id(self) -> str:
        return LEDGER_KEY


@register
class CheckpointSigned(EventPayload):
    """A signed tree head: size, root hash (base64), time, Ed25519 signature."""

    event_type = "vn.vndx.audit.checkpoint.signed.v1"
    topic = AUDIT_LEDGER

    tree_size: int
    root_hash: str
    timestamp_ms: int
    signature: str
    key_id: str

    def aggregate_id(self) -> str:
        return LEDGER_KEY
