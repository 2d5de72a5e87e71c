"""The settlement ledger's lines: who receives which part of a paid order.

A paid order books one line per part of its revenue split (platform fee, the agency's
share, the state budget's share, VAT) with positive amounts; a refund books the same
lines negated. So, for any period, the sum of the lines equals the money kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.orders.domain.quote_terms import SplitTerms

Part = Literal["platform_fee", "agency_share", "budget_share", "vat"]
Entry = Literal["sale", "refund"]
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


def refund_lines(sale: list[LedgerLine], booked_at: datetime) -> list[LedgerLine]:
    """The reversal of a sale's lines, booked when the refund completes."""
    return [
        LedgerLine(
            order_id=line.order_id,
            entry="refund",
            part=line.part,
            party=line.party,
            publisher_org=line.publisher_org,
            amount=-line.amount,
            booked_at=booked_at,
        )
        for line in sale
        if line.entry == "sale"
    ]


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
