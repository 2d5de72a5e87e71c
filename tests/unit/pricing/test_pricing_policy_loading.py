"""Loading policies: the shipped default, and bad policies reported by field and line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from services.pricing.domain import PolicyError, Product, Segment, load_default_policy, load_policy

from .pricing_builders import DEFAULT_POLICY_TEXT


def line_of(text: str, snippet: str) -> int:
    """1-based line of the only line containing `snippet` ('^snippet': starting with it)."""
    lines = enumerate(text.splitlines(), start=1)
    if snippet.startswith("^"):
        hits = [n for n, line in lines if line.startswith(snippet[1:])]
    else:
        hits = [n for n, line in lines if snippet in line]
    assert len(hits) == 1, f"{snippet!r} found on lines {hits}"
    return hits[0]


def line_after(text: str, anchor: str, snippet: str) -> int:
    """1-based line of the first line containing `snippet` after the line of `anchor`."""
    start = line_of(text, anchor)
    lines = text.splitlines()
    return next(n for n in range(start + 1, len(lines) + 1) if snippet in lines[n - 1])


def edited(old: str, new: str, text: str = DEFAULT_POLICY_TEXT) -> str:
    assert text.count(old) == 1, f"{old!r} is not unique in the policy"
    return text.replace(old, new)


def issues_of(text: str) -> list[tuple[str, int | None]]:
    with pytest.raises(PolicyError) as caught:
        load_policy(text)
    return [(issue.field_path, issue.line) for issue in caught.value.issues]


def test_default_policy_loads_with_the_published_terms() -> None:
    policy = load_default_policy()

    assert policy.version == "2025.1"
    assert policy.effective_from.isoformat() == "2025-06-30T17:00:00+00:00"
    assert policy.fees.vat_rate == Decimal("0.10")
    shares = policy.fees.shares
    assert (shares.platform, shares.agency, shares.state_budget) == (
        Decimal("0.10"),
        Decimal("0.40"),
        Decimal("0.50"),
    )
    assert policy.incentives.segments[Segment.STARTUP].discount_rate == Decimal("0.50")
    assert policy.incentives.segments[Segment.RESEARCH_EDUCATION].discount_rate == Decimal("0.70")
    assert policy.incentives.segments[Segment.PUBLIC_INTEREST].waiver
    assert policy.incentives.discount_cap == Decimal("0.80")
    assert policy.products[Product.DOWNLOAD].durations == (7, 30, 90, 365)
    assert policy.quote_validity_minutes == 30


def test_a_path_loads_a_file_and_text_loads_text(tmp_path: Path) -> None:
    file = tmp_path / "policy.yaml"
    file.write_text(DEFAULT_POLICY_TEXT, encoding="utf-8")

    assert load_policy(file) == load_policy(DEFAULT_POLICY_TEXT) == load_default_policy()


def test_a_path_given_as_text_is_explained() -> None:
    with pytest.raises(PolicyError, match=r"pass a pathlib\.Path"):
        load_policy("services/pricing/policies/default.yaml")


def test_decimals_are_read_exactly_not_through_binary_floats() -> None:
    policy = load_policy(edited("vat_rate: 0.10", "vat_rate: 0.0825"))

    assert policy.fees.vat_rate == Decimal("0.0825")


BAD_POLICIES = [
    pytest.param(
        "vat_rate: 0.10",
        "vat_rate: -0.10",
        "fees.vat_rate",
        "vat_rate: -0.10",
        id="negative VAT rate",
    ),
    pytest.param(
        "      discount_rate: 0.50",
        "      discount_rate: -0.50",
        "incentives.segments.startup.discount_rate",
        "discount_rate: -0.50",
        id="negative discount rate",
    ),
    pytest.param(
        "    state_budget: 0.50",
        "    state_budget: 0.45",
        "fees.shares",
        "  shares:",
        id="shares not adding up to 100%",
    ),
    pytest.param(
        "      scope: theme:environment\n      starts_at: 2026-01-01T00:00:00+07:00",
        "      scope: all\n      starts_at: 2025-10-20T00:00:00+07:00",
        "incentives.promotions[1].starts_at",
        "starts_at: 2025-10-20",
        id="overlapping promotions in one scope",
    ),
    pytest.param(
        "ends_at: 2025-11-01T00:00:00+07:00",
        "ends_at: 2025-09-01T00:00:00+07:00",
        "incentives.promotions[0].ends_at",
        "ends_at: 2025-09-01",
        id="promotion ending before it starts",
    ),
    pytest.param(
        "  download: # an anonymised extract, downloadable until the grant expires\n"
        "    factor: 1.00\n"
        "    durations: [7, 30, 90, 365]",
        "  download:\n    factor: 1.00\n    durations:\n      - 7\n      - 90\n      - 30\n      - 365",
        "products.download.durations[2]",
        "      - 30",
        id="durations not increasing",
    ),
    pytest.param(
        "    floor_ratio: 0.50",
        "    floor_ratio: 2.50",
        "valuation.list_price.floor_ratio",
        "floor_ratio: 2.50",
        id="list price floor above ceiling",
    ),
    pytest.param(
        "  minimum_charge: 50000",
        "  minimum_charge: 6000000000",
        "fees.minimum_charge",
        "minimum_charge: 6000000000",
        id="minimum charge above maximum charge",
    ),
    pytest.param(
        "  minimum_charge: 50000",
        "  minimum_charge: 50500",
        "fees.minimum_charge",
        "minimum_charge: 50500",
        id="minimum charge off the rounding step",
    ),
    pytest.param(
        "  alpha: 0.6",
        "  alpha: 1.4",
        "duration_curve.alpha",
        "alpha: 1.4",
        id="convex power curve",
    ),
    pytest.param(
        "    - up_to: 1000000\n",
        "    - up_to: 50000\n",
        "valuation.row_tiers[2].up_to",
        "up_to: 50000",
        id="row tiers not increasing",
    ),
    pytest.param(
        "      per_row: 40\n",
        "      per_row: 400\n",
        "valuation.row_tiers[1].per_row",
        "per_row: 400",
        id="value per row rising with volume",
    ),
    pytest.param(
        "    at_one: 1.20",
        "    at_one: 0.50",
        "valuation.quality.at_one",
        "at_one: 0.50",
        id="quality multiplier falling with quality",
    ),
    pytest.param(
        "    - min_prior_paid_orders: 20",
        "    - min_prior_paid_orders: 3",
        "incentives.loyalty[1].min_prior_paid_orders",
        "min_prior_paid_orders: 3",
        id="loyalty tiers not increasing",
    ),
    pytest.param(
        "  vat_rate: 0.10",
        "  vat_rate: 0.10\n  vat_exempt: false",
        "fees.vat_exempt",
        "vat_exempt: false",
        id="unknown field",
    ),
    pytest.param(
        "    foreign:\n      discount_rate: 0\n",
        "    diplomatic:\n      discount_rate: 0\n",
        "incentives.segments.diplomatic",
        "diplomatic:",
        id="unknown segment",
    ),
    pytest.param(
        "      once: 0.80\n",
        "",
        "valuation.freshness.by_update_frequency",
        "by_update_frequency:",
        id="update frequency without a multiplier",
    ),
    pytest.param(
        "  vat_rate: 0.10\n",
        "",
        "fees.vat_rate",
        "^fees:",
        id="missing field reported at its parent",
    ),
    pytest.param(
        "  rounding_step: 1000",
        "  rounding_step: 1000\n  vat_rate: 0.05",
        "fees.vat_rate",
        "vat_rate: 0.05",
        id="key given twice",
    ),
    pytest.param(
        "quote_validity_minutes: 30",
        "quote_validity_minutes: thirty",
        "quote_validity_minutes",
        "quote_validity_minutes: thirty",
        id="wrong type",
    ),
]


@pytest.mark.parametrize(("old", "new", "field_path", "line_snippet"), BAD_POLICIES)
def test_each_bad_policy_names_the_field_and_its_line(
    old: str, new: str, field_path: str, line_snippet: str
) -> None:
    text = edited(old, new)

    assert issues_of(text) == [(field_path, line_of(text, line_snippet))]


TABLE_CURVE = """duration_curve:
  kind: table
  factors:
    7: 0.40
    30: 1.00
    90: 2.00
    365: 4.50
