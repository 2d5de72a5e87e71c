"""Pages for everyone: search the catalog, open a listing, how prices are set, privacy."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.common.downloads import content_disposition
from services.portal.agreements import PolicySummary, allowed_purposes, summarise
from services.portal.backends import BackendError
from services.portal.web import Portal, gettext, portal_of, render, session_of, token_of

router = APIRouter()
PAGE_SIZE = 20
VOCABULARY_TTL_S = 300.0
SYNTHETIC_ROWS = 10
PREVIEW_TIMEOUT_S = 20.0
PREVIEW_ATTEMPTS = 40


def _(message: str) -> str:
    """Mark a message for extraction; translated when shown."""
    return message


STILL_COMPUTING = _("The preview is unavailable right now. Please try again later.")


async def vocabulary(portal: Portal) -> dict[str, Any]:
    """Themes and provinces (cached: they change only with a catalog release)."""
    cached = portal.cache.get("vocabulary")
    if cached and time.monotonic() - cached[0] < VOCABULARY_TTL_S:
        value: dict[str, Any] = cached[1]
        return value
    value = await portal.backends.get("catalog", "/v1/vocabulary")
    portal.cache["vocabulary"] = (time.monotonic(), value)
    return value


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    theme: Annotated[str, Query(max_length=40)] = "",
    publisher: Annotated[str, Query(max_length=64)] = "",
    province: Annotated[str, Query(max_length=40)] = "",
    product: Annotated[str, Query(pattern="^(|download|sandbox)$")] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """The home page is the catalog: search box, filters and ranked results."""
    portal = portal_of(request)
    filters = {
        "q": q.strip(),
        "theme": theme,
        "publisher": publisher.strip(),
        "province": province,
        "product": product,
    }
    results = await portal.backends.get(
        "catalog", "/v1/listings", params={**filters, "page": page, "page_size": PAGE_SIZE}
    )
    pages = max(1, -(-int(results["total"]) // PAGE_SIZE))
    template = "partials/results.html" if request.headers.get("hx-request") else "home.html"
    response = render(
        request,
        template,
        filters=filters,
        results=results,
        page=page,
        pages=pages,
        vocabulary=await vocabulary(portal),
    )
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


def _indicative(valuations: list[dict[str, Any]], version: int | None) -> dict[str, Any] | None:
    """The reference price of the listing's latest valued version."""
    matching = [v for v in valuations if version is None or v.get("version") == version]
    chosen = matching or valuations
    return chosen[-1] if chosen else None


async def usage_policy(
    portal: Portal, listing_id: str, token: str | None
) -> tuple[dict[str, Any] | None, PolicySummary | None]:
    """The listing's ODRL offer as the catalog serves it, and its terms; None if unavailable."""
    try:
        offer: dict[str, Any] = await portal.backends.get(
            "catalog", f"/v1/listings/{listing_id}/policy", token=token
        )
    except BackendError as exc:
        if exc.status == 401:
            raise
        return None, None
    return offer, summarise(offer)


async def listing_view(
    request: Request, listing_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    """A listing with its schema, quality, versions, price, usage policy, preview and quote form."""
    portal = portal_of(request)
    token = token_of(request)
    session = session_of(request)

    async def valuations_of() -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = await portal.backends.get(
                "pricing", f"/v1/listings/{listing_id}/valuations", token=token
            )
        except BackendError:
            return []
        return found

    listing, valuations, vocab, (_offer, policy) = await asyncio.gather(
        portal.backends.get("catalog", f"/v1/listings/{listing_id}", token=token),
        valuations_of(),
        vocabulary(portal),
        usage_policy(portal, listing_id, token),
    )
    can_quote = session.role == "buyer" and listing["status"] == "published"
    durations: dict[str, list[int]] = {}
    if can_quote:
        try:
            active = await portal.backends.get("pricing", "/v1/policies/active")
            durations = {
                name: terms["durations"] for name, terms in active["summary"]["products"].items()
            }
        except BackendError:
            durations = {}
    return render(
        request,
        "listing.html",
        status=status,
        listing=listing,
        allowed=allowed_purposes(listing),
        policy=policy,
        valuation=_indicative(valuations, listing.get("latest_version")),
        vocabulary=vocab,
        can_quote=can_quote,
        durations=durations,
        quote_errors=extra.pop("quote_errors", {}),
        form=extra.pop("form", {}),
        renews=extra.pop("renews", None),
        **extra,
    )


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
async def listing_page(
    request: Request,
    listing_id: str,
    renews: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9-]*$")] = "",
) -> HTMLResponse:
    return await listing_view(request, listing_id, renews=renews or None)


