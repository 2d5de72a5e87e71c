"""A provider creates a listing, uploads a version with an error, sees it named, fixes it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.portal.conftest import assert_accessible, screenshot, sign_in

pytestmark = pytest.mark.e2e

BAD_CSV = "parcel,area_m2\nA-1,120.5\nA-2,98,extra\n"
GOOD_CSV = "parcel,area_m2\nA-1,120.5\nA-2,98\nA-3,77.25\n"


def test_a_provider_sees_the_line_at_fault_then_publishes(
    new_context: Callable[[], BrowserContext], tmp_path: Path
) -> None:
    page = new_context().new_page()
    sign_in(page, f"so-tnmt-{uuid.uuid4().hex[:6]}", "provider")
    expect(page.locator("p.empty")).to_be_visible()
    assert_accessible(page)

    page.click("a[href='/provider/listings/new']")
    page.fill("#title_vi", "Đăng ký đất đai Đà Nẵng")
    page.fill("#title_en", "Da Nang land register")
    page.select_option("#theme", index=1)
    page.fill("#keywords", "đất đai, land")
    page.fill("#columns", "parcel, string, attribute\narea_m2, number, secret")
    page.click("#save-listing")
    error = page.locator("#columns-error")
    expect(error).to_contain_text("Dòng 2:")
    expect(page.locator("#columns")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)
    screenshot(page, "provider-form-error-vi")

    page.fill("#columns", "parcel, string, attribute\narea_m2, number, attribute, Diện tích")
    page.click("#save-listing")
    expect(page.locator("#upload-heading")).to_be_visible()

    bad = tmp_path / "parcels-bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")
    page.set_input_files("#file", str(bad))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result .field-error")).to_contain_text("Dòng 3:")
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")

    good = tmp_path / "parcels.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    page.set_input_files("#file", str(good))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-result .notice")).to_contain_text("3")
    page.reload()
    expect(page.locator("section table tbody tr")).to_have_count(1)
    page.click("form[action$='/publish'] button")
    expect(page.locator("#listing-status")).to_have_text("Đã công bố")
    assert_accessible(page)
    screenshot(page, "provider-listing-vi")

    page.goto("/provider/statement")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)
