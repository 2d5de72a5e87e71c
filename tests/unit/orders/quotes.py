"""Signed quotes for the orders tests, made by pricing's own model and signer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from services.pricing.domain.quote import Quote, QuoteLine, RevenueSplit, TraceStep
from services.pricing.domain.signing import QuoteSigner


def split_of(total: int) -> dict[str, int]:
    """A plausible split: 10% VAT inside the total, 15% platform, 20% budget, rest agency."""
    vat = total // 11
    net = total - vat
    platform = net * 15 // 100
    budget = net * 20 // 100
    return {
        "platform_fee": platform,
        "agency_share": net - platform - budget,
        "budget_share": budget,
        "vat": vat,
    }


def quote_document(
    signer: QuoteSigner,
    *,
    buyer_org: str,
    listing_id: str,
    total: int = 1_100_000,
    issued_at: datetime | None = None,
    ttl: timedelta = timedelta(minutes=30),
    purpose: str | None = "research",
    justification: str | None = "Nghiên cứu thị trường lao động",
) -> dict[str, Any]:
    """A signed quote as pricing's API returns it (JSON data)."""
    issued = issued_at or datetime.now(UTC)
    split = split_of(total)
    vat = split["vat"]
    lines = [
        QuoteLine(
            code="base", label_vi="Giá cơ sở", label_en="Base", amount=total - vat, kind="base"
        ),
        QuoteLine(code="vat", label_vi="Thuế GTGT", label_en="VAT", amount=vat, kind="tax"),
    ]
    if total == 0:
        lines = [
            QuoteLine(
                code="base", label_vi="Giá cơ sở", label_en="Base", amount=500_000, kind="base"
            ),
            QuoteLine(
                code="waiver",
                label_vi="Miễn phí",
                label_en="Waiver",
                amount=-500_000,
                kind="discount",
            ),
        ]
    quote = Quote(
        id=uuid4(),
        listing_id=listing_id,
        listing_version=1,
        product="download",
        duration_days=30,
        buyer_org=buyer_org,
        segment="startup",
        purpose=purpose,
        justification=justification,
        lines=tuple(lines),
        trace=(TraceStep(rule="valuation.base", inputs={"rows": "1000"}, output=str(total - vat)),),
        total=total,
        policy_version="2026.1",
        issued_at=issued,
        expires_at=issued + ttl,
        split=RevenueSplit(**split),
    )
    document: dict[str, Any] = json.loads(signer.sign(quote).model_dump_json())
    return document


def signer_from_pem(private_pem: bytes) -> QuoteSigner:
    key = load_pem_private_key(private_pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return QuoteSigner(key)


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
