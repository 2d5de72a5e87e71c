"""A listing's usage terms: validated on the aggregate, carried by every snapshot and the offer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from services.catalog.domain.model import Column, Listing, ListingMetadata, Schema
from services.catalog.handlers import snapshot
from services.common.usage_policy import offer, policy_sha256
from services.contracts.catalog import ALL_PURPOSES

BASE = {"title_vi": "Dân cư", "title_en": "Population", "theme": "population"}


def _metadata(**terms: Any) -> ListingMetadata:
    return ListingMetadata.model_validate({**BASE, **terms})


def _listing(**terms: Any) -> Listing:
    return Listing(
        org="gso",
        metadata=_metadata(**terms),
        schema=Schema(columns=[Column(name="age", type="integer", classification="attribute")]),
    )


def test_defaults_allow_every_purpose_automatically() -> None:
    meta = _metadata()
    assert meta.allowed_purposes == list(ALL_PURPOSES)
    assert meta.approval == "automatic"
    assert meta.min_k is None and meta.min_group_size is None
    assert meta.buyer_may_terminate is True


def test_purposes_are_kept_in_the_controlled_order() -> None:
    meta = _metadata(allowed_purposes=["statistics", "research"])
    assert meta.allowed_purposes == ["research", "statistics"]


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"allowed_purposes": []}, "allowed_purposes"),
        ({"allowed_purposes": ["marketing"]}, "allowed_purposes"),
        ({"allowed_purposes": ["research", "research"]}, "allowed_purposes"),
        ({"approval": "manual"}, "approval"),
        ({"min_k": 1}, "min_k"),
        ({"min_k": 1001}, "min_k"),
        ({"min_group_size": 0}, "min_group_size"),
        ({"buyer_may_terminate": "perhaps"}, "buyer_may_terminate"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(terms: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _metadata(**terms)
    assert refused.value.errors()[0]["loc"][0] == field


def test_snapshot_carries_the_terms() -> None:
    listing = _listing(
        allowed_purposes=["research", "education"],
        approval="provider",
        min_k=10,
        min_group_size=25,
        buyer_may_terminate=False,
    )
    facts = snapshot(listing)
    assert facts.allowed_purposes == ["research", "education"]
    assert facts.approval == "provider"
    assert facts.min_k == 10 and facts.min_group_size == 25
    assert facts.buyer_may_terminate is False


def test_documents_stored_before_the_terms_read_with_the_defaults() -> None:
    stored = json.loads(_listing().model_dump_json(by_alias=True))
    for term in ("allowed_purposes", "approval", "min_k", "min_group_size", "buyer_may_terminate"):
        del stored["metadata"][term]
    listing = Listing.model_validate_json(json.dumps(stored))
    assert snapshot(listing).allowed_purposes == list(ALL_PURPOSES)
    assert snapshot(listing).approval == "automatic"


def test_different_terms_give_a_different_policy_hash() -> None:
    open_terms = offer(snapshot(_listing()), "https://vndx.example")
    narrow = offer(snapshot(_listing(allowed_purposes=["research"])), "https://vndx.example")
    assert policy_sha256(open_terms) != policy_sha256(narrow)
    assert policy_sha256(open_terms) == policy_sha256(json.loads(json.dumps(open_terms)))
