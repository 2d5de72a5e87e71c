"""The service's fast path from a quote request to signed quote JSON.

`price` + `make_quote` + `QuoteSigner.sign` validate three pydantic models and dump one
per quote. A quote's lines and trace depend only on the policy, the dataset version's
facts, the product and duration, the buyer's segment (claimed, verified) and loyalty, and
on two facts of the time: whether the data is stale and which promotions run. The
`QuoteIssuer` prices each such combination once (validated as a `PricedQuote`), keeps its
lines, trace and split as RFC 8785 fragments, and per quote only encodes the few fields
that differ (id, buyer, times, purpose) and signs. The assembled bytes are exactly the
JCS form of the whole document, so the result is an ordinary `SignedQuote` that
`verify_quote` accepts (the unit tests compare both paths byte for byte).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from pydantic import TypeAdapter

from services.pricing.domain import valuation
from services.pricing.domain.canonical import canonical_json
from services.pricing.domain.engine import check_request, price_data
from services.pricing.domain.errors import JustificationRequired
from services.pricing.domain.facts import BuyerProfile, DatasetFacts
from services.pricing.domain.policy import Policy
from services.pricing.domain.quote import PricedQuote
from services.pricing.domain.signing import QuoteSigner

_DATETIME = TypeAdapter(datetime)
_MEMBER_PREFIX = {
    name: b'"' + name.encode("ascii") + b'":'
    for name in (
        "buyer_org",
        "currency",
        "duration_days",
        "expires_at",
        "id",
        "issued_at",
        "justification",
        "key_id",
        "lines",
        "listing_id",
        "listing_version",
        "policy_version",
        "product",
        "purpose",
        "segment",
        "split",
        "total",
        "trace",
    )
}
"""`"name":` of every member of the signed body (names are ASCII: sorted by code point
is RFC 8785's order)."""


@dataclass(frozen=True, slots=True)
class IssuedQuote:
    """A signed quote as JSON bytes (what the buyer receives), and the fields stored beside it."""

    id: str
    listing_id: str
    listing_version: int
    buyer_org: str
    segment: str
    product: str
    duration_days: int
    total: int
    currency: str
    policy_version: str
    issued_at: datetime
    expires_at: datetime
    purpose: str | None
    justification: str | None
    document: bytes


@dataclass(frozen=True, slots=True)
class _Priced:
    """What every quote of one pricing combination shares, with its JSON pre-encoded."""

    listing_id: str
    listing_version: int
    product: str
    duration_days: int
    segment: str
    total: int
    policy_version: str
    requires_justification: bool
    validity: timedelta
    constant_fields: dict[str, bytes]


def _json(value: object) -> bytes:
    return canonical_json(value)


def _prepare(priced: PricedQuote, validity: timedelta) -> _Priced:
    dumped = priced.model_dump(mode="json", include={"lines", "trace", "split"})
    return _Priced(
        listing_id=priced.listing_id,
        listing_version=priced.listing_version,
        product=priced.product.value,
        duration_days=priced.duration_days,
        segment=priced.segment.value,
        total=priced.total,
        policy_version=priced.policy_version,
        requires_justification=priced.requires_justification,
        validity=validity,
        constant_fields={
            "currency": _json("VND"),
            "duration_days": _json(priced.duration_days),
            "lines": _json(dumped["lines"]),
            "listing_id": _json(priced.listing_id),
            "listing_version": _json(priced.listing_version),
            "policy_version": _json(priced.policy_version),
            "product": _json(priced.product.value),
            "segment": _json(priced.segment.value),
            "split": _json(dumped["split"]),
            "total": _json(priced.total),
            "trace": _json(dumped["trace"]),
        },
    )


class QuoteIssuer:
    """Prices, signs and serialises quotes; remembers up to `capacity` priced combinations.

    A memo entry belongs to one parsed Policy object (policies are immutable and cached by
    version and text hash), so a newly activated policy never reuses another's prices.
    """

    def __init__(self, signer: QuoteSigner, capacity: int = 4096) -> None:
        self.signer = signer
        self._capacity = capacity
        self._memo: OrderedDict[Hashable, _Priced] = OrderedDict()
        self._policies: dict[int, Policy] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        policy: Policy,
        facts: DatasetFacts,
        product: str,
        duration_days: int,
        buyer: BuyerProfile,
        now: datetime,
        *,
        purpose: str | None,
        justification: str | None,
        quote_id: UUID | None = None,
    ) -> IssuedQuote:
        """Raises what `price` raises, and JustificationRequired."""
        checked = check_request(policy, facts, product, duration_days, now)
        priced = self._priced(policy, facts, checked.value, duration_days, buyer, now)
        if priced.requires_justification and not (justification and justification.strip()):
            raise JustificationRequired(
                f"segment {priced.segment} requires a written justification"
            )
        issued_at = now
        expires_at = now + priced.validity
        quote = str(quote_id or uuid4())
        fields = {
            **priced.constant_fields,
            "buyer_org": _json(buyer.org),
            "expires_at": _json(_DATETIME.dump_python(expires_at, mode="json")),
            "id": _json(quote),
            "issued_at": _json(_DATETIME.dump_python(issued_at, mode="json")),
            "justification": _json(justification),
            "key_id": _json(self.signer.key_id),
            "purpose": _json(purpose),
        }
        signed_bytes = (
            b"{" + b",".join(_MEMBER_PREFIX[name] + fields[name] for name in sorted(fields)) + b"}"
        )
        signature = self.signer.sign_bytes(signed_bytes)
        # Canonical JSON ends with the object's closing brace: the signature goes before it.
        document = signed_bytes[:-1] + b',"signature":"' + signature.encode("ascii") + b'"}'
        return IssuedQuote(
            id=quote,
            listing_id=priced.listing_id,
            listing_version=priced.listing_version,
            buyer_org=buyer.org,
            segment=priced.segment,
            product=priced.product,
            duration_days=priced.duration_days,
            total=priced.total,
            currency="VND",
            policy_version=priced.policy_version,
            issued_at=issued_at,
            expires_at=expires_at,
            purpose=purpose,
            justification=justification,
            document=document,
        )

    def _priced(
        self,
        policy: Policy,
        facts: DatasetFacts,
        product: str,
        duration_days: int,
        buyer: BuyerProfile,
        now: datetime,
    ) -> _Priced:
        terms = policy.valuation.freshness
        stale = valuation.is_stale(terms, facts.update_frequency, facts.last_updated, now)
        running = tuple(
            p.id for p in policy.incentives.promotions if p.starts_at <= now < p.ends_at
        )
        key = (
            id(policy),
            facts,
            product,
            duration_days,
            buyer.segment,
            buyer.verified,
            buyer.prior_paid_orders,
            stale,
            running,
        )
        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
                return found
        priced = PricedQuote.model_validate(
            price_data(policy, facts, product, duration_days, buyer, now)
        )
        entry = _prepare(priced, timedelta(minutes=policy.quote_validity_minutes))
        with self._lock:
            self._policies[id(policy)] = policy
            self._memo[key] = entry
            while len(self._memo) > self._capacity:
                self._memo.popitem(last=False)
        return entry
