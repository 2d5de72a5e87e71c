"""The portal: server-rendered pages for buyers, providers, regulators and operators.

It owns no database: every figure comes from the other services' HTTP APIs,
called with the signed-in person's token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.middleware.gzip import GZipMiddleware

from services.common.api import install_health
from services.common.settings import WEAK_SECRETS, InsecureProductionSettings, Settings
from services.portal.assets import install_assets
from services.portal.backends import Backends
from services.portal.errors import error_page, install_page_errors
from services.portal.i18n import Catalogs
from services.portal.pages import buyer, kpis, operator, provider, public, regulator, signin
from services.portal.session import SessionCodec
from services.portal.web import Portal, portal_middleware


def _session_secret(settings: Settings) -> str:
    secret = settings.session_secret.get_secret_value()
    if settings.env == "production" and (secret.lower() in WEAK_SECRETS or len(secret) < 32):
        raise InsecureProductionSettings(
            "production mode refuses default or missing settings: "
            "VNDX_SESSION_SECRET (32+ random characters)"
        )
    return secret


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service_name="portal")
    settings.check_production_secrets()
    portal = Portal(
        settings=settings,
        backends=Backends.create(settings),
        catalogs=Catalogs.load(),
        codec=SessionCodec(_session_secret(settings)),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await portal.backends.close()

    app = FastAPI(title="vndx portal", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.portal = portal
    install_health(app, {})
    app.middleware("http")(portal_middleware)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    install_page_errors(app)

    async def invalid(request: Request, _exc: Exception) -> Response:
        return error_page(request, 422)

    app.add_exception_handler(RequestValidationError, invalid)
    install_assets(app)
    for module in (public, signin, buyer, provider, regulator, kpis, operator):
        app.include_router(module.router)
    return app
