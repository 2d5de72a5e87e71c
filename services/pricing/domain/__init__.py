"""Pricing domain: the valuation and fee policy, the quote engine and quote signatures.

Pure Python (pydantic, PyYAML, rfc8785, cryptography); no I/O beyond reading a policy file.
"""

from services.pricing.domain.engine import price, price_data
from services.pricing.domain.errors import (
    DurationNotOffered,
    JustificationRequired,
    PolicyError,
    PolicyIssue,
    PolicyNotInEffect,
    PricingError,
    ProductNotOffered,
    QuoteSignatureInvalid,
)
from services.pricing.domain.facts import BuyerProfile, ClassificationCounts, DatasetFacts
from services.pricing.domain.issuing import IssuedQuote, QuoteIssuer
from services.pricing.domain.policy import Policy
from services.pricing.domain.policy_loader import (
    DEFAULT_POLICY_PATH,
    load_default_policy,
    load_policy,
)
from services.pricing.domain.primitives import (
    ADDITIVE_KINDS,
    LineKind,
    Product,
    Segment,
    UpdateFrequency,
)
from services.pricing.domain.quote import (
    PricedQuote,
    Quote,
    QuoteLine,
    RevenueSplit,
    SignedQuote,
    TraceStep,
    make_quote,
)
from services.pricing.domain.signing import QuoteSigner, key_id_for, sign_quote, verify_quote

__all__ = [
    "ADDITIVE_KINDS",
    "DEFAULT_POLICY_PATH",
    "BuyerProfile",
    "ClassificationCounts",
    "DatasetFacts",
    "DurationNotOffered",
    "IssuedQuote",
    "JustificationRequired",
    "LineKind",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PolicyNotInEffect",
    "PricedQuote",
    "PricingError",
    "Product",
    "ProductNotOffered",
    "Quote",
    "QuoteIssuer",
    "QuoteLine",
    "QuoteSignatureInvalid",
    "QuoteSigner",
    "RevenueSplit",
    "Segment",
    "SignedQuote",
    "TraceStep",
    "UpdateFrequency",
    "key_id_for",
    "load_default_policy",
    "load_policy",
    "make_quote",
    "price",
    "price_data",
    "sign_quote",
    "verify_quote",
]
