"""Benchmark: extract build time and peak memory against a plain Parquet copy.

Builds a synthetic 1,000,000-row, 12-column dataset of citizens' clinic visits,
then, each in a fresh child process (so peak RSS is its own), times:
  - a plain pyarrow Parquet read + write of the same data (the I/O limit);
  - the anonymised extract build (k=5, ℓ=2, 5 % suppression);
  - the Adult census extract to k=5.
Prints the figures; goals: extract <= 3x the plain copy, peak <= 1 GiB, Adult < 2 s.

Run: .venv/bin/python tests/bench/bench_extract.py [--rows N]

Peak RSS is each child's own; CPU is its user + system time (less sensitive than
wall time to other work on a shared machine, though contention inflates it too).

Measured on the 2-core development VM, 1,000,000 rows, 26 Nov 2026. The machine was
shared and heavily loaded (load average 15-30), so wall times are several times
what an idle machine gives; compare ratios within one run:
  before (commit e58ed37): plain copy 8.44 s; extract 86.5 s (10.2x) / 721 MiB;
    profile 12.9, search 28.1, write 19.3, verify (pycanon) 26.2 s; Adult 2.90 s.
  after: plain copy 10.61 s, CPU 2.96 s; extract 58.9 s (5.5x) / 741 MiB,
    CPU 8.67 s (2.9x); profile (with pseudonyms hashed alongside) 19.3, search 16.8,
    write 18.9, verify (Arrow) 3.8 s; identical node and figures (k=5, l=2,
    suppression 0.65 %, loss 0.0810). Adult to k=5: 0.33 s of CPU before and after
    (0.27 s wall on an idle machine in the earlier session), 3 s wall at load 30.
  Earlier, on a quieter machine: plain copy 1.47 s, extract 12.1 s (8.2x).
"""

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.access.anonymisation import build_extract  # noqa: E402
from services.access.domain import (  # noqa: E402
    AdminLevel,
    ColumnRule,
    DateTruncation,
    HierarchyTable,
    NumericBands,
    PrivacyTargets,
    Suppress,
    derive_grant_key,
)

ADULT = Path("/work/shared/datasets/adult")
ADULT_QI = [
    "sex",
    "age",
    "race",
    "marital-status",
    "education",
    "native-country",
    "workclass",
    "occupation",
]
REGIONS = 8
PROVINCES = 63
COMMUNES = 2000
OCCUPATION_GROUPS = 8
OCCUPATIONS = 40
ETHNIC_GROUPS = 54
DIAGNOSES = 30


def write_synthetic(directory: Path, rows: int, seed: int = 7) -> Path:
    """The dataset, its commune→province→region table and occupation hierarchy."""
    rng = np.random.default_rng(seed)
    commune = rng.integers(0, COMMUNES, rows)
    occupation = rng.integers(0, OCCUPATIONS, rows)
    ethnicity = np.where(rng.random(rows) < 0.85, 0, rng.integers(1, ETHNIC_GROUPS, rows))
    birth_days = rng.integers(-25_000, 19_000, rows).astype("int32")
    table = pa.table(
        {
            "citizen_id": pa.array([f"0{n:011d}" for n in rng.permutation(rows) + 79_000_000_000]),
            "full_name": pa.array([f"Nguyễn Văn {n}" for n in range(rows)]),
            "phone": pa.array([f"09{n:08d}" for n in rng.integers(0, 10**8, rows)]),
            "birth_date": pa.array(birth_days, pa.date32()),
            "sex": pa.array(np.where(rng.random(rows) < 0.5, "F", "M")),
            "commune": pa.array([f"C{n:05d}" for n in commune]),
            "occupation": pa.array([f"occ-{n:02d}" for n in occupation]),
            "ethnicity": pa.array([f"eth-{n:02d}" for n in ethnicity]),
            "household_size": pa.array(rng.integers(1, 12, rows)),
            "diagnosis": pa.array([f"ICD-{n:02d}" for n in rng.integers(0, DIAGNOSES, rows)]),
            "visit_date": pa.array(rng.integers(19_000, 20_000, rows).astype("int32"), pa.date32()),
            "amount_paid_vnd": pa.array(rng.integers(50, 5_000, rows) * 1_000),
        }
    )
    source = directory / "visits.parquet"
    pq.write_table(table, source, row_group_size=128 * 1024)
    communes = [
        f"C{c:05d},P{c % PROVINCES:02d},R{(c % PROVINCES) % REGIONS}" for c in range(COMMUNES)
    ]
    (directory / "admin.csv").write_text("commune,province,region\n" + "\n".join(communes))
    occupations = [f"occ-{o:02d};group-{o % OCCUPATION_GROUPS};*" for o in range(OCCUPATIONS)]
    (directory / "occupation.csv").write_text("\n".join(occupations))
    ethnic = [f"eth-{e:02d};{'Kinh' if e == 0 else 'minority'};*" for e in range(ETHNIC_GROUPS)]
    (directory / "ethnicity.csv").write_text("\n".join(ethnic))
    return source


