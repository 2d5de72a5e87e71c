"""A quote becomes an order only if pricing's key signed it, it is unexpired and it is ours."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.signed_json import SignatureInvalid, verify_signed_document
from services.orders.domain.errors import QuoteNotYours, QuoteRejected
from services.orders.domain.quote_terms import QuoteTerms
from services.pricing.domain.signing import QuoteSigner

from .quotes import public_pem, quote_document

KEY = Ed25519PrivateKey.generate()
PEM = public_pem(KEY)
SIGNER = QuoteSigner(KEY)
NOW = datetime.now(UTC)


@pytest.fixture
def document() -> dict[str, Any]:
    return quote_document(SIGNER, buyer_org="startup-a", listing_id="l-1", issued_at=NOW)


def test_the_quote_as_pricing_returned_it_verifies(document: dict[str, Any]) -> None:
    verify_signed_document(document, PEM)
    terms = QuoteTerms.model_validate(document)
    assert terms.total == document["total"] == sum(document["split"].values())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("total",), 1),
        (("buyer_org",), "startup-b"),
        (("split", "agency_share"), 999_999_999),
        (("trace", 0, "output"), "1"),
        (("lines", 0, "label_vi"), "khác"),
        (("purpose",), None),
        (("expires_at",), "2099-01-01T00:00:00Z"),
    ],
)
def test_any_change_to_any_field_breaks_the_signature(
    document: dict[str, Any], path: tuple[Any, ...], value: object
) -> None:
    changed = copy.deepcopy(document)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(SignatureInvalid) as refused:
        verify_signed_document(changed, PEM)
    assert refused.value.field == "signature"


def test_an_added_field_breaks_the_signature(document: dict[str, Any]) -> None:
    with pytest.raises(SignatureInvalid):
        verify_signed_document({**document, "discount": 100}, PEM)


def test_another_key_is_named_by_key_id(document: dict[str, Any]) -> None:
    other = public_pem(Ed25519PrivateKey.generate())
    with pytest.raises(SignatureInvalid) as refused:
        verify_signed_document(document, other)
    assert refused.value.field == "key_id"


@pytest.mark.parametrize("signature", ["", "not base64 !", "AAAA=", None])
def test_a_malformed_signature_is_refused(document: dict[str, Any], signature: object) -> None:
    with pytest.raises(SignatureInvalid):
        verify_signed_document({**document, "signature": signature}, PEM)


def test_a_quote_for_another_organisation_is_not_usable(document: dict[str, Any]) -> None:
    terms = QuoteTerms.model_validate(document)
    with pytest.raises(QuoteNotYours) as refused:
        terms.check_usable_by("startup-b", NOW)
    assert refused.value.field == "quote.buyer_org"


def test_an_expired_quote_is_not_usable(document: dict[str, Any]) -> None:
    terms = QuoteTerms.model_validate(document)
    terms.check_usable_by("startup-a", terms.expires_at - timedelta(seconds=1))
    with pytest.raises(QuoteRejected) as refused:
        terms.check_usable_by("startup-a", terms.expires_at)
    assert refused.value.field == "quote.expires_at"


def test_a_split_that_does_not_add_up_is_malformed(document: dict[str, Any]) -> None:
    broken = {**document, "split": {**document["split"], "vat": document["split"]["vat"] + 1}}
    with pytest.raises(ValueError, match="split adds up"):
        QuoteTerms.model_validate(broken)
