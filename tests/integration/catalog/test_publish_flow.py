"""A provider publishes the Adult census set; buyers find it; the events flow once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from services.common.objectstore import ObjectStore
from tests.integration.kafka_probe import read_topic_sync
from vndx.demo_data import adult_listing
from vndx.embedded import Tansu

Auth = Callable[..., dict[str, str]]


def _publish_adult(catalog: TestClient, auth: Auth, adult_dir: Path, org: str) -> dict[str, object]:
    created = catalog.post("/v1/listings", json=adult_listing(adult_dir), headers=auth(org))
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    with (adult_dir / "adult.csv").open("rb") as handle:
        uploaded = catalog.post(
            f"/v1/listings/{listing_id}/versions",
            content=handle.read(),
            headers={**auth(org), "Content-Type": "text/csv"},
        )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["review_status"] == "pending"  # salary-class is sensitive
    refused = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert refused.status_code == 409 and "review" in refused.json()["error"]["message"]
    reviewed = catalog.post(
        f"/v1/listings/{listing_id}/review",
        json={"decision": "approve", "note": "census extract, no direct identifiers"},
        headers=auth("vndx-ops", "operator"),
    )
    assert reviewed.status_code == 200, reviewed.text
    published = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert published.status_code == 200, published.text
    return published.json()  # type: ignore[no-any-return]


def test_adult_upload_is_measured(catalog: TestClient, auth: Auth, adult_dir: Path) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing = _publish_adult(catalog, auth, adult_dir, org)
    version = listing["versions"][0]  # type: ignore[index]
    assert listing["row_count"] == 30_162
    assert version["format"] == "csv"
    assert [c["name"] for c in version["columns"]][:2] == ["sex", "age"]
    assert all(c["null_ratio"] == 0 for c in version["columns"])
    age = next(c for c in version["columns"] if c["name"] == "age")
    assert age["valid_ratio"] == 1.0
    assert 0.9 < version["quality_score"] <= 1.0
    assert "object_key" not in version


def test_published_listing_is_found_accent_insensitively(
    catalog: TestClient, auth: Auth, adult_dir: Path
) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing = _publish_adult(catalog, auth, adult_dir, org)
    for query in ("dieu tra dan so", "điều tra dân số", "census", "CENSUS income"):
        found = catalog.get("/v1/listings", params={"q": query, "publisher": org})
        assert found.status_code == 200
        assert [item["id"] for item in found.json()["items"]] == [listing["id"]], query
    assert catalog.get("/v1/listings", params={"q": "xyzzy", "publisher": org}).json()["total"] == 0
    assert (
        catalog.get("/v1/listings", params={"theme": "health", "publisher": org}).json()["total"]
        == 0
    )
    view = catalog.get(f"/v1/listings/{listing['id']}")
    assert view.status_code == 200
    classes = {c["name"]: c["classification"] for c in view.json()["columns"]}
    assert classes["salary-class"] == "sensitive" and classes["age"] == "quasi_identifier"
    export = catalog.get("/v1/catalog.jsonld").json()
    assert export["@type"] == "dcat:Catalog"
    assert any(d["dct:identifier"] == listing["id"] for d in export["dcat:dataset"])


def test_raw_file_lands_under_raw_prefix(catalog: TestClient, auth: Auth, adult_dir: Path) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing = _publish_adult(catalog, auth, adult_dir, org)
    store = ObjectStore.from_settings(catalog.app.state.settings)  # type: ignore[attr-defined]
    keys = store.list_keys(f"raw/{org}/{listing['id']}/")
    assert keys == [f"raw/{org}/{listing['id']}/1/data.csv"]


def test_each_change_is_one_event_with_key_and_payload(
    catalog: TestClient, auth: Auth, adult_dir: Path, tansu: Tansu
) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing = _publish_adult(catalog, auth, adult_dir, org)
    retired = catalog.post(f"/v1/listings/{listing['id']}/retire", headers=auth(org))
    assert retired.status_code == 200
    events = read_topic_sync(
        tansu.bootstrap_servers, "catalog.listings", key=str(listing["id"]), until=5
    )
    types = [envelope.type.split(".")[-2] for _, envelope in events]
    assert types == ["version_added", "inspected", "reviewed", "published", "retired"]
    assert all(key == str(listing["id"]).encode() for key, _ in events)
    assert events[1][1].data["passed"] is True
    assert events[2][1].data["decision"] == "approve"
    published = events[3][1]
    assert published.source == "/vndx/catalog"
    assert published.data["listing"]["latest_version"]["row_count"] == 30_162
    assert published.data["listing"]["org"] == org
    assert len({envelope.id for _, envelope in events}) == 5
