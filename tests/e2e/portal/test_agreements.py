"""Purpose-bound requests in the browser: approval, payment, early end, renewal (issue 12).

A startup asks for the income survey, whose agency approves each request: the
listing shows the purposes, the approval mode, the usage policy in plain words and
an anonymised preview; the quote offers only the listing's purposes; the order
waits for the agency, which rejects one request with a note (the buyer reads it)
and approves the next, after which the buyer's page shows the invoice without
reloading; once paid the grant appears and the buyer ends it early. On the Adult
census (automatic approval) a buyer renews a grant with a new paid order.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.portal.conftest import (
    Exchange,
    assert_accessible,
    screenshot,
    settle,
    sign_in,
    verify,
)

pytestmark = pytest.mark.e2e


def request_access(page: Page, listing_url: str, justification: str) -> str:
    """From the listing: quote for research, accept the policy, place the order; its id."""
    page.goto(listing_url)
    page.select_option("#product", "download")
    page.fill("#duration_days", "30")
    page.select_option("#purpose", "research")
    page.fill("#justification", justification)
    page.click("#ask-quote")
    expect(page.locator("#quote-justification")).to_have_text(justification)
    page.check("#accept_policy")
    page.click("#place-order")
    expect(page.locator("#order-status strong")).to_have_attribute(
        "data-status", "awaiting_approval"
    )
    return last_segment(page.url)


def last_segment(url: str) -> str:
    """The id at the end of an order's or a grant's page URL."""
    return url.rstrip("/").split("/")[-1]


def decide(provider: Page, order_id: str, decision: str, note: str) -> None:
    provider.goto("/provider/requests")
    request = provider.locator(f"article[data-order='{order_id}']")
    expect(request).to_be_visible()
    request.locator("input[name=note]").fill(note)
    request.locator(f"button[value={decision}]").click()
    expect(provider.locator(".notice")).to_be_visible()
    expect(provider.locator(f"article[data-order='{order_id}']")).to_have_count(0)


def test_the_agency_approves_a_request_then_the_buyer_pays_and_ends_it_early(
    exchange: Exchange,
    approval_listing: dict[str, Any],
    new_context: Callable[[], BrowserContext],
) -> None:
    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    listing_url = f"/listings/{approval_listing['id']}"
    verify(exchange, buyer_org, approval_listing)
    page = new_context().new_page()
    sign_in(page, buyer_org, "buyer")
    page.goto(f"{listing_url}?lang=en")
    expect(page.locator("#allowed-purposes")).to_have_text("Research, Official statistics")
    expect(page.locator("#approval-mode")).to_contain_text("The provider approves each request")
    terms = page.locator("#policy-terms")
    expect(terms).to_contain_text("Never link the data with other data to single out a person")
    expect(terms).to_contain_text("groups of at least 20 people")
    policy = page.request.get(f"{listing_url}/policy.json")
    assert policy.ok and policy.json()["@type"] == "Offer"
    preview = page.locator("#preview")
    expect(preview.locator("details").first).to_be_visible(timeout=60_000)
    expect(preview).not_to_contain_text("Sign in")
    assert page.locator("#purpose option[value=journalism]").count() == 0
    assert_accessible(page)
    screenshot(page, "listing-terms-en")

    rejected = request_access(page, listing_url, "Scraping for a people-search site")
    expect(page.locator("#awaiting-approval")).to_be_visible()
    assert page.locator("#invoice-reference").count() == 0
    assert_accessible(page)
    screenshot(page, "order-awaiting-approval-en")

    provider = new_context().new_page()
    sign_in(provider, "gso", "provider")
    provider.goto("/provider/requests")
    expect(provider.locator(f"article[data-order='{rejected}']")).to_contain_text(
        "Scraping for a people-search site"
    )
    assert_accessible(provider)
    screenshot(provider, "provider-requests-vi")
    decide(provider, rejected, "reject", "Không phù hợp mục đích nghiên cứu")
    expect(page.locator("#rejection")).to_contain_text("Không phù hợp mục đích nghiên cứu")

    approved = request_access(page, listing_url, "Income research for a lending model")
    decide(provider, approved, "approve", "Đồng ý cho nghiên cứu")
    expect(page.locator("#invoice-reference")).not_to_be_empty(timeout=30_000)
    expect(page.locator("#order-status")).to_contain_text("Đồng ý cho nghiên cứu")
    settle(exchange, approved)
    page.locator("#open-grant").click(timeout=120_000)
    expect(page.locator("#grant-status")).to_contain_text("Active")
    agreement = page.request.get(page.url.rstrip("/") + "/agreement.json")
    assert agreement.ok and agreement.json()["@type"] == "Agreement"

    page.fill("#terminate-reason", "The research project ended")
    page.click("#terminate")
    expect(page.locator(".notice")).to_contain_text("terminated")
    expect(page.locator("#grant-status")).to_contain_text("Terminated")
    expect(page.locator("#download")).to_have_count(0)
    assert_accessible(page)


def test_a_regulator_terminates_a_grant_with_a_full_refund(
    exchange: Exchange, adult: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> None:
    holder = a_grant_holder(exchange, adult, new_context)
    regulator = new_context().new_page()
    sign_in(regulator, "ubgsnn", "regulator")
    regulator.goto(holder.grant_url + "?lang=en")
    regulator.fill("#terminate-reason", "Court order 31/2026")
    regulator.select_option("#refund", "full")
    regulator.click("#terminate")
    expect(regulator.locator("#grant-status")).to_contain_text("Terminated")
    holder.page.goto(holder.grant_url)
    expect(holder.page.locator("#grant-status")).to_contain_text("Terminated")


def buy_download(page: Page, exchange: Exchange, listing_url: str) -> str:
    """Quote, accept, order, settle; the grant page's URL once the grant is active."""
    page.goto(listing_url + "?lang=en")
    page.select_option("#product", "download")
    page.fill("#duration_days", "30")
    page.select_option("#purpose", "statistics")
    page.click("#ask-quote")
    page.check("#accept_policy")
    page.click("#place-order")
    settle(exchange, last_segment(page.url))
    page.locator("#open-grant").click(timeout=120_000)
    expect(page.locator("#grant-status")).to_contain_text("Active")
    return page.url


