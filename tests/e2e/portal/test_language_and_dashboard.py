"""The language switch changes every visible string; the public pages and the KPI dashboard.

Data (organisation codes, column names, numbers, the brand and the names of the
two languages) is marked ``translate="no"`` or is code; every other text on the
page must differ between Tiếng Việt and English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.portal.conftest import Exchange, assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.e2e

VISIBLE_TEXTS = """() => {
  const skip = "script, style, code, pre, [translate=no]";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (!text || !parent || parent.closest(skip)) continue;
    if (!parent.checkVisibility()) continue;
    texts.push(text);
  }
  for (const el of document.querySelectorAll("[placeholder], [aria-label]")) {
    if (el.closest(skip)) continue;
    for (const name of ["placeholder", "aria-label"]) {
      const value = el.getAttribute(name);
      if (value) texts.push(value.trim());
    }
  }
  return texts;
}"""
DATA_ONLY = re.compile(r"^[\d\s.,:;%₫·—–()\-/|#k=]+$")


def texts_of(page: Page) -> set[str]:
    found: list[str] = page.evaluate(VISIBLE_TEXTS)
    return {text for text in found if not DATA_ONLY.match(text)}


@pytest.mark.parametrize("path", ["/", "/?q=census", "/privacy", "/pricing", "/signin", "LISTING"])
def test_the_language_switch_changes_every_visible_string(
    path: str, adult: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> None:
    page = new_context().new_page()
    target = f"/listings/{adult['id']}" if path == "LISTING" else path
    page.goto(target)
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    vietnamese = texts_of(page)
    assert_accessible(page)
    if path == "LISTING":
        screenshot(page, "listing-vi")
    page.click("#lang-switch")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english = texts_of(page)
    assert_accessible(page)
    unchanged = vietnamese & english
    assert not unchanged, f"{target}: not translated: {sorted(unchanged)}"
    page.goto("/privacy")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    if path == "/privacy":
        screenshot(page, "privacy-en")
    if path == "/pricing":
        page.goto("/pricing?lang=vi")
        screenshot(page, "pricing-vi")


def test_operators_see_the_indicators_and_download_each_chart(
    exchange: Exchange, adult: dict[str, Any], new_context: Callable[[], BrowserContext]
) -> None:
    page = new_context().new_page()
    sign_in(page, "vndx-ops", "operator")
    page.goto("/kpis?dimension=theme")
    expect(page.get_by_role("heading", level=1)).to_have_text("Chỉ số")
    for key in ("revenue", "activity", "delay"):
        expect(page.locator(f"#{key}-heading")).to_be_visible()
        with page.expect_download() as download_info:
            page.click(f"a[href^='/kpis/{key}.csv']")
        first_line = download_info.value.path().read_text(encoding="utf-8").splitlines()[0]
        assert first_line.split(",")[0] in ("month", "theme")
    assert_accessible(page)
    screenshot(page, "kpis-vi")
