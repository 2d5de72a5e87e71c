"""A catalog database made before usage terms existed is upgraded in place at start (Alembic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, inspect

from services.catalog.api.app import create_app
from services.catalog.domain.model import Column, Listing, ListingMetadata, Schema
from services.common.auth import TokenIssuer
from services.common.db import make_engine
from services.common.migrations import current_revision, head_revision, upgrade
from services.contracts.catalog import ALL_PURPOSES
from tests.integration.conftest import service_settings
from vndx.embedded import SeaweedS3, Tansu
from vndx.schema import differences, migrations_dir

TERMS = ("allowed_purposes", "approval", "min_k", "min_group_size", "buyer_may_terminate")


def _old_listing_row() -> dict[str, object]:
    listing = Listing(
        org="so-cu",
        status="published",
        metadata=ListingMetadata(title_vi="Dữ liệu cũ", title_en="Old data", theme="land"),
        schema=Schema(columns=[Column(name="parcel", type="string", classification="attribute")]),
    )
    document = json.loads(listing.model_dump_json(by_alias=True))
    for term in TERMS:
        del document["metadata"][term]
    now = datetime.now(UTC)
    return {
        "id": listing.id,
        "org": listing.org,
        "status": "published",
        "theme": "land",
        "provinces": "[]",
        "products": '["download"]',
        "search_title": "du lieu cu old data",
        "search_body": "",
        "document": json.dumps(document),
        "created_at": now,
        "updated_at": now,
    }


def test_old_listings_table_gains_the_terms_columns_with_their_defaults(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, database_url: str
) -> None:
    engine = make_engine(database_url)
    # A catalog database of the first release: the baseline revision, before usage terms.
    upgrade(engine, migrations_dir("catalog"), "catalog", revision="0001")
    old = Table("listings", MetaData(), autoload_with=engine)
    assert "allowed_purposes" not in old.columns
    row = _old_listing_row()
    with engine.begin() as connection:
        connection.execute(old.insert().values(**row))

    settings = service_settings(
        "catalog", keys_dir=keys_dir, tansu=tansu, seaweed=seaweed, database_url=database_url
    )
    app = create_app(settings)
    with TestClient(app) as catalog:
        shown = catalog.get(f"/v1/listings/{row['id']}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["allowed_purposes"] == list(ALL_PURPOSES)
        assert shown.json()["approval"] == "automatic"
        found = catalog.get("/v1/listings", params={"purpose": "journalism"}).json()
        assert [item["id"] for item in found["items"]] == [row["id"]]
        assert catalog.get("/v1/listings", params={"approval": "provider"}).json()["total"] == 0
        refused = catalog.get("/v1/listings", params={"purpose": "gambling"})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "purpose"

    app.state.runtime.engine.dispose()
    columns = {c["name"] for c in inspect(engine).get_columns("listings")}
    assert {"allowed_purposes", "approval"} <= columns
    assert current_revision(engine, "catalog") == head_revision(migrations_dir("catalog"))
    assert differences(engine, "catalog") == []
    engine.dispose()


def test_search_filters_by_purpose_and_approval(
    catalog: TestClient, issuer: TokenIssuer, tmp_path: Path
) -> None:
    org = f"so-{tmp_path.name[-6:].lower()}"
    headers = {"Authorization": f"Bearer {issuer.issue(org, 'provider')}"}
    ids: dict[str, str] = {}
    for name, terms in {
        "open": {},
        "research-only": {"allowed_purposes": ["research"], "approval": "provider"},
    }.items():
        body = {
            "title_vi": f"Bộ {name}",
            "title_en": f"Set {name}",
            "theme": "land",
            "columns": [{"name": "parcel", "type": "string", "classification": "attribute"}],
            **terms,
        }
        listing_id = catalog.post("/v1/listings", json=body, headers=headers).json()["id"]
        catalog.post(
            f"/v1/listings/{listing_id}/versions",
            content=b"parcel\nA-1\nA-2\n",
            headers={**headers, "Content-Type": "text/csv"},
        )
        assert catalog.post(f"/v1/listings/{listing_id}/publish", headers=headers).is_success
        ids[name] = listing_id

    def found(**params: str) -> set[str]:
        page = catalog.get("/v1/listings", params={"publisher": org, **params}).json()
        return {item["id"] for item in page["items"]}

    assert found(purpose="research") == {ids["open"], ids["research-only"]}
    assert found(purpose="journalism") == {ids["open"]}
    assert found(approval="provider") == {ids["research-only"]}
    assert found(approval="automatic", purpose="research") == {ids["open"]}
