"""The settlement ledger's lines: who receives which part of a paid order.

A paid order books one line per part of its revenue split (platform fee, the agency's
share, the state budget's share, VAT) with positive amounts; a refund books the same
lines negated, in proportion when only part of the total is refunded (a terminated
grant's pro-rata refund). So, for any period, the sum of the lines equals the money kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.orders.domain.quote_terms import SplitTerms

Part = Literal["platform_fee", "agency_share", "budget_share", "vat"]
Entry = Literal["sale", "refund"]
RefundKind = Literal["none", "pro_rata", "full"]
REFUND_KINDS: tuple[RefundKind, ...] = ("none", "pro_rata", "full")
PARTS: tuple[Part, ...] = ("platform_fee", "agency_share", "budget_share", "vat")
PLATFORM = "platform"
STATE_BUDGET = "state_budget"
TAX_AUTHORITY = "tax_authority"


@dataclass(frozen=True)
class LedgerLine:
    order_id: str
    entry: Entry
    part: Part
    party: str
    """Who receives the amount: the agency's org code, the platform, the budget, the tax office."""
    publisher_org: str
    amount: int
    booked_at: datetime

    @property
    def month(self) -> str:
        return month_of(self.booked_at)


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def _party(part: Part, publisher_org: str) -> str:
    return {
        "platform_fee": PLATFORM,
        "agency_share": publisher_org,
        "budget_share": STATE_BUDGET,
        "vat": TAX_AUTHORITY,
    }[part]


def sale_lines(
    order_id: str, publisher_org: str, split: SplitTerms, booked_at: datetime
) -> list[LedgerLine]:
    """The lines a payment books (zero parts included, so every order has four lines)."""
    return [
        LedgerLine(
            order_id=order_id,
            entry="sale",
            part=part,
            party=_party(part, publisher_org),
            publisher_org=publisher_org,
            amount=getattr(split, part),
            booked_at=booked_at,
        )
        for part in PARTS
    ]


def refund_lines(
    sale: list[LedgerLine], booked_at: datetime, amount: int | None = None
) -> list[LedgerLine]:
    """The reversal of a sale's lines, booked when the refund completes.

    ``amount`` below the sale's total reverses each part in proportion (floors, then the
    đồng left over go to the parts with the largest remainders, in ``PARTS`` order), so
    the reversal adds up to exactly ``amount`` and no part is reversed beyond its sale.
    """
    sold = [line for line in sale if line.entry == "sale"]
    total = sum(line.amount for line in sold)
    reversed_amounts = _in_proportion([line.amount for line in sold], total, amount)
    return [
        LedgerLine(
            order_id=line.order_id,
            entry="refund",
            part=line.part,
            party=line.party,
            publisher_org=line.publisher_org,
            amount=-reversed_amount,
            booked_at=booked_at,
        )
        for line, reversed_amount in zip(sold, reversed_amounts, strict=True)
    ]


def _in_proportion(parts: list[int], total: int, amount: int | None) -> list[int]:
    if amount is None or amount >= total:
        return list(parts)
    if amount <= 0 or total <= 0:
        return [0] * len(parts)
    floors = [part * amount // total for part in parts]
    remainders = [part * amount % total for part in parts]
    left = amount - sum(floors)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-remainders[i], i))
    for index in by_remainder[:left]:
        floors[index] += 1
    return floors


def refund_amount(kind: str, total: int, remaining_seconds: int, period_seconds: int) -> int:
    """What a terminated grant's buyer gets back, in đồng.

    ``pro_rata``: the unused share of the period, ``total × remaining // period``.
    """
    if kind == "none":
        return 0
    if kind == "full":
        return total
    if kind == "pro_rata":
        if period_seconds <= 0:
            raise ValueError("a pro-rata refund needs a positive period")
        remaining = min(max(remaining_seconds, 0), period_seconds)
        return total * remaining // period_seconds
    raise ValueError(f"unknown refund kind {kind!r}; expected one of {', '.join(REFUND_KINDS)}")


def invoice_reference(year: int, number: int) -> str:
    """A bank-transfer reference such as VNDX-2026-000123."""
    return f"VNDX-{year:04d}-{number:06d}"


def parse_month(text: str) -> tuple[int, int]:
    """'2026-03' -> (2026, 3); ValueError otherwise."""
    year_text, sep, month_text = text.partition("-")
    if not (sep and len(year_text) == 4 and len(month_text) == 2) or not (
        year_text.isdigit() and month_text.isdigit()
    ):
        raise ValueError("month must look like YYYY-MM")
    year, month = int(year_text), int(month_text)
    if not 1 <= month <= 12 or year < 2000:
        raise ValueError("month must look like YYYY-MM")
    return year, month
