"""Routes of the audit API: records, proofs, checkpoints, public key, KPIs."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from services.common.api import ApiError, current_principal, not_found
from services.common.auth import Principal
from services.common.db import reading
from streams.audit import kpis
from streams.audit.api.deps import AuditContext, audit_context
from streams.audit.checkpoints import checkpoint_of_size, latest_checkpoint, list_checkpoints
from streams.audit.queries import (
    MAX_SEQ,
    RecordFilter,
    page_records,
    record_view,
    visible_record,
)
from streams.ledger.checkpoint import Checkpoint, key_id, public_key_to_pem

router = APIRouter(prefix="/v1")

Caller = Annotated[Principal, Depends(current_principal)]
Context = Annotated[AuditContext, Depends(audit_context)]
MAX_PAGE = 1000


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _checkpoint_view(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    return None if checkpoint is None else checkpoint.to_dict()


@router.get("/audit/records", tags=["audit"])
def list_records(
    caller: Caller,
    context: Context,
    org: str | None = None,
    listing: str | None = None,
    grant: str | None = None,
    type: Annotated[
        str | None,
        Query(description="full type or short name, e.g. grant.issued; several comma-separated"),
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[
        int, Query(ge=-1, le=MAX_SEQ, description="page cursor: records with seq > after")
    ] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Page through the records the caller may see, oldest first."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, "invalid_request", f"{name} must carry a timezone", field=name)
    wanted = RecordFilter(
        org=org, listing=listing, grant=grant, type=type, since=since, until=until
    )
    with reading(context.engine) as session:
        rows = page_records(session, caller, wanted, after=after, limit=limit)
    items = [record_view(row) for row in rows]
    return {"items": items, "next_after": rows[-1].seq if len(rows) == limit else None}


@router.get("/audit/records/{seq}", tags=["audit"])
def get_record(
    caller: Caller, context: Context, seq: Annotated[int, Path(ge=0, le=MAX_SEQ)]
) -> dict[str, Any]:
    with reading(context.engine) as session:
        row = visible_record(session, caller, seq)
    if row is None:
        raise not_found(f"record {seq}")
    return record_view(row)


@router.get("/audit/records/{seq}/proof", tags=["audit"])
def inclusion_proof(
    caller: Caller,
    context: Context,
    seq: Annotated[int, Path(ge=0, le=MAX_SEQ)],
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_SEQ)] = None,
) -> dict[str, Any]:
    """Inclusion proof of record `seq` in the tree of `tree_size` records.

    By default the latest checkpoint's size when it covers the record, else the current size.
    """
    with reading(context.engine) as session:
        row = visible_record(session, caller, seq)
        latest = latest_checkpoint(session)
    if row is None:
        raise not_found(f"record {seq}")
    size = context.tree.sync()
    if tree_size is None:
        tree_size = latest.tree_size if latest and seq < latest.tree_size else size
    if not seq < tree_size <= size:
        raise ApiError(
            422,
            "invalid_request",
            f"tree_size must be above {seq} and at most the ledger's size {size}",
            field="tree_size",
        )
    with reading(context.engine) as session:
        checkpoint = checkpoint_of_size(session, tree_size)
    return {
        "seq": seq,
        "tree_size": tree_size,
        "leaf_hash": _b64(context.tree.leaf(seq)),
        "proof": [_b64(h) for h in context.tree.inclusion_proof(seq, tree_size)],
        "root_hash": _b64(context.tree.root(tree_size)),
        "checkpoint": _checkpoint_view(checkpoint),
    }


@router.get("/audit/consistency", tags=["audit"])
def consistency_proof(
    _caller: Caller,
    context: Context,
    from_size: Annotated[int, Query(alias="from", ge=1, le=MAX_SEQ)],
    to_size: Annotated[int, Query(alias="to", ge=1, le=MAX_SEQ)],
) -> dict[str, Any]:
    """Consistency proof between the trees of `from` and `to` records (e.g. two checkpoints)."""
    size = context.tree.sync()
    if to_size > size:
        raise ApiError(
            422, "invalid_request", f"to must be at most the ledger's size {size}", field="to"
        )
    if from_size > to_size:
        raise ApiError(422, "invalid_request", "from must not exceed to", field="from")
    with reading(context.engine) as session:
        older = checkpoint_of_size(session, from_size)
        newer = checkpoint_of_size(session, to_size)
    return {
        "from": from_size,
        "to": to_size,
        "proof": [_b64(h) for h in context.tree.consistency_proof(from_size, to_size)],
        "from_root": _b64(context.tree.root(from_size)),
        "to_root": _b64(context.tree.root(to_size)),
        "from_checkpoint": _checkpoint_view(older),
        "to_checkpoint": _checkpoint_view(newer),
    }


@router.get("/audit/checkpoints/latest", tags=["audit"])
def get_latest_checkpoint(_caller: Caller, context: Context) -> dict[str, Any]:
    with reading(context.engine) as session:
        checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise not_found("checkpoint (none signed yet)")
    return checkpoint.to_dict()


@router.get("/audit/checkpoints", tags=["audit"])
def get_checkpoints(
    _caller: Caller,
    context: Context,
    after_size: Annotated[int, Query(ge=-1, le=MAX_SEQ)] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> dict[str, Any]:
    """Every checkpoint with tree size above `after_size`, smallest first."""
    with reading(context.engine) as session:
        checkpoints = list_checkpoints(session, after_size=after_size, limit=limit)
    items = [c.to_dict() for c in checkpoints]
    return {
        "items": items,
        "next_after_size": items[-1]["tree_size"] if len(items) == limit else None,
    }


@router.get("/audit/public-key", tags=["audit"])
def get_public_key(context: Context) -> dict[str, str]:
    """The Ed25519 key that signs checkpoints (PEM) and its key id."""
    return {
        "algorithm": "Ed25519",
        "key_id": key_id(context.public_key).hex(),
        "pem": public_key_to_pem(context.public_key).decode("ascii"),
    }


@router.get("/kpis", tags=["kpis"])
def get_kpis(
    _caller: Caller,
    context: Context,
    period: Literal["day", "month"] = "day",
    dimension: Literal["agency", "theme", "province"] = "agency",
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Windowed figures per day or month for each agency, theme or province."""
    if start and end and start > end:
        raise ApiError(422, "invalid_request", "from must not be after to", field="from")
    with reading(context.engine) as session:
        rows = kpis.kpi_table(session, period=period, dimension=dimension, start=start, end=end)
    return {"period": period, "dimension": dimension, "items": rows}
