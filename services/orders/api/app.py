"""The orders service's FastAPI app and its lifespan (relay, consumers, periodic work)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi import FastAPI

from services.common.api import install_error_handlers, install_health
from services.common.auth import TokenVerifier
from services.common.settings import Settings, load_settings
from services.orders import handlers
from services.orders.api import payments, routes, statements
from services.orders.bootstrap import build

log = logging.getLogger(__name__)
RESUME_AFTER = timedelta(seconds=30)


async def periodic_work(ctx: handlers.OrdersContext, interval_s: float) -> None:
    """Re-read cached listing terms, expire unpaid orders, reject requests undecided past
    their deadline, finish online refunds, reopen payments a crash left unopened."""
    while True:
        await asyncio.sleep(interval_s)
        for job in (
            handlers.refresh_listings,
            handlers.expire_overdue,
            handlers.reject_undecided,
            handlers.complete_refunds,
        ):
            try:
                await asyncio.to_thread(job, ctx)
            except Exception:
                log.warning(
                    "orders periodic job %s failed; will retry", job.__name__, exc_info=True
                )
        try:
            await asyncio.to_thread(handlers.resume_openings, ctx, RESUME_AFTER)
        except Exception:
            log.warning("could not reopen pending payments; will retry", exc_info=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(service_name="orders")
    runtime, ctx = build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier(
            settings.public_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        # Requests wait on the order writer in worker threads: enough threads for a batch.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=64, thread_name_prefix="orders")
        )
        await runtime.start()
        worker = asyncio.create_task(periodic_work(ctx, settings.orders_sweep_interval_s))
        try:
            yield
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            await runtime.stop()
            await asyncio.to_thread(ctx.writer.close)

    app = FastAPI(
        title="vndx orders",
        version="1",
        description="Orders from signed quotes; payments by Stripe or the local provider; "
        "settlement statements.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.orders = ctx
    webhook_secret = settings.stripe_webhook_secret
    app.state.stripe_webhook_secret = (
        webhook_secret.get_secret_value() if webhook_secret is not None else None
    )
    install_error_handlers(app)

    install_health(app, runtime.readiness_checks())
    app.include_router(routes.router)
    app.include_router(payments.router)
    app.include_router(statements.router)
    return app
