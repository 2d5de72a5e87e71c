"""Anonymous pages: catalog search, listing, language, security headers, errors in the person's language."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.unit.portal.fakes import LISTING_ID, FakeApis

PAGES = ["/", "/?q=census", f"/listings/{LISTING_ID}", "/privacy", "/signin"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_forbids_inline_scripts_and_framing(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert "<script>" not in response.text and " on" + "click=" not in response.text


def test_search_passes_the_words_and_filters_to_the_catalog(
    client: TestClient, apis: FakeApis
) -> None:
    page = client.get(
        "/", params={"q": " dieu tra dan so ", "theme": "population", "product": "download"}
    )
    assert page.status_code == 200
    sent = apis.last("/v1/listings").url.params
    assert sent["q"] == "dieu tra dan so"
    assert sent["theme"] == "population" and sent["product"] == "download"
    assert "province" not in sent
    assert "Điều tra dân số Adult" in page.text


def test_the_language_is_chosen_by_query_and_remembered_by_cookie(client: TestClient) -> None:
    assert '<html lang="vi">' in client.get("/").text
    english = client.get("/?lang=en")
    assert '<html lang="en">' in english.text and "Adult census" in english.text
    assert "vndx_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in client.get("/privacy").text
    assert '<html lang="vi">' in client.get("/privacy?lang=vi").text


def test_a_listing_shows_its_schema_quality_and_indicative_price(client: TestClient) -> None:
    page = client.get(f"/listings/{LISTING_ID}?lang=en")
    assert "salary-class" in page.text and "Sensitive (ℓ-diversity)" in page.text
    assert "₫1,250,000" in page.text
    assert "87 %" in page.text
    vietnamese = client.get(f"/listings/{LISTING_ID}?lang=vi")
    assert "1.250.000\xa0₫" in vietnamese.text and "Giá tham khảo" in vietnamese.text


def test_an_unknown_listing_is_a_404_page_in_the_persons_language(
    client: TestClient, apis: FakeApis
) -> None:
    apis.refuse(
        "GET", "catalog", "/v1/listings/nope", 404, code="not_found", message="listing not found"
    )
    page = client.get("/listings/nope")
    assert page.status_code == 404
    assert "Không tìm thấy trang hoặc mục này." in page.text


def test_an_unreachable_service_is_a_503_page_without_a_stack_trace(
    client: TestClient, apis: FakeApis, caplog: pytest.LogCaptureFixture
) -> None:
    def down(_request: object) -> object:
        import httpx

        raise httpx.ConnectError("connection refused")

    apis.routes[("GET", "catalog", "/v1/listings")] = down  # type: ignore[assignment]
    page = client.get("/?lang=en")
    assert page.status_code == 503
    assert "unavailable" in page.text and "Traceback" not in page.text
    assert "connection refused" not in page.text
    logged = [r.getMessage() for r in caplog.records if r.name == "vndx.portal"]
    assert logged == ["GET /: catalog is unreachable: connection refused"]


def test_vendor_files_are_served_by_the_portal_itself(client: TestClient) -> None:
    htmx = client.get("/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:2000]
    assert client.get("/vendor/../../package.json").status_code == 404
    assert client.get("/vendor/left-pad.js").status_code == 404
