"""The access service's FastAPI app and its lifespan (relay, consumers, builder, sweeper)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import FastAPI

from services.access import handlers
from services.access.adapters.extract_cache import ExtractCache
from services.access.adapters.extracts import ExtractStore, public_url_signer
from services.access.adapters.orm import ACCESS_TABLES
from services.access.adapters.raw_cache import RawFileCache
from services.access.api.agreement_routes import router as agreement_router
from services.access.api.routes import router
from services.access.consumers import consumer_specs
from services.common.api import install_error_handlers, install_health
from services.common.auth import TokenVerifier
from services.common.objectstore import ObjectStore
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, load_settings
from services.common.wakeup import Wakeup

#: This service's Alembic revisions.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"

log = logging.getLogger(__name__)


async def _every(interval_s: float, name: str, jobs: list[Callable[[], object]]) -> None:
    """Run ``jobs`` in a thread every ``interval_s``; a failing job is retried next round."""
    while True:
        for job in jobs:
            try:
                await asyncio.to_thread(job)
            except Exception:
                log.warning("access %s job failed; will retry", name, exc_info=True)
        await asyncio.sleep(interval_s)


async def _build_when_woken(
    ctx: handlers.AccessContext, builds: Wakeup, pool: ThreadPoolExecutor, interval_s: float
) -> None:
    """Build pending grants as soon as a consumer commits one, else every ``interval_s``."""
    builds.bind()
    while True:
        builds.clear()
        try:
            await asyncio.to_thread(handlers.build_pending, ctx, pool)
        except Exception:
            log.warning("access builder failed; will retry", exc_info=True)
        await builds.wait(interval_s)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(service_name="access")
    builds = Wakeup()  # an order.paid consumed, or a listing version learnt
    runtime = ServiceRuntime(
        settings,
        ACCESS_TABLES,
        consumer_specs(settings.iri_base),
        migrations=MIGRATIONS,
        wake_after_consuming=[builds.set],
    )
    store = ObjectStore.from_settings(settings)
    work_root = settings.data_dir / "access-work"
    ctx = handlers.AccessContext(
        engine=runtime.engine,
        extracts=ExtractStore(
            store,
            work_root,
            signer=public_url_signer(settings),
            cache=ExtractCache(settings.extract_cache_bytes, settings.extract_cache_entry_bytes),
            raw_files=RawFileCache(store, work_root / "raw-cache", settings.raw_cache_bytes),
        ),
        settings=settings,
        wake_relay=runtime.relay.wake,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier(
            settings.public_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        await runtime.start()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(store.ensure_bucket)
        pool = ThreadPoolExecutor(settings.grant_build_workers, thread_name_prefix="grant-build")
        workers = [
            asyncio.create_task(
                _build_when_woken(ctx, builds, pool, settings.grant_build_poll_interval_s),
                name="grant-builder",
            ),
            asyncio.create_task(
                _every(
                    settings.expiry_sweep_interval_s,
                    "sweeper",
                    [lambda: handlers.expire_due(ctx), lambda: handlers.purge_closed(ctx)],
                ),
                name="grant-sweeper",
            ),
        ]
        try:
            yield
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            pool.shutdown(wait=False, cancel_futures=True)
            await runtime.stop()

    app = FastAPI(
        title="vndx access",
        version="1",
        description="Grants of paid access: anonymised extracts, presigned downloads, "
        "sandbox queries, expiry and revocation.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.access = ctx
    install_error_handlers(app)

    install_health(app, runtime.readiness_checks(store))
    app.include_router(router)
    app.include_router(agreement_router)
    return app
