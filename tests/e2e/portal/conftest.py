"""The whole embedded stack with the portal, Debian's Chromium through Playwright, helpers.

One stack and one browser for the package; each person gets their own browser context
(own cookies). Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from services.common.auth import TokenIssuer
from tests.purchase_steps import bearer, publish_adult, quote_once_known, stack_issuer, until
from tests.purchase_steps import settle as settle_invoice
from tests.purchase_steps import verify as verify_org
from vndx.stack import EmbeddedStack, StackConfig

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
SERIOUS = {"serious", "critical"}


@dataclass
class Exchange:
    """The running stack, its API clients and a token maker."""

    stack: EmbeddedStack
    issuer: TokenIssuer

    def url(self, service: str) -> str:
        return self.stack.url(service)

    def auth(self, org: str, role: str) -> dict[str, str]:
        return bearer(self.issuer, org, role)

    def api(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.url(service), timeout=60)


LOG_LINES_ON_FAILURE = 30


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """A failed page test's report ends with the last lines each service logged."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("exchange")
    if report.when != "call" or not report.failed or not isinstance(running, Exchange):
        return
    for log_file in sorted(running.stack.log_dir.glob("*.log")):
        lines = log_file.read_text(errors="replace").splitlines()[-LOG_LINES_ON_FAILURE:]
        report.sections.append((f"{log_file.name} (last lines)", "\n".join(lines)))


@pytest.fixture(scope="package")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's Chromium is missing: run `make system-deps` (apt-get install chromium)"
        )
    running = EmbeddedStack(StackConfig.on_free_ports(tmp_path_factory.mktemp("portal")))
    running.start()
    yield Exchange(running, stack_issuer(running))
    running.stop()


def publish(exchange: Exchange, adult_dir: Path, **changes: Any) -> dict[str, Any]:
    """The Adult data under a listing of ``gso`` with ``changes``, reviewed, published, priced."""
    provider, operator = exchange.auth("gso", "provider"), exchange.auth("vndx-ops", "operator")
    with exchange.api("catalog") as catalog:
        listing = publish_adult(catalog, adult_dir, provider, operator, **changes)
    with exchange.api("pricing") as pricing:

        def valued() -> bool:
            response = pricing.get(f"/v1/listings/{listing['id']}/valuations")
            return response.status_code == 200 and bool(response.json())

        until("pricing to value the listing", valued)
    return listing


@pytest.fixture(scope="package")
def adult(exchange: Exchange, adult_dir: Path) -> dict[str, Any]:
    """The Adult census, published by a provider and approved by an operator, priced."""
    return publish(exchange, adult_dir)


@pytest.fixture(scope="package")
def approval_listing(exchange: Exchange, adult_dir: Path) -> dict[str, Any]:
    """The same data under a listing whose publisher approves each request (two purposes)."""
    return publish(
        exchange,
        adult_dir,
        title_vi="Mẫu khảo sát thu nhập — cơ quan phê duyệt từng yêu cầu",
        title_en="Income survey sample — the agency approves each request",
        keywords=["khảo sát thu nhập", "income survey"],
        allowed_purposes=["research", "statistics"],
        approval="provider",
        min_group_size=20,
    )


def verify(exchange: Exchange, org: str, listing: dict[str, Any]) -> None:
    """An operator verifies the buyer (listings with sensitive columns need it) and pricing
    has learnt it: a quote for ``listing`` is then issued."""
    operator = exchange.auth("vndx-ops", "operator")
    with exchange.api("catalog") as catalog:
        verify_org(catalog, org, operator, f"Công ty {org}", "sme")
    with exchange.api("pricing") as pricing:
        purpose = listing.get("allowed_purposes", ["research"])[0]
        quote_once_known(
            pricing, exchange.auth(org, "buyer"), listing["id"], purpose=purpose, timeout=60
        )


def settle(exchange: Exchange, order_id: str) -> None:
    """The operator records the bank transfer of a local invoice (what a bank feed would do)."""
    with exchange.api("orders") as orders:
        settle_invoice(orders, order_id, exchange.auth("vndx-ops", "operator"))


@pytest.fixture(scope="package")
def browser(exchange: Exchange) -> Iterator[Browser]:
    """Chromium, started after the stack (Playwright's loop would block its asyncio.run)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def new_context(browser: Browser, exchange: Exchange) -> Iterator[Callable[[], BrowserContext]]:
    opened: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(
            base_url=exchange.url("portal"),
            accept_downloads=True,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(30_000)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


def sign_in(page: Page, org: str, role: str) -> None:
    page.goto("/signin")
    page.fill("#org", org)
    page.check(f"input[name=role][value={role}]")
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the current page."""
    results = Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]
    assert not serious, f"{page.url}: " + "; ".join(serious)
