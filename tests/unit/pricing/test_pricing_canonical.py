"""The fast canonical encoder gives the same bytes as the rfc8785 reference on quotes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.pricing.domain import Quote, make_quote, price
from services.pricing.domain.canonical import canonical_json_reference
from services.pricing.domain.primitives import MAX_SAFE_INTEGER

from .pricing_builders import DEFAULT_POLICY, NOW, buyer, facts

BASE = make_quote(
    price(DEFAULT_POLICY, facts(), "download", 30, buyer(segment="startup"), NOW), purpose="p"
)

any_text = st.text(st.characters(codec="utf-8"), max_size=40)
amounts = st.integers(-MAX_SAFE_INTEGER // 2, MAX_SAFE_INTEGER // 2)


@settings(max_examples=300)
@given(
    purpose=st.none() | any_text,
    justification=st.none() | any_text,
    buyer_org=any_text,
    label=any_text,
    output=any_text,
    input_value=any_text,
    amount=amounts,
)
def test_quote_bytes_match_the_rfc8785_package(
    purpose: str | None,
    justification: str | None,
    buyer_org: str,
    label: str,
    output: str,
    input_value: str,
    amount: int,
) -> None:
    data: dict[str, Any] = BASE.model_dump(mode="json")
    data.update(purpose=purpose, justification=justification, buyer_org=buyer_org)
    data["lines"][0]["label_vi"] = label
    # Move money between two lines (sums unchanged), up to the largest safe integer.
    moved = amount - data["lines"][0]["amount"]
    data["lines"][0]["amount"] += moved
    data["lines"][1]["amount"] -= moved
    data["trace"][0]["output"] = output
    data["trace"][0]["inputs"]["row_count"] = input_value
    quote = Quote.model_validate(data)

    assert quote.canonical_bytes() == canonical_json_reference(quote.model_dump(mode="json"))


def test_canonical_bytes_are_compact_sorted_utf8() -> None:
    text = BASE.canonical_bytes().decode("utf-8")

    assert text.startswith('{"buyer_org":')
    assert '", "' not in text and '": ' not in text and "\n" not in text
    assert "Giá trị theo số dòng" in text  # UTF-8, not \\u escapes
