"""Provider approval of purpose-bound requests: the deadline in working days.

A publisher has N working days (Monday to Friday, counted in Vietnam's time, UTC+7,
which has no daylight saving) to decide; the deadline keeps the time of day of the
placement, so an order placed on Friday at 10:00 with one working day is due on
Monday at 10:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

VIETNAM = timezone(timedelta(hours=7), "ICT")
SATURDAY = 5

Decision = Literal["approve", "reject"]


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` Monday-to-Friday days (UTC-aware result)."""
    if days < 0:
        raise ValueError("days must not be negative")
    moment = start.astimezone(VIETNAM)
    remaining = days
    while remaining:
        moment += timedelta(days=1)
        if moment.weekday() < SATURDAY:
            remaining -= 1
    while moment.weekday() >= SATURDAY:  # placed at a weekend with 0 days: next Monday
        moment += timedelta(days=1)
    return moment.astimezone(UTC)
