"""Rules of a listing preview's column profiles: what may be shown of the anonymised data.

- a count of 1..k-1 is shown as ``"<k"`` (0 stays 0);
- a numeric histogram starts from bins of a round width and merges neighbours
  until every bin holds at least k rows (fewer than k rows in all: no bins);
- synthetic rows draw each column on its own from what the profile shows: values
  with an exact count (so at least k rows), or a point inside a histogram bin;
  they never copy a row, and carry no direct identifier.

Pure functions, no I/O.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Count = int | str
TOP_VALUES = 10
FINE_BINS = 20
MAX_SYNTHETIC_ROWS = 20


def masked(count: int, k: int) -> Count:
    """The count as shown: exact when 0 or at least k, else ``"<k"``."""
    return count if count == 0 or count >= k else f"<{k}"


@dataclass(frozen=True)
class Bin:
    lower: float
    upper: float
    count: int

    def as_json(self, integer: bool) -> dict[str, Any]:
        def edge(x: float) -> float | int:
            return int(x) if integer else x

        return {"from": edge(self.lower), "to": edge(self.upper), "count": self.count}


def _round(x: float) -> float:
    """Drop the float noise of ``lo + i * step`` (12 significant digits)."""
    return float(f"{x:.12g}")


def nice_step(span: float, *, integer: bool, bins: int = FINE_BINS) -> float:
    """A round bin width (1, 2 or 5 times a power of ten) giving about ``bins`` bins."""
    raw = span / bins if span > 0 else 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-12))
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return _round(step)


def fine_origin(minimum: float, step: float) -> float:
    """The lower edge of the first fine bin: ``minimum`` rounded down to the step."""
    return _round(math.floor(minimum / step) * step)


def merge_bins(counts: Mapping[int, int], origin: float, step: float, k: int) -> list[Bin]:
    """Merge the fine bins ``{index: rows}`` left to right until each holds ≥ k rows."""
    merged: list[Bin] = []
    pending: Bin | None = None
    for index in sorted(i for i, n in counts.items() if n > 0):
        lower, upper = _round(origin + index * step), _round(origin + (index + 1) * step)
        pending = (
            Bin(lower, upper, counts[index])
            if pending is None
            else Bin(pending.lower, upper, pending.count + counts[index])
        )
        if pending.count >= k:
            merged.append(pending)
            pending = None
    if pending is not None:
        if not merged:
            return []
        last = merged.pop()
        merged.append(Bin(last.lower, pending.upper, last.count + pending.count))
    return merged


def categorical_profile(
    top: Sequence[tuple[str, int]], non_null: int, nulls: int, k: int
) -> dict[str, Any]:
    """The most frequent values (at most ``TOP_VALUES``) with masked counts."""
    shown = list(top[:TOP_VALUES])
    other = non_null - sum(n for _, n in shown)
    return {
        "kind": "categorical",
        "top": [{"value": value, "count": masked(n, k)} for value, n in shown],
        "other": masked(other, k),
        "nulls": masked(nulls, k),
    }


def histogram_profile(
    bins: Sequence[Bin], non_null: int, nulls: int, k: int, *, integer: bool
) -> dict[str, Any]:
    return {
        "kind": "histogram",
        "bins": [b.as_json(integer) for b in bins],
        "values": masked(non_null, k),
        "nulls": masked(nulls, k),
    }


def withheld_profile() -> dict[str, Any]:
    return {"kind": "withheld", "note": "a direct identifier: no value of it is shown"}


def _draw(profile: Mapping[str, Any], rng: random.Random) -> Any:
    kind = profile.get("kind")
    if kind == "categorical":
        exact = [(t["value"], t["count"]) for t in profile["top"] if isinstance(t["count"], int)]
        exact = [(v, n) for v, n in exact if n > 0]
        if not exact:
            return None
        return rng.choices([v for v, _ in exact], weights=[n for _, n in exact])[0]
    if kind == "histogram":
        bins = profile["bins"]
        if not bins:
            return None
        chosen = rng.choices(bins, weights=[b["count"] for b in bins])[0]
        lower, upper = chosen["from"], chosen["to"]
        if isinstance(lower, int) and isinstance(upper, int):
            return rng.randrange(lower, upper) if upper > lower else lower
        return _round(rng.uniform(lower, upper))
    return None


def synthetic_rows(
    columns: Sequence[Mapping[str, Any]], seed: str, rows: int = MAX_SYNTHETIC_ROWS
) -> list[dict[str, Any]]:
    """Rows drawn column by column from the shown marginals, marked synthetic.

    Direct identifiers (withheld profiles) are left out.
    """
    rng = random.Random(seed)
    drawable = [c for c in columns if c["profile"]["kind"] != "withheld"]
    return [
        {"synthetic": True, "values": {c["name"]: _draw(c["profile"], rng) for c in drawable}}
        for _ in range(min(rows, MAX_SYNTHETIC_ROWS))
    ]
