"""HTTP conventions shared by every service: errors, authentication, health.

Errors are JSON ``{"error": {"code", "message", "field"?, "line"?, ...}}`` with a
4xx status that says what is wrong and where; validation errors list each field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.auth import AuthError, Principal, Role, TokenVerifier
from services.common.guards import install_guards
from services.common.observability import install_observability
from services.common.settings import Settings


class ApiError(Exception):
    """A refusal with a status, a stable code and a message naming the fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.line = line
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.line is not None:
            error["line"] = self.line
        error.update(self.extra)
        return {"error": error}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _api_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _validation_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": _field_path(err.get("loc", ())), "message": err.get("msg", "invalid")}
        for err in exc.errors()
    ]
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    body = {
        "error": {
            "code": "invalid_request",
            "message": f"{first['field']}: {first['message']}",
            "field": first["field"],
            "errors": errors,
        }
    }
    return JSONResponse(body, status_code=422)


async def _http_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
    return JSONResponse(
        {"error": {"code": code.get(exc.status_code, "http_error"), "message": str(exc.detail)}},
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)


_bearer = HTTPBearer(auto_error=False, description="Bearer JWT from `vndx token` or OIDC")


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


# The dependencies below are async on purpose: they only verify a signature, and a
# sync dependency would cost a worker-thread hop per request.
async def optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    if credentials is None:
        return None
    try:
        return _verifier(request).verify(credentials.credentials)
    except AuthError as exc:
        raise ApiError(
            401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise ApiError(
            401,
            "unauthorized",
            "a bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only the given roles (403 otherwise)."""

    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if principal.role not in roles:
            raise ApiError(
                403,
                "forbidden",
                f"role {principal.role!r} may not do this; needs one of {', '.join(roles)}",
            )
        return principal

    return dependency


ReadinessCheck = Callable[[], Awaitable[None]]


def install_health(app: FastAPI, checks: dict[str, ReadinessCheck]) -> None:
    """``/healthz`` and ``/readyz``, plus ``/metrics``, JSON logs and trace context.

    Observability comes with health so that every service has it; call this after
    ``app.state.settings`` and ``app.state.runtime`` are set.
    """
    if not hasattr(app.state, "metrics_registry"):
        settings = getattr(app.state, "settings", None)
        install_observability(app, settings.service_name if settings else app.title)
    settings = getattr(app.state, "settings", None)
    if isinstance(settings, Settings) and not getattr(app.state, "guarded", False):
        install_guards(app, settings)  # body size, per-organisation rates, deadline, outages
        app.state.guarded = True

    # The name lets a launcher tell its own service from whatever else took the port.
    service_name = settings.service_name if isinstance(settings, Settings) else app.title

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service_name}

    @app.get("/readyz", tags=["health"], include_in_schema=False)
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                ok = False
                results[name] = f"unavailable: {type(exc).__name__}"
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": results},
            status_code=200 if ok else 503,
            headers=None if ok else {"Retry-After": "5"},
        )
