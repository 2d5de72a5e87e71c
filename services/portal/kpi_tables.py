"""The KPI dashboard's figures, shaped from the audit service's windowed counters.

Each chart is a small table (labels down, series across) that the page draws,
shows as an accessible table, and offers as CSV.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Any

DIMENSIONS = ("theme", "agency", "province")


@dataclass(frozen=True)
class Chart:
    """One chart: an id, the label column, series names and rows of numbers."""

    key: str
    label: str
    series: tuple[str, ...]
    rows: list[tuple[str, list[float]]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([self.label, *self.series])
        for label, values in self.rows:
            writer.writerow([label, *values])
        return out.getvalue()

    def data(self) -> dict[str, Any]:
        return {
            "labels": [label for label, _ in self.rows],
            "series": {
                name: [values[i] for _, values in self.rows] for i, name in enumerate(self.series)
            },
        }


def revenue_by_month(items: list[dict[str, Any]]) -> Chart:
    """Revenue and the state-budget share per month (summed over agencies)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in items:
        totals[row["period"]][0] += row.get("revenue", 0)
        totals[row["period"]][1] += row.get("budget_share", 0)
    return Chart("revenue", "month", ("revenue", "budget_share"), sorted(totals.items()))


def activity_by(items: list[dict[str, Any]], dimension: str) -> Chart:
    """Orders and grants per value of a dimension (all months together)."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in items:
        totals[row["value"] or "—"][0] += row.get("orders", 0)
        totals[row["value"] or "—"][1] += row.get("grants", 0)
    ranked = sorted(totals.items(), key=lambda item: (-item[1][0], item[0]))
    return Chart(f"activity-{dimension}", dimension, ("orders", "grants"), ranked)


def access_delay_by_month(items: list[dict[str, Any]]) -> Chart:
    """Median seconds from payment to access per month (median over the agencies' medians)."""
    delays: dict[str, list[float]] = defaultdict(list)
    for row in items:
        if row.get("median_payment_to_grant_s") is not None:
            delays[row["period"]].append(float(row["median_payment_to_grant_s"]))
    rows = [(month, [round(median(values), 1)]) for month, values in sorted(delays.items())]
    return Chart("delay", "month", ("median_payment_to_grant_s",), rows)
