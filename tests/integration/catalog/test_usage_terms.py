"""Usage terms on listings, and the ODRL offer a buyer accepts by its hash."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from services.common.usage_policy import offer, policy_sha256
from services.contracts.catalog import ALL_PURPOSES, ListingSnapshot
from tests.integration.kafka_probe import read_topic_sync
from vndx.embedded import Tansu

Auth = Callable[..., dict[str, str]]

CSV = "district,households\n" + "".join(f"Quận {i},{100 + i}\n" for i in range(30))
TERMS = {
    "allowed_purposes": ["statistics", "research"],
    "approval": "provider",
    "min_k": 15,
    "min_group_size": 30,
    "buyer_may_terminate": False,
}


def _body(**terms: Any) -> dict[str, Any]:
    return {
        "title_vi": "Hộ gia đình theo quận",
        "title_en": "Households by district",
        "theme": "population",
        "products": ["download", "sandbox"],
        "columns": [
            {"name": "district", "type": "string", "classification": "attribute"},
            {"name": "households", "type": "integer", "classification": "attribute"},
        ],
        **terms,
    }


def _draft(catalog: TestClient, auth: Auth, org: str, **terms: Any) -> str:
    created = catalog.post("/v1/listings", json=_body(**terms), headers=auth(org))
    assert created.status_code == 201, created.text
    listing_id: str = created.json()["id"]
    uploaded = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=CSV.encode(),
        headers={**auth(org), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 201, uploaded.text
    return listing_id


def test_terms_are_stored_shown_and_changed(catalog: TestClient, auth: Auth) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    plain = catalog.post("/v1/listings", json=_body(), headers=auth(org)).json()
    assert plain["allowed_purposes"] == list(ALL_PURPOSES)
    assert plain["approval"] == "automatic" and plain["buyer_may_terminate"] is True
    assert plain["min_k"] is None and plain["min_group_size"] is None

    listing_id = _draft(catalog, auth, org, **TERMS)
    shown = catalog.get(f"/v1/listings/{listing_id}", headers=auth(org)).json()
    assert shown["allowed_purposes"] == ["research", "statistics"]
    assert {k: shown[k] for k in TERMS if k != "allowed_purposes"} == {
        "approval": "provider",
        "min_k": 15,
        "min_group_size": 30,
        "buyer_may_terminate": False,
    }

    edited = catalog.put(
        f"/v1/listings/{listing_id}",
        json=_body(allowed_purposes=["journalism"], approval="automatic"),
        headers=auth(org),
    )
    assert edited.status_code == 200, edited.text
    again = catalog.get(f"/v1/listings/{listing_id}", headers=auth(org)).json()
    assert again["allowed_purposes"] == ["journalism"] and again["approval"] == "automatic"
    assert again["min_k"] is None

    vocabulary = catalog.get("/v1/vocabulary").json()
    assert list(vocabulary["purposes"]) == list(ALL_PURPOSES)


def test_bad_terms_are_refused_naming_the_field_and_change_nothing(
    catalog: TestClient, auth: Auth
) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, org, **TERMS)
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"allowed_purposes": []}, "allowed_purposes"),
        ({"allowed_purposes": ["advertising"]}, "allowed_purposes.0"),
        ({"allowed_purposes": ["research", "research"]}, "allowed_purposes"),
        ({"approval": "sometimes"}, "approval"),
        ({"min_k": 1}, "min_k"),
        ({"min_group_size": 1}, "min_group_size"),
        ({"buyer_may_terminate": "maybe"}, "buyer_may_terminate"),
    ]
    for terms, field in refusals:
        created = catalog.post("/v1/listings", json=_body(**terms), headers=auth(org))
        assert created.status_code == 422, terms
        assert created.json()["error"]["field"] == field, created.json()
        edited = catalog.put(f"/v1/listings/{listing_id}", json=_body(**terms), headers=auth(org))
        assert edited.status_code == 422, terms
        assert edited.json()["error"]["field"] == field
    mine = catalog.get("/v1/listings/mine", headers=auth(org)).json()
    assert mine["total"] == 1
    assert mine["items"][0]["approval"] == "provider"


def test_policy_is_the_offer_of_the_emitted_snapshot(
    catalog: TestClient, auth: Auth, tansu: Tansu
) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, org, **TERMS)
    published = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert published.status_code == 200, published.text

    response = catalog.get(f"/v1/listings/{listing_id}/policy")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert document["@type"] == "Offer"
    assert document["@context"][0] == "http://www.w3.org/ns/odrl.jsonld"
    permission = document["permission"][0]
    purposes = next(c for c in permission["constraint"] if c["leftOperand"] == "purpose")
    assert purposes["rightOperand"] == ["vndx:purpose/research", "vndx:purpose/statistics"]
    assert {"leftOperand": "vndx:minGroupSize", "operator": "gteq", "rightOperand": 30} in (
        permission["constraint"]
    )
    assert document["vndx:approval"] == "provider"
    assert document["vndx:buyerMayTerminate"] is False

    events = read_topic_sync(tansu.bootstrap_servers, "catalog.listings", key=listing_id, until=3)
    emitted = [e.data["listing"] for _, e in events if e.type.endswith(".published.v1")]
    assert len(emitted) == 1
    snapshot = ListingSnapshot.model_validate(emitted[0])
    assert snapshot.approval == "provider" and snapshot.min_k == 15
    iri_base = catalog.app.state.settings.iri_base  # type: ignore[attr-defined]
    accepted = policy_sha256(offer(snapshot, iri_base))
    assert policy_sha256(document) == accepted
    assert response.headers["etag"] == f'"{accepted}"'

    export = catalog.get("/v1/catalog.jsonld").json()
    dataset = next(d for d in export["dcat:dataset"] if d["dct:identifier"] == listing_id)
    assert dataset["vndx:approval"] == "provider" and dataset["vndx:minK"] == 15
    assert dataset["vndx:policyDocument"]["@id"].endswith(f"/v1/listings/{listing_id}/policy")
    assert dataset["dcat:distribution"][-1]["odrl:hasPolicy"]["@id"] == document["uid"]


def test_policy_has_the_listing_visibility(catalog: TestClient, auth: Auth) -> None:
    org = f"gso-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, org)
    assert catalog.get(f"/v1/listings/{listing_id}/policy").status_code == 404
    other = catalog.get(f"/v1/listings/{listing_id}/policy", headers=auth("someone-else", "buyer"))
    assert other.status_code == 404
    own = catalog.get(f"/v1/listings/{listing_id}/policy", headers=auth(org))
    assert own.status_code == 200
    missing = catalog.get(f"/v1/listings/{uuid.uuid4()}/policy", headers=auth(org))
    assert missing.status_code == 404