@dataclass(frozen=True)
class GrantHolder:
    """A newly verified buyer, signed in, whose page shows the grant they just bought."""

    org: str
    page: Page
    grant_url: str

    @property
    def grant_id(self) -> str:
        return last_segment(self.grant_url)


def a_grant_holder(
    exchange: Exchange, listing: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> GrantHolder:
    org = f"startup-{uuid.uuid4().hex[:6]}"
    verify(exchange, org, listing)
    page = new_context().new_page()
    sign_in(page, org, "buyer")
    return GrantHolder(org, page, buy_download(page, exchange, f"/listings/{listing['id']}"))


def test_a_buyer_renews_a_grant_with_a_new_paid_order(
    exchange: Exchange, adult: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> None:
    holder = a_grant_holder(exchange, adult, new_context)
    page, buyer_org, grant_id = holder.page, holder.org, holder.grant_id
    with exchange.api("access") as access:
        before = access.get(f"/v1/grants/{grant_id}", headers=exchange.auth(buyer_org, "buyer"))
        first_expiry = before.json()["expires_at"]

    page.click("#renew-link")
    page.fill("#duration_days", "90")
    assert_accessible(page)
    screenshot(page, "renew-en")
    page.click("#ask-renewal-quote")
    expect(page.locator("#renewing")).to_contain_text(grant_id[:8])
    page.check("#accept_policy")
    page.click("#place-order")
    settle(exchange, last_segment(page.url))
    expect(page.locator("#open-grant")).to_have_attribute(
        "href", f"/grants/{grant_id}", timeout=120_000
    )
    with exchange.api("access") as access:
        after = access.get(f"/v1/grants/{grant_id}", headers=exchange.auth(buyer_org, "buyer"))
    assert after.json()["expires_at"] > first_expiry


def test_an_operator_verifies_a_buyer_organisation_in_the_browser(
    exchange: Exchange, new_context: Callable[[], BrowserContext]
) -> None:
    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    operator = new_context().new_page()
    sign_in(operator, "vndx-ops", "operator")
    operator.goto("/operator/organisations?lang=en")
    operator.fill("#code", buyer_org)
    operator.fill("#tax_code", "0100109106")
    operator.fill("#registered_name", "Công ty Cổ phần Dữ liệu Mở")
    operator.select_option("#segment", "startup")
    operator.click("#verify")
    expect(operator.locator(".notice")).to_contain_text("Verified")
    expect(operator.locator("#organisation")).to_contain_text("0100109106")
    assert_accessible(operator)
    screenshot(operator, "operator-verification-en")
    with exchange.api("catalog") as catalog:
        found = catalog.get(
            f"/v1/organisations/{buyer_org}", headers=exchange.auth("vndx-ops", "operator")
        )
    assert found.json()["verified"] is True and found.json()["segment"] == "startup"


def test_the_agency_terminates_a_grant_on_its_listing_for_a_breach(
    exchange: Exchange, adult: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> None:
    holder = a_grant_holder(exchange, adult, new_context)
    grant_id = holder.grant_id
    provider = new_context().new_page()
    sign_in(provider, "gso", "provider")
    provider.goto("/provider/grants?lang=en")
    row = provider.locator(f"tr[data-grant='{grant_id}']")
    expect(row).to_contain_text(holder.org)
    assert_accessible(provider)
    screenshot(provider, "provider-grants-en")
    provider.fill(f"#reason-{grant_id}", "The extract was resold")
    provider.locator(f"#reason-{grant_id} ~ button").click()
    expect(provider.locator(".notice")).to_contain_text("terminated")
    expect(provider.locator(f"tr[data-grant='{grant_id}']")).to_contain_text("Terminated")
    holder.page.goto(holder.grant_url)
    expect(holder.page.locator("#grant-status")).to_contain_text("Terminated")
