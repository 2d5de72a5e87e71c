"""The audit service: the ledger worker (faust agent + checkpointer) and the regulators' API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from services.common.api import install_error_handlers, install_health
from services.common.auth import TokenVerifier
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, load_settings
from streams.audit.agents import GROUP_ID, audit_handlers
from streams.audit.api import feed, routes
from streams.audit.api.deps import AuditContext
from streams.audit.batches import BatchApplier
from streams.audit.checkpoints import Checkpointer
from streams.audit.faust_app import AuditWorker
from streams.audit.keys import ledger_signing_key
from streams.audit.ledger_store import ensure_head
from streams.audit.tables import AUDIT_TABLES
from streams.audit.tree import LedgerTree

#: This service's Alembic revisions.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(service_name="audit")
    runtime = ServiceRuntime(settings, AUDIT_TABLES, migrations=MIGRATIONS)
    applier = BatchApplier(
        runtime.engine,
        GROUP_ID,
        audit_handlers(settings),
        max_event_bytes=settings.max_event_bytes,
    )
    runtime.external_consumers.append((GROUP_ID, applier.stats))
    worker = AuditWorker(
        settings,
        applier,
        runtime.publisher,
        after_commit=runtime.relay.wake,
        faults=runtime.faults,
    )
    signing_key = ledger_signing_key(settings)
    tree = LedgerTree(runtime.engine)
    checkpointer = Checkpointer(
        runtime.engine,
        tree,
        signing_key,
        every=settings.audit_checkpoint_every,
        interval_s=settings.audit_checkpoint_interval_s,
        on_signed=runtime.relay.wake,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier(
            settings.public_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        await asyncio.to_thread(runtime.migrate)
        await asyncio.to_thread(ensure_head, runtime.engine)
        await runtime.start()
        await worker.start()
        signer = asyncio.create_task(checkpointer.run(), name="audit-checkpointer")
        try:
            yield
        finally:
            signer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await signer
            await worker.stop()
            await runtime.stop()

    app = FastAPI(
        title="vndx audit",
        version="1",
        description="The verifiable audit ledger (RFC 6962), its proofs and signed checkpoints; KPIs.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.checkpointer = checkpointer
    app.state.worker = worker
    app.state.audit = AuditContext(
        engine=runtime.engine, tree=tree, public_key=signing_key.public_key()
    )
    install_error_handlers(app)

    install_health(app, runtime.readiness_checks())
    app.include_router(routes.router)
    app.include_router(feed.router)
    return app
