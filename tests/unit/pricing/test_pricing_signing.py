"""Signed quotes: verified from their JSON alone; any change to any field is detected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from services.pricing.domain import (
    Product,
    Quote,
    QuoteSignatureInvalid,
    Segment,
    SignedQuote,
    key_id_for,
    make_quote,
    price,
    sign_quote,
    verify_quote,
)

from .pricing_builders import DEFAULT_POLICY, NOW, buyer, facts

PRIVATE_KEY = Ed25519PrivateKey.generate()
PUBLIC_KEY = PRIVATE_KEY.public_key()


def issue_quote() -> Quote:
    priced = price(
        DEFAULT_POLICY, facts(), "sandbox", 90, buyer(segment="startup", prior_paid_orders=7), NOW
    )
    return make_quote(priced, purpose="Phân tích nhu cầu khám chữa bệnh", justification=None)


QUOTE = issue_quote()
SIGNED_JSON = sign_quote(QUOTE, PRIVATE_KEY).model_dump_json()


@pytest.fixture
def quote() -> Quote:
    return QUOTE


@pytest.fixture
def signed_json() -> str:
    return SIGNED_JSON


def test_the_json_as_returned_verifies_without_pricing(quote: Quote, signed_json: str) -> None:
    from_text = SignedQuote.model_validate_json(signed_json)
    from_object = SignedQuote.model_validate(json.loads(signed_json))

    assert verify_quote(from_text, PUBLIC_KEY) == quote
    assert verify_quote(from_object, PUBLIC_KEY) == quote


def test_the_signed_quote_names_its_key_and_currency(signed_json: str) -> None:
    data = json.loads(signed_json)

    assert data["key_id"] == key_id_for(PUBLIC_KEY)
    assert data["currency"] == "VND"
    assert "=" not in data["signature"]
    assert "+" not in data["signature"] and "/" not in data["signature"]


def test_canonical_bytes_do_not_depend_on_key_order(quote: Quote) -> None:
    reordered = dict(reversed(list(quote.model_dump(mode="json").items())))

    assert Quote.model_validate(reordered).canonical_bytes() == quote.canonical_bytes()


def test_another_key_does_not_verify(signed_json: str) -> None:
    other = Ed25519PrivateKey.generate().public_key()

    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(SignedQuote.model_validate_json(signed_json), other)


def test_a_quote_re_signed_by_another_key_does_not_verify_with_ours(quote: Quote) -> None:
    forged = sign_quote(quote, Ed25519PrivateKey.generate())
    forged = forged.model_copy(update={"key_id": key_id_for(PUBLIC_KEY)})

    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(forged, PUBLIC_KEY)


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path


def mutated(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    text = str(value)
    # Case-insensitively different: a UUID's "…b" and "…B" are the same id.
    return text[:-1] + ("B" if text[-1:].lower() != "b" else "C") if text else "x"


def with_leaf(data: dict[str, Any], path: tuple[Any, ...], change: Any) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(data))
    node: Any = copied
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = change(node[path[-1]])
    return copied


@pytest.mark.parametrize(
    "path", list(leaves(json.loads(SIGNED_JSON))), ids=lambda p: ".".join(map(str, p))
)
def test_changing_any_field_of_the_json_is_rejected(
    signed_json: str, path: tuple[Any, ...]
) -> None:
    data = with_leaf(json.loads(signed_json), path, mutated)

    with pytest.raises((ValidationError, QuoteSignatureInvalid)):
        verify_quote(SignedQuote.model_validate(data), PUBLIC_KEY)


PLAUSIBLE_CHANGES = {
    "buyer_org": "cong-ty-khac",
    "purpose": "Mục đích khác",
    "justification": "added later",
    "listing_version": 4,
    "duration_days": 365,
    "product": "download",
    "segment": "research_education",
    "policy_version": "2024.9",
    "expires_at": (NOW + timedelta(days=1)).isoformat(),
    "issued_at": (NOW - timedelta(minutes=1)).isoformat(),
    "id": "00000000-0000-4000-8000-000000000000",
    "listing_id": "another-listing",
}


@pytest.mark.parametrize("field", sorted(PLAUSIBLE_CHANGES))
def test_a_well_formed_change_passes_validation_but_fails_verification(
    signed_json: str, field: str
) -> None:
    data = json.loads(signed_json)
    data[field] = PLAUSIBLE_CHANGES[field]

    tampered = SignedQuote.model_validate(data)

    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(tampered, PUBLIC_KEY)


def test_moving_money_between_lines_keeps_the_sums_but_fails_verification(
    signed_json: str,
) -> None:
    data = json.loads(signed_json)
    data["lines"][0]["amount"] -= 1000
    data["lines"][1]["amount"] += 1000
    data["split"]["platform_fee"] += 1
    data["split"]["budget_share"] -= 1

    tampered = SignedQuote.model_validate(data)

    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(tampered, PUBLIC_KEY)


@pytest.mark.parametrize("field", sorted(SignedQuote.model_fields))
def test_changing_any_field_of_the_model_fails_verification(signed_json: str, field: str) -> None:
    signed = SignedQuote.model_validate_json(signed_json)
    value = getattr(signed, field)
    if isinstance(value, tuple):
        changed: Any = value[:-1]
    elif field in {"issued_at", "expires_at"}:
        changed = value + timedelta(seconds=1)
    elif field == "split":
        changed = value.model_copy(update={"vat": value.vat + 1})
    elif field == "id":
        changed = type(value)(int=value.int ^ 1)
    elif field == "product":
        changed = Product.DOWNLOAD
    elif field == "segment":
        changed = Segment.STANDARD
    else:
        changed = mutated(value)

    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(signed.model_copy(update={field: changed}), PUBLIC_KEY)


@pytest.mark.parametrize("suffix", ["=", "A", "!"], ids=["padding", "extra char", "junk char"])
def test_a_signature_in_another_encoding_is_rejected(signed_json: str, suffix: str) -> None:
    data = json.loads(signed_json)
    data["signature"] += suffix

    with pytest.raises(QuoteSignatureInvalid):
        verify_quote(SignedQuote.model_validate(data), PUBLIC_KEY)


def test_a_quote_with_inconsistent_sums_is_not_a_valid_quote(signed_json: str) -> None:
    data = json.loads(signed_json)
    data["total"] += 1

    with pytest.raises(ValidationError, match="add up"):
        SignedQuote.model_validate(data)