SYNTHETIC_RULES = [
    ColumnRule(name="citizen_id", classification="direct_identifier", keep_as_pseudonym=True),
    ColumnRule(name="full_name", classification="direct_identifier"),
    ColumnRule(name="phone", classification="direct_identifier"),
    ColumnRule(name="birth_date", classification="quasi_identifier", hint=DateTruncation()),
    ColumnRule(name="sex", classification="quasi_identifier", hint=Suppress()),
    ColumnRule(name="commune", classification="quasi_identifier", hint=AdminLevel(table="admin")),
    ColumnRule(name="occupation", classification="quasi_identifier", hint=HierarchyTable()),
    ColumnRule(name="ethnicity", classification="quasi_identifier", hint=HierarchyTable()),
    ColumnRule(
        name="household_size",
        classification="quasi_identifier",
        hint=NumericBands(widths=(2, 4, 8)),
    ),
    ColumnRule(name="diagnosis", classification="sensitive"),
    ColumnRule(name="visit_date", classification="attribute"),
    ColumnRule(name="amount_paid_vnd", classification="attribute"),
]


def plain_copy(directory: Path) -> dict[str, Any]:
    table = pq.read_table(directory / "visits.parquet")
    pq.write_table(table, directory / "copy.parquet")
    return {"rows": table.num_rows}


def synthetic_extract(directory: Path) -> dict[str, Any]:
    stage_starts: dict[str, float] = {}
    result = build_extract(
        directory / "visits.parquet",
        "parquet",
        SYNTHETIC_RULES,
        PrivacyTargets(k=5, l=2, max_suppression=0.05),
        derive_grant_key(
            b"bench-master-key-0123456789abcdef", "00000000-0000-4000-8000-000000000001"
        ),
        directory / "extract",
        {
            "admin": directory / "admin.csv",
            "occupation": directory / "occupation.csv",
            "ethnicity": directory / "ethnicity.csv",
        },
        progress=lambda stage, _fraction: _mark(stage_starts, stage),
    )
    return {"result": result, "stage_starts": stage_starts}


def _mark(starts: dict[str, float], stage: str) -> None:
    starts.setdefault(stage, time.perf_counter())


def adult_extract(directory: Path) -> dict[str, Any]:
    rules = [
        ColumnRule(name=q, classification="quasi_identifier", hint=HierarchyTable())
        for q in ADULT_QI
    ] + [ColumnRule(name="salary-class", classification="sensitive")]
    result = build_extract(
        ADULT / "adult.csv",
        "csv",
        rules,
        PrivacyTargets(k=5),
        b"\x01" * 32,
        directory / "adult",
        {q: ADULT / f"adult_hierarchy_{q}.csv" for q in ADULT_QI},
    )
    return {"result": result}


def _child(
    job: Callable[[Path], dict[str, Any]],
    directory: Path,
    queue: "multiprocessing.Queue[dict[str, Any]]",
) -> None:
    started = time.perf_counter()
    outcome = job(directory)
    outcome["seconds"] = time.perf_counter() - started
    outcome["start"] = started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    outcome["peak_rss_mib"] = usage.ru_maxrss / 1024
    outcome["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    queue.put(outcome)


def measure(job: Callable[[Path], dict[str, Any]], directory: Path) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[dict[str, Any]] = context.Queue()
    process = context.Process(target=_child, args=(job, directory, queue))
    process.start()
    outcome = queue.get()
    process.join()
    assert isinstance(outcome, dict)
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        source = write_synthetic(directory, args.rows)
        print(
            f"synthetic data: {args.rows:,} rows, {source.stat().st_size / 2**20:.1f} MiB "
            f"Parquet, generated in {time.perf_counter() - started:.1f} s"
        )
        copy = measure(plain_copy, directory)
        extract = measure(synthetic_extract, directory)
        adult = measure(adult_extract, directory)
    result = extract["result"]
    print(
        f"plain Parquet read+write : {copy['seconds']:.2f} s, peak RSS {copy['peak_rss_mib']:.0f} MiB,"
        f" CPU {copy['cpu_seconds']:.2f} s"
    )
    print(
        f"extract build            : {extract['seconds']:.2f} s "
        f"({extract['seconds'] / copy['seconds']:.1f}x the copy; goal <= 3x), "
        f"peak RSS {extract['peak_rss_mib']:.0f} MiB (goal <= 1024), "
        f"CPU {extract['cpu_seconds']:.2f} s ({extract['cpu_seconds'] / copy['cpu_seconds']:.1f}x)"
    )
    stages = extract["stage_starts"]
    assert isinstance(stages, dict)
    marks = [("open", extract["start"]), *stages.items()]
    for (name, at), (_, until) in zip(
        marks, [*marks[1:], ("end", extract["start"] + extract["seconds"])], strict=True
    ):
        print(f"    {name:8s} {until - at:6.2f} s")
    print(f"    rows {result.rows_in:,} -> {result.rows_out:,}; figures {result.figures}")
    print(f"    checked by {', '.join(result.checked_by)}")
    print(
        f"Adult to k=5             : {adult['seconds']:.2f} s (goal < 2 s), "
        f"peak RSS {adult['peak_rss_mib']:.0f} MiB; figures {adult['result'].figures}"
    )


if __name__ == "__main__":
    main()
