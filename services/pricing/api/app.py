"""The pricing service's FastAPI app and its lifespan.

On start: create the tables, activate the shipped default policy if none exists, then
run the outbox relay and the catalog consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from services.common.api import install_error_handlers, install_health
from services.common.auth import TokenVerifier
from services.common.db import make_engine
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, load_settings
from services.pricing.adapters.keys import load_quote_key
from services.pricing.adapters.orm import PRICING_TABLES
from services.pricing.api.routes import router
from services.pricing.consumers import consumer_specs
from services.pricing.context import PricingContext
from services.pricing.policy_handlers import ensure_default_policy

#: This service's Alembic revisions.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(service_name="pricing")
    engine = make_engine(settings.resolved_database_url)
    ctx = PricingContext(engine=engine, quote_key=load_quote_key(settings))
    runtime = ServiceRuntime(
        settings, PRICING_TABLES, consumer_specs(ctx), engine=engine, migrations=MIGRATIONS
    )
    ctx.wake_relay = runtime.relay.wake

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier(
            settings.public_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        await asyncio.to_thread(runtime.migrate)
        await asyncio.to_thread(ensure_default_policy, ctx)
        await runtime.start()
        try:
            yield
        finally:
            await ctx.writer.stop()
            await runtime.stop()

    app = FastAPI(
        title="vndx pricing",
        version="1",
        description="The valuation and fee policy, dataset valuations and signed quotes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.pricing = ctx
    install_error_handlers(app)

    install_health(app, runtime.readiness_checks())
    app.include_router(router)
    return app
