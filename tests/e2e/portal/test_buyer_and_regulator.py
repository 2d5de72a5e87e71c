"""A startup buys the Adult census in the portal; a regulator watches and revokes it.

search -> listing -> quote -> order -> (operator settles the invoice) -> the page
shows the grant without reloading -> download (header checked) -> sandbox query
-> audit trail -> the regulator sees the grant on the live feed and revokes it ->
the buyer's download then fails with a message in the buyer's language.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
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
from tests.purchase_steps import until

pytestmark = pytest.mark.e2e


def buy(page: Page, exchange: Exchange, product: str, *, screenshots: bool) -> str:
    """From the listing page: quote, order, settle (operator, API), follow to the grant."""
    page.select_option("#product", product)
    page.fill("#duration_days", "30")
    page.select_option("#purpose", "research")
    page.fill("#justification", "Income research for a lending model")
    page.click("#ask-quote")
    expect(page.locator("#quote-total")).to_contain_text("₫")
    expect(page.locator("#quote-purpose")).to_contain_text("Research")
    expect(page.locator("#policy-terms")).to_contain_text(
        "Never try to find out who a row is about"
    )
    assert page.locator("table tbody tr").count() >= 2
    if screenshots:
        assert_accessible(page)
        screenshot(page, "quote-en")
    page.check("#accept_policy")
    page.click("#place-order")
    expect(page.locator("#invoice-reference")).not_to_be_empty()
    order_id = page.url.rstrip("/").split("/")[-1]
    if screenshots:
        assert_accessible(page)
    settle(exchange, order_id)
    open_grant = page.locator("#open-grant")
    expect(open_grant).to_be_visible(timeout=120_000)
    if screenshots:
        screenshot(page, "order-fulfilled-en")
    open_grant.click()
    expect(page.locator("#grant-status")).to_contain_text("Active")
    expect(page.locator("time.countdown")).to_be_visible()
    expect(page.get_by_text("k-anonymity")).to_be_visible()
    if screenshots:
        assert_accessible(page)
        screenshot(page, "grant-en")
    return page.url


def test_a_startup_buys_the_census_and_a_regulator_revokes_it(
    exchange: Exchange, adult: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> None:
    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    page = new_context().new_page()

    page.goto("/")
    assert_accessible(page)
    screenshot(page, "home-vi")
    page.fill("#q", "dieu tra dan so")
    page.press("#q", "Enter")
    result = page.get_by_role("link", name=adult["title_vi"])
    expect(result).to_be_visible()
    page.goto("/?q=census&lang=en")
    expect(page.get_by_role("link", name=adult["title_en"])).to_be_visible()
    screenshot(page, "home-en")

    verify(exchange, buyer_org, adult)
    sign_in(page, buyer_org, "buyer")
    expect(page.locator("p.empty")).to_be_visible()
    page.goto("/?q=census")
    page.get_by_role("link", name=adult["title_en"]).click()
    adult_url = page.url
    expect(page.locator("#schema-heading")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("salary-class")
    expect(page.locator(".price")).to_contain_text("₫")
    assert_accessible(page)
    screenshot(page, "listing-en")

    grant_url = buy(page, exchange, "download", screenshots=True)
    grant_id = grant_url.rstrip("/").split("/")[-1]

    page.select_option("#format", "csv")
    with page.expect_download() as download_info:
        page.click("#download")
    extract = download_info.value.path().read_text(encoding="utf-8")
    header = extract.splitlines()[0]
    assert "age" in header and "salary-class" in header

    page.goto(adult_url)
    buy(page, exchange, "sandbox", screenshots=False)
    page.click("#sandbox-link")
    page.click("#run-query")
    expect(page.locator("#result-table")).to_be_visible()
    expect(page.locator("#result-table thead")).to_contain_text("people")
    assert_accessible(page)
    screenshot(page, "sandbox-en")

    page.goto(f"{grant_url}/audit")

    def trail_has_download() -> bool:
        page.reload()
        return page.locator("tr[data-type='grant.download_url_issued']").count() > 0

    until("the download on the audit trail", trail_has_download, timeout=60)
    expect(page.locator("tr[data-type='grant.issued']")).to_have_count(1)
    assert_accessible(page)

    regulator = new_context().new_page()
    sign_in(regulator, "ubgsnn", "regulator")
    regulator.goto("/regulator/feed?type=grant.issued")
    expect(regulator.locator("#records")).to_contain_text(grant_id[:8], timeout=30_000)
    assert_accessible(regulator)
    screenshot(regulator, "regulator-feed-vi")
    regulator.locator(f"#records a[href='/grants/{grant_id}']").first.click()
    regulator.fill("#reason", "Court order 12/2026")
    regulator.click("#revoke")
    expect(regulator.locator(".notice")).to_be_visible()
    expect(regulator.locator("#grant-status")).to_contain_text("Đã thu hồi")
    regulator.goto("/regulator/feed?type=grant.revoked")
    expect(regulator.locator("#records")).to_contain_text(grant_id[:8], timeout=30_000)
    first = regulator.locator("#records tbody tr a").first
    first.click()
    expect(regulator.locator("#root-hash")).not_to_be_empty()
    assert_accessible(regulator)
    screenshot(regulator, "audit-proof-vi")

    page.goto(grant_url)
    expect(page.locator("#grant-status")).to_contain_text("Revoked")
    expect(page.locator("#download")).to_have_count(0)
    response = page.request.post(
        f"{grant_url}/download",
        form={
            "format": "csv",
            "csrf_token": page.locator("input[name=csrf_token]").first.input_value(),
        },
    )
    assert response.status in (409, 410)
    assert "Traceback" not in response.text()
    assert "This access has ended" in response.text() or "cannot be done" in response.text()
