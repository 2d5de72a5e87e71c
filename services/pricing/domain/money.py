"""Exact arithmetic for money and the rounding rules every quote follows.

Rules (documented in docs/pricing.md):
- intermediate values are Decimals computed with 40 significant digits;
- derived factors (powers, interpolations) are rounded half-up to 6 decimal places
  before use, so that the factor printed in a quote is exactly the factor applied;
- each charge line is rounded half-up to whole đồng, once;
- discounts and revenue shares are rounded down, so that they never exceed their rate.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

MONEY_CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN)
FACTOR_QUANTUM = Decimal("0.000001")
_ONE = Decimal(1)


def round_factor(value: Decimal) -> Decimal:
    """Round a derived factor half-up to 6 decimal places."""
    return value.quantize(FACTOR_QUANTUM, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)


def round_half_up(value: Decimal) -> int:
    """Round to whole đồng, halves away from zero."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT))


def round_down(value: Decimal) -> int:
    """Round towards minus infinity to whole đồng."""
    return int(value.quantize(_ONE, rounding=ROUND_FLOOR, context=MONEY_CONTEXT))


def round_to_step(amount: int, step: int) -> int:
    """Round a non-negative amount half-up to a multiple of `step` đồng."""
    return ((2 * amount + step) // (2 * step)) * step


def format_factor(value: Decimal) -> str:
    """A factor as plain decimal text without trailing zeros, e.g. '1.25'."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(rate: Decimal) -> str:
    """A rate in [0, 1] as a percentage, e.g. Decimal('0.5') -> '50%'."""
    return format_factor(rate * 100) + "%"
