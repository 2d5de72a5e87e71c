"""The live feed: server-sent events of the records a caller may see, resumable.

Each event is `id: <seq>`, `event: record` (or `alert` for usage-watch
alerts) and the record's JSON as `data`. A client that reconnects with
`Last-Event-ID: <seq>` (or `?after=<seq>`) continues right after it. `limit`
ends the stream after that many events (for scripts and tests).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from services.common.api import ApiError, current_principal
from services.common.auth import Principal
from services.common.db import reading
from streams.audit.api.deps import AuditContext, audit_context
from streams.audit.queries import MAX_SEQ, RecordFilter, page_records, record_view
from streams.audit.tables import LedgerEntryRow
from streams.audit.watch import ALERT_TYPE

router = APIRouter(prefix="/v1")
KEEPALIVE_S = 15.0


def _event(row: LedgerEntryRow) -> bytes:
    kind = "alert" if row.event_type == ALERT_TYPE else "record"
    data = json.dumps(record_view(row), ensure_ascii=False, separators=(",", ":"))
    return f"id: {row.seq}\nevent: {kind}\ndata: {data}\n\n".encode()


def _resume_point(last_event_id: str | None, after: int | None) -> int:
    if after is not None:
        return after
    if last_event_id is None or not last_event_id.strip():
        return -1
    try:
        value = int(last_event_id.strip())
    except ValueError as exc:
        raise ApiError(
            400, "invalid_request", "Last-Event-ID must be a record seq", field="Last-Event-ID"
        ) from exc
    if not -1 <= value <= MAX_SEQ:
        raise ApiError(
            400, "invalid_request", "Last-Event-ID must be a 64-bit seq", field="Last-Event-ID"
        )
    return value


@router.get("/audit/stream", tags=["audit"])
async def stream(
    request: Request,
    caller: Annotated[Principal, Depends(current_principal)],
    context: Annotated[AuditContext, Depends(audit_context)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    after: Annotated[int | None, Query(ge=-1, le=MAX_SEQ)] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    type: str | None = None,
    grant: str | None = None,
) -> StreamingResponse:
    """Follow the ledger live (server-sent events)."""
    start = _resume_point(last_event_id, after)
    wanted = RecordFilter(type=type, grant=grant)

    def fetch(cursor: int, count: int) -> list[LedgerEntryRow]:
        with reading(context.engine) as session:
            return page_records(session, caller, wanted, after=cursor, limit=count)

    async def events() -> AsyncIterator[bytes]:
        cursor, sent = start, 0
        quiet_since = time.monotonic()
        yield b"retry: 2000\n\n"
        while limit is None or sent < limit:
            want = 500 if limit is None else min(500, limit - sent)
            rows = await asyncio.to_thread(fetch, cursor, want)
            for row in rows:
                yield _event(row)
                cursor, sent = row.seq, sent + 1
            if rows:
                quiet_since = time.monotonic()
                continue
            if await request.is_disconnected():
                return
            if time.monotonic() - quiet_since > KEEPALIVE_S:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(context.feed_poll_s)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
