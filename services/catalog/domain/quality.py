"""Quality score of a data version: completeness, validity and freshness.

``quality = 0.4 * completeness + 0.4 * validity + 0.2 * freshness``, each in [0, 1].
Freshness is 1 while the data's temporal coverage ends within one update period
of the upload and halves with every further period.
"""

from __future__ import annotations

from datetime import date

from services.catalog.domain.reference import UPDATE_FREQUENCIES

WEIGHTS = (0.4, 0.4, 0.2)


def freshness(update_frequency: str, coverage_end: date | None, today: date) -> float:
    period = UPDATE_FREQUENCIES.get(update_frequency)
    if coverage_end is None or period is None:
        return 1.0
    lag_days = max((today - coverage_end).days, 0)
    if lag_days <= period:
        return 1.0
    return round(float(0.5 ** ((lag_days - period) / period)), 4)


def quality_score(completeness: float, validity: float, fresh: float) -> float:
    wc, wv, wf = WEIGHTS
    return round(wc * completeness + wv * validity + wf * fresh, 4)