"""


def table_policy(table: str) -> str:
    start = DEFAULT_POLICY_TEXT.index("duration_curve:\n")
    end = DEFAULT_POLICY_TEXT.index("\nfees:")
    return DEFAULT_POLICY_TEXT[:start] + table + DEFAULT_POLICY_TEXT[end:]


def test_a_concave_non_decreasing_duration_table_is_accepted() -> None:
    policy = load_policy(table_policy(TABLE_CURVE))

    assert policy.duration_curve.kind == "table"


@pytest.mark.parametrize(
    ("old", "new", "field_path", "line_snippet"),
    [
        pytest.param(
            "    90: 2.00",
            "    90: 0.90",
            "duration_curve.factors[90]",
            "90: 0.90",
            id="factor falling with duration",
        ),
        pytest.param(
            "    7: 0.40",
            "    7: 0.10",
            "duration_curve.factors[30]",
            "30: 1.00",
            id="not concave: a later day costs more than an earlier one",
        ),
        pytest.param(
            "    7: 0.40\n    30: 1.00",
            "    30: 1.00\n    7: 0.40",
            "duration_curve.factors[7]",
            "7: 0.40",
            id="durations not increasing",
        ),
    ],
)
def test_each_bad_duration_table_names_the_entry_and_its_line(
    old: str, new: str, field_path: str, line_snippet: str
) -> None:
    text = table_policy(edited(old, new, TABLE_CURVE))

    assert issues_of(text) == [(field_path, line_of(text, line_snippet))]


def test_a_product_duration_missing_from_the_table_names_the_product_duration() -> None:
    text = table_policy(edited("    90: 2.00\n", "", TABLE_CURVE))

    # Both products sell 90 days; each is reported at its own durations line.
    assert issues_of(text) == [
        ("products.download.durations[2]", line_after(text, "  download: #", "durations:")),
        ("products.sandbox.durations[2]", line_after(text, "  sandbox: #", "durations:")),
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = edited("vat_rate: 0.10", "vat_rate: -1")
    text = edited("  rounding_step: 1000", "  rounding_step: 0", text)

    assert issues_of(text) == [
        ("fees.vat_rate", line_of(text, "vat_rate: -1")),
        ("fees.rounding_step", line_of(text, "rounding_step: 0")),
    ]


def test_yaml_syntax_errors_give_the_line() -> None:
    text = edited("  vat_rate: 0.10", "  vat_rate: [0.10")

    with pytest.raises(PolicyError) as caught:
        load_policy(text)

    (issue,) = caught.value.issues
    assert issue.line is not None
    assert issue.line >= line_of(text, "vat_rate: [0.10")
    assert "not valid YAML" in issue.message


def test_the_error_message_lists_line_field_and_reason() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(edited("    state_budget: 0.50", "    state_budget: 0.45"))

    text = str(caught.value)
    assert "fees.shares" in text
    assert "must add up to 1" in text
    assert f"line {caught.value.issues[0].line}:" in text
