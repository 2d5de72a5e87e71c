"""Pages of the buyer's order, the provider's upload and the regulator's feed, against fake APIs."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.unit.portal.conftest import csrf_of, sign_in
from tests.unit.portal.fakes import LISTING_ID, NOW, FakeApis, listing


def _order(status: str, grant_id: str | None = None) -> dict[str, Any]:
    return {
        "id": "o-1",
        "status": status,
        "listing_id": LISTING_ID,
        "listing_version": 1,
        "total": 1_000_000,
        "placed_at": NOW,
        "payment": {"provider": "local", "reference": "INV-2026-0001", "deadline": NOW},
        "grant_id": grant_id,
        "reason": None,
    }


def test_the_order_page_polls_until_the_order_is_fulfilled(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client, "startup-a", "buyer")
    apis.answer("GET", "orders", "/v1/orders/o-1", _order("awaiting_payment"))
    waiting = client.get("/orders/o-1?lang=en")
    assert "INV-2026-0001" in waiting.text
    assert 'hx-get="/orders/o-1/status" hx-trigger="every 2s"' in waiting.text
    apis.answer("GET", "orders", "/v1/orders/o-1", _order("fulfilled", "g-1"))
    done = client.get("/orders/o-1/status?lang=en")
    assert "hx-trigger" not in done.text and 'href="/grants/g-1"' in done.text
    assert done.headers["cache-control"] == "no-store"


def test_an_upload_error_names_the_line_the_catalog_reported(
    client: TestClient, apis: FakeApis
) -> None:
    mine = listing(org="so-tnmt", status="draft", versions=[])
    apis.answer("GET", "catalog", f"/v1/listings/{LISTING_ID}", mine)
    apis.refuse(
        "POST",
        "catalog",
        f"/v1/listings/{LISTING_ID}/versions",
        422,
        code="invalid_upload",
        message="line 3 has 3 fields, expected 2",
        line=3,
    )
    sign_in(client, "so-tnmt", "provider")
    token = csrf_of(client.get(f"/provider/listings/{LISTING_ID}?lang=en").text)
    answer = client.post(
        f"/provider/listings/{LISTING_ID}/versions",
        data={"csrf_token": token},
        files={"file": ("parcels.csv", b"a,b\n1,2\n3,4,5\n", "text/csv")},
        headers={"X-Upload": "1"},
    )
    assert answer.status_code == 422
    assert "Line 3: line 3 has 3 fields, expected 2" in answer.text
    sent = apis.last(f"/v1/listings/{LISTING_ID}/versions")
    assert sent.content == b"a,b\n1,2\n3,4,5\n" and sent.headers["content-type"] == "text/csv"


def test_another_organisations_listing_is_not_managed(client: TestClient) -> None:
    sign_in(client, "someone-else", "provider")
    assert client.get(f"/provider/listings/{LISTING_ID}").status_code == 404


def test_the_feed_shows_the_newest_records_first_and_passes_filters(
    client: TestClient, apis: FakeApis
) -> None:
    records = [
        {
            "seq": seq,
            "event_type": "vn.vndx.access.grant.issued.v1",
            "occurred_at": NOW,
            "buyer_org": "startup-a",
            "publisher_org": "gso",
            "grant_id": f"grant-{seq:04d}",
            "record": {},
        }
        for seq in range(3)
    ]
    apis.answer("GET", "audit", "/v1/audit/records", {"items": records, "next_after": None})
    sign_in(client, "ubgsnn", "regulator")
    page = client.get("/regulator/feed?type=grant.issued&org=startup-a&lang=en")
    rows = [page.text.index(f'href="/regulator/records/{seq}"') for seq in (2, 1, 0)]
    assert rows == sorted(rows)
    sent = apis.last("/v1/audit/records").url.params
    assert sent["type"] == "grant.issued" and sent["org"] == "startup-a"
    assert "Access granted" in page.text


def test_buyers_cannot_open_the_regulators_pages(client: TestClient) -> None:
    sign_in(client, "startup-a", "buyer")
    assert client.get("/regulator/feed").status_code == 403
    assert client.get("/kpis").status_code == 403
