"""Uploads are scanned for personal data; findings block publication until reclassified."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from services.catalog.api.app import create_app
from tests.integration.conftest import service_settings
from vndx.embedded import SeaweedS3, Tansu

Auth = Callable[..., dict[str, str]]


def _body(contact_class: str, revenue_class: str = "attribute") -> dict[str, Any]:
    return {
        "title_vi": "Hộ kinh doanh",
        "title_en": "Household businesses",
        "theme": "business",
        "columns": [
            {"name": "sector", "type": "string", "classification": "attribute"},
            {"name": "contact", "type": "string", "classification": contact_class},
            {"name": "revenue", "type": "integer", "classification": revenue_class},
        ],
    }


CSV = "sector,contact,revenue\n" + "".join(
    f"Bán lẻ,09{12345670 + i:08d},{(i + 1) * 1_000_000}\n" for i in range(40)
)


def _uploaded(catalog: TestClient, auth: Auth, body: dict[str, Any]) -> tuple[str, str, Response]:
    """A new organisation's listing of ``body`` with ``CSV`` uploaded as its first version:
    the organisation, the listing's id and the upload's answer."""
    org = f"hkd-{uuid.uuid4().hex[:6]}"
    listing_id = catalog.post("/v1/listings", json=body, headers=auth(org)).json()["id"]
    uploaded = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=CSV.encode(),
        headers={**auth(org), "Content-Type": "text/csv"},
    )
    return org, listing_id, uploaded


def test_hidden_phone_numbers_block_publication_until_reclassified(
    catalog: TestClient, auth: Auth
) -> None:
    org, listing_id, uploaded = _uploaded(catalog, auth, _body("attribute"))
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["versions"][0]["inspection_passed"] is False

    refused = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "personal_data_found" and error["field"] == "contact"
    finding = error["findings"][0]
    assert finding["pattern"] == "phone" and finding["share"] == 1.0
    assert all("12345" not in example for example in finding["examples"])

    report = catalog.get(f"/v1/listings/{listing_id}/versions/1/inspection", headers=auth(org))
    assert report.status_code == 200
    assert [f["column"] for f in report.json()["findings"]] == ["contact"]
    other = catalog.get(
        f"/v1/listings/{listing_id}/versions/1/inspection", headers=auth("someone-else")
    )
    assert other.status_code == 404

    renamed = _body("direct_identifier")
    renamed["columns"][1]["name"] = "phone"
    assert (
        catalog.put(f"/v1/listings/{listing_id}", json=renamed, headers=auth(org)).status_code
        == 409
    )
    fixed = catalog.put(
        f"/v1/listings/{listing_id}", json=_body("direct_identifier"), headers=auth(org)
    )
    assert fixed.status_code == 200, fixed.text
    published = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert published.status_code == 200, published.text


def test_only_operators_review(catalog: TestClient, auth: Auth) -> None:
    org, listing_id, _ = _uploaded(catalog, auth, _body("direct_identifier", "sensitive"))
    for role in ("provider", "buyer", "regulator"):
        response = catalog.post(
            f"/v1/listings/{listing_id}/review",
            json={"decision": "approve", "note": ""},
            headers=auth(org, role),
        )
        assert response.status_code == 403, role
    rejected = catalog.post(
        f"/v1/listings/{listing_id}/review",
        json={"decision": "reject", "note": "revenue too precise"},
        headers=auth("ops", "operator"),
    )
    assert rejected.json()["review_status"] == "rejected"
    refused = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert refused.status_code == 409 and "rejected" in refused.json()["error"]["message"]


def test_operators_review_queue_shows_pending_versions_with_their_findings(
    catalog: TestClient, auth: Auth
) -> None:
    # The phone numbers stay undeclared: a finding.
    org, listing_id, _ = _uploaded(catalog, auth, _body("attribute", "sensitive"))
    for role in ("provider", "buyer", "regulator"):
        assert catalog.get("/v1/reviews", headers=auth(org, role)).status_code == 403
    operator = auth("ops", "operator")
    queue = catalog.get("/v1/reviews", headers=operator).json()
    item = next(x for x in queue if x["listing_id"] == listing_id)
    assert item["version"] == 1 and item["sensitive_columns"] == ["revenue"]
    assert [f["column"] for f in item["inspection"]["findings"]] == ["contact"]

    blocked = catalog.post(
        f"/v1/listings/{listing_id}/review", json={"decision": "approve"}, headers=operator
    )
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "personal_data_found"
    catalog.put(
        f"/v1/listings/{listing_id}",
        json=_body("direct_identifier", "sensitive"),  # the phone numbers declared
        headers=auth(org),
    )
    approved = catalog.post(
        f"/v1/listings/{listing_id}/review", json={"decision": "approve"}, headers=operator
    )
    assert approved.status_code == 200 and approved.json()["review_status"] == "approved"
    queue = catalog.get("/v1/reviews", headers=operator).json()
    assert listing_id not in [x["listing_id"] for x in queue]


def test_the_threshold_is_a_setting(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, database_url: str, auth: Auth
) -> None:
    # 40% of the contact column are phone numbers: a finding at 20%, none at 50%.
    mixed = "sector,contact,revenue\n" + "".join(
        f"Bán lẻ,{f'09{12345670 + i:08d}' if i % 5 < 2 else 'qua cổng dịch vụ công'},{i}\n"
        for i in range(50)
    )
    found = {}
    for threshold in (0.2, 0.5):
        settings = service_settings(
            "catalog",
            keys_dir=keys_dir,
            tansu=tansu,
            seaweed=seaweed,
            database_url=database_url,
            inspection_threshold=threshold,
        )
        app = create_app(settings)
        with TestClient(app) as catalog:
            org = f"hkd-{uuid.uuid4().hex[:6]}"
            body = _body("attribute")
            listing_id = catalog.post("/v1/listings", json=body, headers=auth(org)).json()["id"]
            catalog.post(
                f"/v1/listings/{listing_id}/versions",
                content=mixed.encode(),
                headers={**auth(org), "Content-Type": "text/csv"},
            )
            report = catalog.get(
                f"/v1/listings/{listing_id}/versions/1/inspection", headers=auth(org)
            ).json()
            found[threshold] = [(f["column"], f["pattern"], f["share"]) for f in report["findings"]]
            assert report["threshold"] == threshold
        app.state.runtime.engine.dispose()
    assert found == {0.2: [("contact", "phone", 0.4)], 0.5: []}
