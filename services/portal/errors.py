"""What a person sees when something goes wrong: a page in their language.

An API's refusal keeps its status; the text comes from the portal's own
translated messages (the API's English detail is shown only as a detail),
and nothing ever shows a stack trace.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.portal.backends import BackendError
from services.portal.web import CsrfRefused, NotAllowed, SignInRequired, gettext, redirect, render

log = logging.getLogger("vndx.portal")


def _(message: str) -> str:
    """Mark a message for extraction; translated when shown."""
    return message


MESSAGES = {
    400: _("The request was refused."),
    401: _("Your session has ended. Please sign in again."),
    403: _("You are not allowed to do this."),
    404: _("We could not find this page or item."),
    409: _("This cannot be done in the current state."),
    410: _("This access has ended: the grant expired or was revoked."),
    422: _("Some values were refused. Please check the form."),
    429: _("Too many requests. Please wait a moment and try again."),
    500: _("Something went wrong on our side. Please try again later."),
    502: _("A service we depend on did not answer. Please try again later."),
    503: _("A service we depend on is unavailable. Please try again later."),
}


def explain(request: Request, status: int) -> str:
    """The person-facing sentence for an HTTP status, in their language."""
    fallback = 500 if status >= 500 else 400
    return gettext(request, MESSAGES.get(status, MESSAGES[fallback]))


def error_page(request: Request, status: int, detail: str | None = None) -> Response:
    return render(
        request, "error.html", status=status, message=explain(request, status), detail=detail
    )


async def _backend(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BackendError)
    if exc.status == 401:
        return await _sign_in(request, exc)
    status = exc.status if 400 <= exc.status < 600 else 502
    if status >= 500:
        # The person sees only "unavailable"; the operator needs which API and why.
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    detail = exc.message if status < 500 else None
    return error_page(request, status, detail)


async def _sign_in(request: Request, _exc: Exception) -> Response:
    target = quote(str(request.url.path))
    return redirect(f"/signin?next={target}")


async def _not_allowed(request: Request, _exc: Exception) -> Response:
    return error_page(request, 403)


async def _csrf(request: Request, _exc: Exception) -> Response:
    return error_page(request, 403, gettext(request, "The form expired. Please reload the page."))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_page(request, exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path, exc_info=exc)
    return error_page(request, 500)


def install_page_errors(app: FastAPI) -> None:
    app.add_exception_handler(BackendError, _backend)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(NotAllowed, _not_allowed)
    app.add_exception_handler(CsrfRefused, _csrf)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
