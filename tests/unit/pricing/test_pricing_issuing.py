"""The service's fast path (`QuoteIssuer`) gives exactly the quote the reference path signs.

Reference: `price` + `make_quote` + `QuoteSigner.sign` (three validated models, JCS by
the standard encoder, checked against the `rfc8785` package elsewhere). The issuer's memo
is exercised by issuing twice at times that may differ in staleness and promotions.
"""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.pricing.domain import (
    BuyerProfile,
    DatasetFacts,
    JustificationRequired,
    Policy,
    Product,
    QuoteIssuer,
    QuoteSigner,
    Segment,
    SignedQuote,
    make_quote,
    price,
    verify_quote,
)
from services.pricing.domain.canonical import canonical_json_reference

from .pricing_builders import DEFAULT_POLICY, NOW, buyer, buyers, dataset_facts, facts, policies

KEY = Ed25519PrivateKey.generate()
SIGNER = QuoteSigner(KEY)
ISSUER = QuoteIssuer(SIGNER, capacity=64)


def reference(
    policy: Policy,
    data: DatasetFacts,
    product: Product,
    days: int,
    who: BuyerProfile,
    at_offset: timedelta,
    purpose: str,
    justification: str | None,
    quote_id: object,
) -> SignedQuote:
    priced = price(policy, data, product, days, who, NOW + at_offset)
    quote = make_quote(
        priced,
        purpose=purpose,
        justification=justification,
        quote_id=quote_id,  # type: ignore[arg-type]
    )
    return SIGNER.sign(quote)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    policy=policies(),
    data=dataset_facts(),
    who=buyers,
    choice=st.data(),
    purpose=st.sampled_from(["research", "statistics", "journalism"]),
    justification=st.text(max_size=40),
    offsets=st.lists(st.integers(0, 400), min_size=2, max_size=2),
)
def test_the_fast_path_signs_exactly_the_reference_quote(
    policy: Policy,
    data: DatasetFacts,
    who: BuyerProfile,
    choice: st.DataObject,
    purpose: str,
    justification: str,
    offsets: list[int],
) -> None:
    product = choice.draw(st.sampled_from(sorted(policy.products)))
    days = choice.draw(st.sampled_from(policy.products[product].durations))
    if not justification.strip():
        justification = "a study"
    for offset in offsets:  # the second call may hit the memo of the first
        at = timedelta(days=offset)
        quote_id = uuid4()
        fast = ISSUER.issue(
            policy,
            data,
            product,
            days,
            who,
            NOW + at,
            purpose=purpose,
            justification=justification,
            quote_id=quote_id,
        )
        slow = reference(policy, data, product, days, who, at, purpose, justification, quote_id)

        parsed = SignedQuote.model_validate_json(fast.document)
        assert parsed == slow
        assert verify_quote(parsed, KEY.public_key()) == slow.unsigned()
        body = json.loads(fast.document)
        signature = body.pop("signature")
        assert signature == slow.signature
        assert fast.document == canonical_json_reference(body)[:-1] + (
            f',"signature":"{signature}"}}'.encode()
        )
        assert (fast.total, fast.segment, fast.purpose) == (slow.total, slow.segment, purpose)


def test_a_changed_byte_of_the_fast_document_fails_verification() -> None:
    fast = ISSUER.issue(
        DEFAULT_POLICY,
        facts(),
        "download",
        30,
        buyer(segment=Segment.STARTUP, verified=True),
        NOW,
        purpose="research",
        justification="x",
    )
    body = json.loads(fast.document)
    for field, value in (("buyer_org", "someone-else"), ("purpose", "journalism")):
        tampered = SignedQuote.model_validate({**body, field: value})
        with pytest.raises(Exception, match="signature"):
            verify_quote(tampered, KEY.public_key())


def test_the_fast_path_requires_a_justification_where_the_segment_does() -> None:
    public_interest = buyer(segment=Segment.PUBLIC_INTEREST, verified=True)
    with pytest.raises(JustificationRequired):
        ISSUER.issue(
            DEFAULT_POLICY,
            facts(),
            "download",
            30,
            public_interest,
            NOW,
            purpose="public_service",
            justification="  ",
        )


def test_an_unverified_claim_is_priced_as_standard_with_the_reason_in_the_trace() -> None:
    claimed = price(
        DEFAULT_POLICY, facts(), "download", 30, buyer(segment=Segment.STARTUP, verified=False), NOW
    )
    assert claimed.segment is Segment.STANDARD
    assert "discount.segment" not in {line.code for line in claimed.lines}
    [why] = [s for s in claimed.trace if s.rule == "incentives.segments.verification"]
    assert why.inputs == {"declared": "startup", "verified": "false"}
    assert "not verified in segment startup" in why.output
    verified = price(
        DEFAULT_POLICY,
        facts(),
        "download",
        30,
        buyer(segment=Segment.STARTUP, verified=True),
        NOW,
    )
    assert not [s for s in verified.trace if s.rule == "incentives.segments.verification"]
