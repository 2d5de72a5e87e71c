"""The worked example of docs/pricing.md, computed by the engine under the default policy.

Run `.venv/bin/python tests/unit/pricing/worked_example.py` to print the Markdown that
docs/pricing.md embeds between its worked-example markers; a unit test checks they match.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.pricing.domain import (
    BuyerProfile,
    DatasetFacts,
    PricedQuote,
    load_default_policy,
    price,
)

HANOI = timezone(timedelta(hours=7))

FACTS = DatasetFacts(
    listing_id="7d4f0c2e-9a61-4b8e-b1f3-0c5e2a9d8f10",
    version=2,
    org="so-y-te-ha-noi",
    theme="health",
    provinces=("ha-noi",),
    row_count=250_000,
    column_count=12,
    classification={
        "direct_identifier": 1,
        "quasi_identifier": 3,
        "sensitive": 2,
        "attribute": 6,
    },
    quality_score="0.85",
    update_frequency="monthly",
    last_updated=datetime(2025, 9, 20, 8, 0, tzinfo=HANOI),
)
BUYER = BuyerProfile(
    org="cong-ty-co-phan-suc-khoe-so", segment="startup", verified=True, prior_paid_orders=6
)
WHEN = datetime(2025, 10, 15, 10, 0, tzinfo=HANOI)
START = "<!-- worked-example:start -->"
END = "<!-- worked-example:end -->"


def worked_quote() -> PricedQuote:
    return price(load_default_policy(), FACTS, "download", 90, BUYER, WHEN)


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def render() -> str:
    """Markdown tables of the quote's lines, trace and split."""
    quote = worked_quote()
    out = [
        START,
        "",
        "| # | code | kind | label (vi) | label (en) | amount (đồng) |",
        "| ---: | --- | --- | --- | --- | ---: |",
    ]
    for number, line in enumerate(quote.lines, start=1):
        out.append(
            f"| {number} | `{line.code}` | {line.kind.value} | {line.label_vi} | "
            f"{line.label_en} | {_money(line.amount)} |"
        )
    out += [
        "",
        f"subtotal {_money(quote.subtotal)} · discount_total {_money(quote.discount_total)} · "
        f"net {_money(quote.net)} · vat {_money(quote.vat)} · **total {_money(quote.total)}**",
        "",
        "Split: "
        f"platform_fee {_money(quote.split.platform_fee)} + "
        f"agency_share {_money(quote.split.agency_share)} + "
        f"budget_share {_money(quote.split.budget_share)} + "
        f"vat {_money(quote.split.vat)} = {_money(quote.split.total)}",
        "",
        "Trace:",
        "",
        "| rule | inputs | output |",
        "| --- | --- | --- |",
    ]
    for step in quote.trace:
        inputs = ", ".join(f"{name}={value}" for name, value in step.inputs.items())
        out.append(f"| `{step.rule}` | {inputs} | {step.output} |")
    out += ["", END]
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