async def preview_of(
    request: Request, listing_id: str
) -> tuple[dict[str, Any] | None, str | None, bool]:
    """Access's anonymised preview of the listing, or the sentence saying why there is none,
    and whether asking again later may help.

    The first preview of a version is computed by access (an anonymised extract), so it
    is fetched apart from the listing page, which never waits for it.
    """
    if not session_of(request).signed_in:
        return None, None, False
    try:
        found: dict[str, Any] = await portal_of(request).backends.get(
            "access",
            f"/v1/listings/{listing_id}/preview",
            params={"synthetic_rows": SYNTHETIC_ROWS},
            token=token_of(request),
            time_limit_s=PREVIEW_TIMEOUT_S,
        )
    except BackendError as exc:
        if exc.status == 401:
            raise
        if exc.status == 403:
            return None, gettext(request, "Previews are shown to signed-in buyers."), False
        if exc.status in (404, 409):
            # Access may not have learnt of a just-published version yet.
            message = _(
                "The preview appears once the latest version has been inspected and profiled."
            )
            return None, gettext(request, message), True
        return None, gettext(request, STILL_COMPUTING), True
    return found, None, False


@router.get("/listings/{listing_id}/preview", response_class=HTMLResponse)
async def preview_page(
    request: Request,
    listing_id: str,
    attempt: Annotated[int, Query(ge=0, le=PREVIEW_ATTEMPTS)] = 0,
) -> HTMLResponse:
    """The preview section: swapped into the listing page by htmx, or a page of its own.

    While access cannot answer yet, the section asks again every 3 s, at most
    ``PREVIEW_ATTEMPTS`` times.
    """
    preview, preview_error, retriable = await preview_of(request, listing_id)
    partial = request.headers.get("hx-request") is not None
    context: dict[str, Any] = {
        "listing": {"id": listing_id},
        "preview": preview,
        "preview_error": preview_error,
        "loaded": True,
    }
    if partial and retriable and attempt < PREVIEW_ATTEMPTS:
        context.update(loaded=False, retry=attempt + 1)
    if partial:
        return render(request, "partials/preview.html", **context)
    listing = await portal_of(request).backends.get(
        "catalog", f"/v1/listings/{listing_id}", token=token_of(request)
    )
    return render(request, "preview.html", **{**context, "listing": listing})


@router.get("/listings/{listing_id}/policy.json")
async def policy_document(request: Request, listing_id: str) -> Response:
    """The usage policy exactly as the catalog serves it (the document whose hash is accepted)."""
    upstream = await portal_of(request).backends.request(
        "GET", "catalog", f"/v1/listings/{listing_id}/policy", token=token_of(request)
    )
    return Response(
        upstream.content,
        media_type="application/ld+json",
        headers={
            "Content-Disposition": content_disposition(f"policy-{listing_id}.jsonld", "inline")
        },
    )


@router.get("/pricing", response_class=HTMLResponse)
async def pricing_policy(request: Request) -> HTMLResponse:
    """The active valuation and fee policy, as published."""
    try:
        policy = await portal_of(request).backends.get("pricing", "/v1/policies/active")
    except BackendError as exc:
        if exc.status != 404:
            raise
        policy = None
    return render(request, "pricing.html", policy=policy)


@router.get("/privacy", response_class=HTMLResponse)
async def privacy(request: Request) -> HTMLResponse:
    """How data is protected: k-anonymity, pseudonyms, the audit ledger."""
    return render(request, "privacy.html")
