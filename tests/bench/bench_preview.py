"""Benchmark of a listing preview: what the first request costs before the cache holds it.

A preview is an extract build (the same engine, a throwaway key) plus the column
profiles measured on the extract. The reference, measured in the same run on the same
file, is the extract build alone: the preview's overhead is the profiling. Data sets:
the Adult census set (30,162 rows, 9 columns, ARX hierarchies) and the demo population
registry at ``--rows`` rows (direct identifiers, a date, a province hierarchy, a numeric
sensitive column). Each figure is the best of ``--repeat`` runs.

    .venv/bin/python tests/bench/bench_preview.py [--rows 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from services.access.anonymisation import build_extract  # noqa: E402
from services.access.domain import PrivacyTargets  # noqa: E402
from services.access.domain.listing_rules import plan_from_columns  # noqa: E402
from services.access.preview import PreviewSource, compute_preview  # noqa: E402
from vndx.demo_data import adult_listing, demo_datasets  # noqa: E402


class _LocalStore:
    """Stands in for the object store: the raw file is a local path."""

    def get_file(self, key: str, path: Path) -> None:
        shutil.copy(key, path)


def _best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def _measure(
    name: str, raw: Path, columns: list[dict[str, Any]], work: Path, repeat: int
) -> tuple[str, float, float]:
    targets = PrivacyTargets(k=5)
    plan = plan_from_columns(columns)
    fmt = "csv"

    def extract_only() -> None:
        out = Path(tempfile.mkdtemp(dir=work))
        try:
            build_extract(
                raw, fmt, plan.rules, targets, secrets.token_bytes(32), out, plan.hierarchies
            )
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def preview() -> None:
        source = PreviewSource("bench", 1, str(raw), fmt, columns, targets)
        compute_preview(_LocalStore(), source, work)  # type: ignore[arg-type]

    return name, _best(repeat, extract_only), _best(repeat, preview)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--adult", type=Path, default=REPO.parent / "shared/datasets/adult")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-preview-"))
    try:
        registry = next(d for d in demo_datasets() if d.org == "bca-c06")
        population = work / "population.csv"
        registry.write_csv(population, args.rows, random.Random(1))
        results = [
            _measure(
                "Adult census (30,162 rows)",
                args.adult / "adult.csv",
                adult_listing(args.adult)["columns"],
                work,
                args.repeat,
            ),
            _measure(
                f"population registry ({args.rows:,} rows)",
                population,
                list(registry.listing["columns"]),
                work,
                args.repeat,
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = Table(title="preview: first computation (best of runs)")
    for header in ("data", "extract build (reference) s", "preview s", "preview / extract"):
        table.add_column(header, justify="right" if header != "data" else "left")
    for name, extract_s, preview_s in results:
        table.add_row(name, f"{extract_s:.2f}", f"{preview_s:.2f}", f"{preview_s / extract_s:.2f}×")
    Console().print(table)


if __name__ == "__main__":
    main()
