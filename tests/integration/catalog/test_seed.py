"""The demo seed against a real catalog: every demo listing passes inspection and review."""

from __future__ import annotations

import random
from pathlib import Path

from fastapi.testclient import TestClient

from services.common.auth import TokenIssuer
from vndx.demo_data import DEMO_BUYERS, adult_listing, demo_datasets
from vndx.seed import publish, verify_buyers


def test_demo_listings_go_through_inspection_review_and_carry_their_terms(
    catalog: TestClient, issuer: TokenIssuer, tmp_path: Path, adult_dir: Path
) -> None:
    operator = issuer.issue("vndx-ops", "operator")
    published = {}
    for dataset in demo_datasets():
        path = tmp_path / f"{dataset.org}.csv"
        dataset.write_csv(path, 300, random.Random(1))
        token = issuer.issue(dataset.org, "provider")
        published[dataset.org] = publish(
            catalog, token, dataset.listing, path, reviewer_token=operator
        )
    adult = publish(
        catalog,
        issuer.issue("gso", "provider"),
        adult_listing(adult_dir),
        adult_dir / "adult.csv",
        reviewer_token=operator,
    )

    assert all(x["status"] == "published" for x in [*published.values(), adult])
    assert all(x["versions"][-1]["inspection_passed"] for x in [*published.values(), adult])
    population, visits = published["bca-c06"], published["byt"]
    assert population["approval"] == "provider" and population["review_status"] == "approved"
    assert population["allowed_purposes"] == ["research", "statistics", "public_service"]
    assert population["min_k"] == 10
    assert visits["review_status"] == "approved" and visits["min_group_size"] == 20
    assert "commercial_analytics" not in visits["allowed_purposes"]
    assert adult["approval"] == "automatic" and adult["review_status"] == "approved"

    policy = catalog.get(f"/v1/listings/{population['id']}/policy").json()
    assert policy["vndx:approval"] == "provider"


def test_demo_buyers_are_verified_in_their_segments(
    catalog: TestClient, issuer: TokenIssuer
) -> None:
    operator = issuer.issue("vndx-ops", "operator")
    verified = verify_buyers(catalog, operator)
    assert [v["code"] for v in verified] == [b.code for b in DEMO_BUYERS]
    for buyer in DEMO_BUYERS:
        shown = catalog.get(f"/v1/organisations/{buyer.code}").json()
        assert shown["verified"] is True and shown["segment"] == buyer.segment
    # Seeding twice is harmless: verification is re-recorded, not refused.
    assert len(verify_buyers(catalog, operator)) == len(DEMO_BUYERS)
