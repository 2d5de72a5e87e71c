"""Typed errors of the pricing domain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class PricingError(Exception):
    """Base class of every error the pricing domain raises on purpose."""


class PolicyIssue(NamedTuple):
    """One thing wrong with a policy: where (dotted field path, 1-based line) and what."""

    field_path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field_path}: {self.message}"


class PolicyError(PricingError):
    """A policy document that cannot be used; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[PolicyIssue]) -> None:
        self.issues = list(issues)
        super().__init__("invalid pricing policy:\n" + "\n".join(f"  {i}" for i in self.issues))


class ProductNotOffered(PricingError):
    """The policy does not offer this access product."""

    def __init__(self, product: str, offered: Sequence[str]) -> None:
        self.product = product
        self.offered = list(offered)
        super().__init__(f"product {product!r} is not offered; offered: {', '.join(offered)}")


class DurationNotOffered(PricingError):
    """The policy does not allow this access duration for the product."""

    def __init__(self, product: str, duration_days: int, allowed: Sequence[int]) -> None:
        self.product = product
        self.duration_days = duration_days
        self.allowed = list(allowed)
        super().__init__(
            f"{duration_days} days is not an allowed duration for {product}; "
            f"allowed: {', '.join(str(d) for d in allowed)}"
        )


class PolicyNotInEffect(PricingError):
    """The policy's effective_from lies after the pricing time."""


class JustificationRequired(PricingError):
    """The buyer's segment (e.g. a public-interest waiver) needs a written justification."""


class QuoteSignatureInvalid(PricingError):
    """A signed quote was altered, signed by another key, or is not a signature at all."""
