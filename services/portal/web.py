"""Per-request plumbing: language, session, security headers, rendering, CSRF.

Every page goes through ``render``; every form handler reads its fields with
``checked_form``, which refuses a request whose CSRF token does not match.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from services.common.settings import Settings
from services.portal.backends import Backends
from services.portal.i18n import LANG_COOKIE, Catalogs, Lang, pick_language
from services.portal.session import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Session, SessionCodec

TEMPLATES_DIR = Path(__file__).parent / "templates"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SignInRequired(Exception):
    """The page needs a signed-in person (redirect to the sign-in page)."""


class NotAllowed(Exception):
    """The signed-in role may not open this page (403)."""


class CsrfRefused(Exception):
    """A form arrived without this browser's CSRF token (403)."""


@dataclass
class Portal:
    """What the pages share: settings, API clients, translations, templates."""

    settings: Settings
    backends: Backends
    catalogs: Catalogs
    codec: SessionCodec
    environments: dict[str, Environment] = field(default_factory=dict)
    cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def environment(self, lang: Lang) -> Environment:
        if lang not in self.environments:
            env = Environment(
                loader=FileSystemLoader(TEMPLATES_DIR),
                autoescape=select_autoescape(["html"]),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(self.catalogs.by_lang[lang], newstyle=True)  # type: ignore[attr-defined]
            env.filters["money"] = lambda amount: money(amount, lang)
            env.filters["when"] = lambda value: when(value, lang)
            env.filters["number"] = lambda value: format_decimal(value, locale=lang)
            env.filters["percent"] = lambda value: (
                format_decimal(round(float(value) * 100, 1), locale=lang) + " %"
            )
            env.filters["pick"] = lambda pair, base: (
                pair.get(f"{base}_{lang}") or pair.get(f"{base}_vi", "")
            )
            self.environments[lang] = env
        return self.environments[lang]


def money(amount: int | None, lang: Lang) -> str:
    if amount is None:
        return "—"
    return format_currency(amount, "VND", locale=lang)


def when(value: str | datetime | None, lang: Lang) -> str:
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "short", tzinfo=UTC, locale=lang) + " UTC"


def portal_of(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def lang_of(request: Request) -> Lang:
    lang: Lang = request.state.lang
    return lang


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def gettext(request: Request, message: str) -> str:
    """Translate a message the Python code shows (errors, notices)."""
    return portal_of(request).catalogs.gettext(lang_of(request), message)


def require_role(request: Request, *roles: str) -> Session:
    """The session of a signed-in person in one of ``roles``."""
    session = session_of(request)
    if not session.signed_in:
        raise SignInRequired()
    if roles and session.role not in roles:
        raise NotAllowed()
    return session


def token_of(request: Request) -> str | None:
    return session_of(request).token


async def checked_form(request: Request) -> FormData:
    """The submitted form, after checking its CSRF token (field or htmx header)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not session_of(request).csrf_matches(sent if isinstance(sent, str) else None):
        raise CsrfRefused()
    return form


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A notice shown once on the next page."""
    session_of(request).set("flash", {"message": message, "kind": kind})


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    session = session_of(request)
    notice = session.pop("flash") if "flash" in session.data else None
    page = portal_of(request).environment(lang).get_template(template)
    body = page.render(
        request=request,
        lang=lang,
        session=session,
        csrf_token=session.csrf_token(),
        notice=notice,
        path_with_lang=lambda other: _with_lang(request, other),
        dev_signin=portal_of(request).settings.env != "production",
        **context,
    )
    return HTMLResponse(body, status_code=status)


def _with_lang(request: Request, lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", lang))
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    return f"{request.url.path}?{query}"


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def portal_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Choose the language, open the session, and add the security headers."""
    began = time.perf_counter()
    portal = portal_of(request)
    lang, remember = pick_language(
        request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)
    )
    request.state.lang = lang
    max_age = portal.settings.token_ttl_s
    session = portal.codec.loads(request.cookies.get(SESSION_COOKIE), max_age)
    request.state.session = session
    response = await call_next(request)
    if remember:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 24 * 3600, secure=True, httponly=True, samesite="lax"
        )
    if session.changed:
        if session.data:
            response.set_cookie(
                SESSION_COOKIE,
                portal.codec.dumps(session),
                max_age=max_age,
                secure=True,
                httponly=True,
                samesite="lax",
            )
        else:
            response.delete_cookie(SESSION_COOKIE, secure=True, httponly=True, samesite="lax")
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Language", lang)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
    return response
