"""Settlement lines: four per sale, reversed by a refund; invoice references; months."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.orders.domain.quote_terms import SplitTerms
from services.orders.domain.settlement import (
    PLATFORM,
    STATE_BUDGET,
    invoice_reference,
    parse_month,
    refund_lines,
    sale_lines,
)

SPLIT = SplitTerms(platform_fee=150_000, agency_share=650_000, budget_share=200_000, vat=100_000)
PAID = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
REFUNDED = datetime(2026, 2, 1, 0, 1, tzinfo=UTC)


def test_a_sale_books_each_part_to_its_party() -> None:
    lines = sale_lines("o-1", "so-tnmt", SPLIT, PAID)
    assert {(line.part, line.party, line.amount) for line in lines} == {
        ("platform_fee", PLATFORM, 150_000),
        ("agency_share", "so-tnmt", 650_000),
        ("budget_share", STATE_BUDGET, 200_000),
        ("vat", "tax_authority", 100_000),
    }
    assert sum(line.amount for line in lines) == 1_100_000
    assert {line.month for line in lines} == {"2026-01"}


def test_a_refund_reverses_every_line_in_its_own_month() -> None:
    sale = sale_lines("o-1", "so-tnmt", SPLIT, PAID)
    reversal = refund_lines(sale, REFUNDED)
    assert sum(line.amount for line in sale + reversal) == 0
    assert [line.amount for line in reversal] == [-line.amount for line in sale]
    assert {line.entry for line in reversal} == {"refund"}
    assert {line.month for line in reversal} == {"2026-02"}


def test_invoice_references_read_like_a_bank_transfer_note() -> None:
    assert invoice_reference(2026, 123) == "VNDX-2026-000123"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "2026/01", "abcd-ef", "1999-01"])
def test_bad_months_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)


def test_a_good_month_parses() -> None:
    assert parse_month("2026-03") == (2026, 3)
