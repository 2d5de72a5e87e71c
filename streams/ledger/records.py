"""The ledger's canonical record: one audit event as RFC 8785 canonical JSON.

The bytes of a record, as hashed into the Merkle tree, are the RFC 8785
(JCS) serialisation of an object with these members:

    data         object    event payload (any JSON values)
    digest       string    base64 SHA-256 of this same object's canonical
                           JSON without the `digest` member
    event_id, event_type   strings
    grant_id, listing_id, order_id, org
                 string or null
    occurred_at, recorded_at
                 string    UTC, "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always 6 digits)
    seq          integer   0, 1, 2, ... position in the ledger

Every member is always present. The `digest` adds no security (anyone who
edits a record can recompute it; the signed Merkle root is the protection):
it makes each record self-checking, so that an auditor can name the altered
record instead of only the checkpoint range that fails. Because JCS sorts
keys, `digest` is always the second member and `seq` the last, which lets
`quick_check` test both without parsing the JSON.
"""

from __future__ import annotations

import json
import math
from base64 import b64encode
from datetime import UTC, datetime
from hashlib import sha256
from typing import Annotated, Any

import rfc8785
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

_DIGEST_OPENING = b',"digest":"'
_DIGEST_LENGTH = 44  # base64 of 32 bytes, with padding


class RecordError(ValueError):
    """Bytes that are not a well-formed, canonical, self-consistent ledger record."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of `value` (dicts, lists, str, int, float, bool, None)."""
    if _written_alike(value):
        try:
            return json.dumps(
                value, ensure_ascii=False, sort_keys=True, separators=(",", ":")
            ).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 names the error
    try:
        result: bytes = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ValueError(f"not canonicalisable as JSON: {exc}") from exc
    return result


_SAFE_INTEGER = 2**53 - 1


def _written_alike(value: Any) -> bool:
    """Whether the standard `json` module writes `value` byte for byte as RFC 8785 does.

    So it does (sorted keys, no spaces, UTF-8, the same string escapes) for
    dicts with ASCII keys (UTF-16 and code point order agree), lists,
    strings, booleans, None, integers a double holds exactly and floats
    written without exponent or trailing ".0"; anything else is left to
    `rfc8785` (several times slower, being pure Python).
    """
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if -_SAFE_INTEGER <= item <= _SAFE_INTEGER:
                continue
            return False
        if kind is float:
            # Both write the shortest digits that round-trip; they differ only
            # in exponents, integral values ("1.0" against "1"), -0, nan, inf.
            written = repr(item)
            if "e" in written or written.endswith(".0") or not math.isfinite(item):
                return False
            continue
        if kind is dict:
            if not all(type(key) is str and key.isascii() for key in item):
                return False
            pending.extend(item.values())
        elif kind is list:
            pending.extend(item)
        else:
            return False
    return True


def format_time(moment: datetime) -> str:
    """The record's time format: UTC with microseconds and a Z."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_time, return_type=str),
]


class LedgerRecord(BaseModel):
    """One audit event at position `seq` of the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0)
    event_id: str
    event_type: str
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime
    org: str | None = None
    listing_id: str | None = None
    grant_id: str | None = None
    order_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _data_is_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        canonical_json(value)
        return value

    def to_bytes(self) -> bytes:
        """The canonical bytes of this record, `digest` included (see module docstring)."""
        members = self.model_dump(mode="json")
        data = canonical_json(members.pop("data"))
        # JCS writes members in key order joined by commas; "data" < "digest"
        # < every other key, so the two leading members can be spliced in.
        head = b'{"data":' + data
        rest = canonical_json(members)[1:]
        digest = record_digest(head + b"," + rest)
        return head + _DIGEST_OPENING + digest.encode("ascii") + b'",' + rest

    @classmethod
    def from_bytes(cls, raw: bytes) -> LedgerRecord:
        """Parse and check stored bytes: valid record, canonical form, matching digest."""
        try:
            members = json.loads(raw)
        except ValueError as exc:
            raise RecordError(f"not valid UTF-8 JSON: {exc}") from exc
        if not isinstance(members, dict):
            raise RecordError("not a JSON object")
        stored_digest = members.pop("digest", None)
        if not isinstance(stored_digest, str):
            raise RecordError("digest member is missing or not a string")
        try:
            record = cls.model_validate(members)
        except ValidationError as exc:
            raise RecordError(f"not a valid ledger record: {_first_problem(exc)}") from exc
        try:
            canonical = record.to_bytes()
        except ValueError as exc:
            raise RecordError(str(exc)) from exc
        if canonical != raw:
            expected = json.loads(canonical)["digest"]
            if expected != stored_digest:
                raise RecordError(
                    f"digest {stored_digest!r} does not match the record's content "
                    f"(expected {expected!r})"
                )
            raise RecordError("not in canonical form (RFC 8785)")
        return record


def quick_check(raw: bytes, seq: int) -> bool:
    """True when `raw` carries `seq` and a digest matching its content.

    A few microseconds, no JSON parsing: it relies on the layout `to_bytes`
    writes, where the top-level `,"digest":"` is the last one in the bytes (no
    later member can hold an unescaped quote) and `seq` ends the object. Any
    single changed byte fails it; `LedgerRecord.from_bytes` says why.
    """
    start = raw.rfind(_DIGEST_OPENING)
    if start < 0:
        return False
    digest_start = start + len(_DIGEST_OPENING)
    digest_end = digest_start + _DIGEST_LENGTH
    if raw[digest_end : digest_end + 2] != b'",':
        return False
    body = raw[: start + 1] + raw[digest_end + 2 :]
    if b64encode(sha256(body).digest()) != raw[digest_start:digest_end]:
        return False
    seq_member = raw.rfind(b'"seq":')
    if seq_member < 0 or not raw.endswith(b"}"):
        return False
    return raw[seq_member + len(b'"seq":') : -1] == str(seq).encode("ascii")


def record_digest(canonical_without_digest: bytes) -> str:
    """Base64 SHA-256 of a record's canonical JSON without its digest member."""
    return b64encode(sha256(canonical_without_digest).digest()).decode("ascii")


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "record"
    return f"{where}: {problem['msg']}"
