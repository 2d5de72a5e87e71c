"""The dashboard's charts from the audit service's KPI rows, and their CSV."""

from __future__ import annotations

from services.portal.kpi_tables import access_delay_by_month, activity_by, revenue_by_month

ROWS = [
    {
        "period": "2026-10",
        "value": "gso",
        "revenue": 100,
        "budget_share": 10,
        "orders": 1,
        "grants": 1,
        "median_payment_to_grant_s": 4.0,
    },
    {
        "period": "2026-11",
        "value": "gso",
        "revenue": 300,
        "budget_share": 30,
        "orders": 2,
        "grants": 1,
        "median_payment_to_grant_s": 2.0,
    },
    {
        "period": "2026-11",
        "value": "mof",
        "revenue": 50,
        "budget_share": 5,
        "orders": 3,
        "grants": 3,
        "median_payment_to_grant_s": None,
    },
]


def test_revenue_and_budget_share_are_summed_per_month() -> None:
    chart = revenue_by_month(ROWS)
    assert chart.rows == [("2026-10", [100.0, 10.0]), ("2026-11", [350.0, 35.0])]
    assert chart.csv().splitlines() == [
        "month,revenue,budget_share",
        "2026-10,100.0,10.0",
        "2026-11,350.0,35.0",
    ]


def test_activity_is_ranked_by_orders() -> None:
    chart = activity_by(ROWS, "agency")
    assert [label for label, _ in chart.rows] == ["gso", "mof"]
    assert chart.data()["series"]["orders"] == [3.0, 3.0]


def test_the_delay_skips_months_without_figures() -> None:
    assert access_delay_by_month(ROWS).rows == [("2026-10", [4.0]), ("2026-11", [2.0])]
