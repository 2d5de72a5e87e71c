"""Paying by card: the order page sends the buyer to Stripe Checkout and back.

A second, smaller stack whose orders service has Stripe keys and a Checkout return
URL (the portal), in front of the Stripe fake with Checkout Sessions
(``stripe_checkout_fake``). The buyer orders the Adult census, follows "Pay by card"
to the hosted page, pays, comes back to the order page, and the grant appears
(``checkout.session.completed`` → order paid → access builds the grant).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from services.common.auth import TokenIssuer
from services.common.settings import Settings
from tests.e2e.portal.conftest import (
    Exchange,
    assert_accessible,
    publish,
    screenshot,
    verify,
)
from tests.e2e.portal.stripe_checkout_fake import CheckoutStripe
from vndx.stack import EmbeddedStack, StackConfig

pytestmark = pytest.mark.e2e

SECRET_KEY = "sk_test_vndx_portal"
WEBHOOK_SECRET = "whsec_vndx_portal_checkout"
SERVICES = ("portal", "catalog", "pricing", "orders", "access")
CHECKOUT_PAGE = re.compile(r"^http://127\.0\.0\.1:\d+/pay/cs_test_\w+$")


def in_thread(work: Callable[[], None]) -> None:
    """Run ``work`` on its own thread: Playwright's event loop may own this one."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised on the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


@pytest.fixture(scope="module")
def card_exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    root = tmp_path_factory.mktemp("portal-stripe")
    fake = CheckoutStripe(root / "localstripe.log", SECRET_KEY, WEBHOOK_SECRET)
    fake.start()
    config = StackConfig.on_free_ports(root / "stack", services=SERVICES)
    config.extra_env.update(
        {
            "VNDX_PAYMENT_PROVIDER": "stripe",
            "VNDX_STRIPE_SECRET_KEY": SECRET_KEY,
            "VNDX_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "VNDX_STRIPE_API_BASE": fake.api_base,
            "VNDX_STRIPE_CHECKOUT_RETURN_URL": f"http://127.0.0.1:{config.service_ports['portal']}",
        }
    )
    running = EmbeddedStack(config)
    try:
        in_thread(running.start)
        fake.webhook_url = running.url("orders") + "/v1/payments/stripe/webhook"
        settings = Settings(data_dir=running.data_dir)
        issuer = TokenIssuer(
            settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api"
        )
        yield Exchange(running, issuer)
    finally:
        in_thread(running.stop)
        fake.stop()


def test_a_buyer_pays_by_card_on_stripe_checkout_and_gets_the_grant(
    card_exchange: Exchange,
    adult_dir: Path,
    new_context: Callable[[], BrowserContext],
) -> None:
    listing: dict[str, Any] = publish(card_exchange, adult_dir)
    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    verify(card_exchange, buyer_org, listing)
    portal = card_exchange.url("portal")
    page = new_context().new_page()
    sign_in_on(page, portal, buyer_org)
    page.goto(f"{portal}/listings/{listing['id']}?lang=en")
    page.select_option("#product", "download")
    page.select_option("#purpose", "research")
    page.click("#ask-quote")
    page.check("#accept_policy")
    page.click("#place-order")
    pay = page.locator("#pay-by-card")
    expect(pay).to_have_attribute("href", CHECKOUT_PAGE)
    assert_accessible(page)
    screenshot(page, "order-card-payment-en")
    order_url = page.url

    pay.click()
    expect(page.locator("#amount")).to_contain_text("vnd")
    page.click("#pay")
    page.wait_for_url(f"{order_url}?checkout=done")
    expect(page.locator("#checkout-done")).to_be_visible()
    page.locator("#open-grant").click(timeout=120_000)
    expect(page.locator("#grant-status")).to_contain_text("Active")


def sign_in_on(page: Page, portal: str, org: str) -> None:
    """The development sign-in on this stack's portal (the shared helper uses base_url)."""
    page.goto(f"{portal}/signin")
    page.fill("#org", org)
    page.check("input[name=role][value=buyer]")
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()
