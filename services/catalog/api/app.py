"""The catalog service's FastAPI app and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from services.catalog.adapters.orm import CATALOG_TABLES
from services.catalog.adapters.search import install_search_index
from services.catalog.api.routes import router
from services.catalog.handlers import CatalogContext
from services.common.api import install_error_handlers, install_health
from services.common.auth import TokenVerifier
from services.common.objectstore import ObjectStore
from services.common.runtime import ServiceRuntime
from services.common.settings import Settings, load_settings

#: This service's Alembic revisions.
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings(service_name="catalog")
    runtime = ServiceRuntime(settings, CATALOG_TABLES, migrations=MIGRATIONS)
    store = ObjectStore.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = TokenVerifier(
            settings.public_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        await runtime.start()
        await asyncio.to_thread(install_search_index, runtime.engine)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(store.ensure_bucket)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="vndx catalog",
        version="1",
        description="Listings of government datasets: metadata, classified schemas, versions, search.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.catalog = CatalogContext(
        engine=runtime.engine,
        store=store,
        wake_relay=runtime.relay.wake,
        inspection_threshold=settings.inspection_threshold,
        inspection_sample_rows=settings.inspection_sample_rows,
    )
    install_error_handlers(app)

    install_health(app, runtime.readiness_checks(store))
    app.include_router(router)
    return app
