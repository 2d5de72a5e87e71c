"""Benchmark of the personal-data scan: sampling a large CSV and inspecting the sample.

Writes CSVs of 12 columns (a quarter of them personal data) at several sizes up to
``--rows``, then, for each, runs ``sample_columns`` + ``inspect`` in a fresh process and
prints wall time and that process's peak RSS, so memory growth with file size shows.
Goal: at most 10 s for 1,000,000 rows with a 100,000-row sample, memory flat. The
reference, measured in the same process, is one plain streaming read of the whole file with
pyarrow (no sample kept, nothing scanned): the floor any whole-file scan pays. CPU seconds
(every thread of the measuring process) are printed too: on a loaded machine they say more
about the work done than wall time does.

    .venv/bin/python tests/bench/bench_inspection.py [--rows 1000000] [--sample 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi"]
MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Ngọc", "Thanh", "Quang", "Hữu", "Xuân"]
GIVEN = ["An", "Bình", "Chi", "Dũng", "Hà", "Hải", "Hương", "Lan", "Long", "Nam", "Tâm", "Yến"]
PROVINCES = ["Hà Nội", "TP Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Thái Bình"]
SECTORS = ["Nông nghiệp", "Xây dựng", "Giáo dục và đào tạo", "Y tế", "Vận tải kho bãi"]

COLUMNS: list[tuple[str, str]] = [
    ("ma_ho_so", "direct_identifier"),
    ("ho_ten", "attribute"),
    ("so_dien_thoai", "attribute"),
    ("email", "quasi_identifier"),
    ("so_tien", "attribute"),
    ("ngay", "attribute"),
    ("nam", "attribute"),
    ("tinh", "quasi_identifier"),
    ("nganh", "attribute"),
    ("ty_le", "attribute"),
    ("ma_san_pham", "attribute"),
    ("so_luong", "attribute"),
]


Strings = np.ndarray[tuple[int], np.dtype[np.str_]]


def _digits(rng: np.random.Generator, n: int, width: int) -> Strings:
    return np.char.zfill(rng.integers(0, 10**width, n).astype(str), width)


def _pick(rng: np.random.Generator, choices: list[str], n: int) -> Strings:
    return np.array(choices)[rng.integers(0, len(choices), n)]


def make_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    add = np.char.add
    names = add(
        add(add(add(_pick(rng, SURNAMES, rows), " "), _pick(rng, MIDDLE, rows)), " "),
        _pick(rng, GIVEN, rows),
    )
    phones = add(
        _pick(rng, ["090", "091", "098", "035", "086", "070"], rows), _digits(rng, rows, 7)
    )
    emails = add(add("user", rng.integers(0, 10**7, rows).astype(str)), "@gmail.com")
    dates = add(
        add(add(rng.integers(2015, 2026, rows).astype(str), "-"), _digits(rng, rows, 1)), "-15"
    )
    columns = {
        "ma_ho_so": np.arange(rows).astype(str),
        "ho_ten": names,
        "so_dien_thoai": phones,
        "email": emails,
        "so_tien": rng.integers(10_000, 50_000_000, rows).astype(str),
        "ngay": dates,
        "nam": rng.integers(1990, 2026, rows).astype(str),
        "tinh": _pick(rng, PROVINCES, rows),
        "nganh": _pick(rng, SECTORS, rows),
        "ty_le": np.char.add(np.round(rng.uniform(0, 100, rows), 1).astype(str), "%"),
        "ma_san_pham": add(rng.integers(100, 1000, rows).astype(str), _digits(rng, rows, 9)),
        "so_luong": rng.integers(0, 5000, rows).astype(str),
    }
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def _peak_rss_mib() -> float:
    # VmHWM, not getrusage: ru_maxrss survives exec, so it would count the parent's peak.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, sample_rows: int) -> dict[str, float | str]:
    """Runs in a fresh process: time sampling and inspection, report peak RSS."""
    sys.path.insert(0, str(REPO))
    from services.catalog.adapters.sampling import sample_columns
    from services.catalog.domain.inspection import inspect

    baseline_mib = _peak_rss_mib()
    reference_started = time.perf_counter()
    with pa_csv.open_csv(
        path,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys([name for name, _ in COLUMNS], pa.string())
        ),
    ) as reader:
        for _batch in reader:
            pass
    reference_s = time.perf_counter() - reference_started
    started = time.perf_counter()
    cpu_started = time.process_time()
    samples = sample_columns(path, "csv", COLUMNS, max_rows=sample_rows)
    sampled = time.perf_counter()
    report = inspect(samples)
    inspected = time.perf_counter()
    cpu_s = time.process_time() - cpu_started
    peak_mib = _peak_rss_mib()
    return {
        "sample_s": sampled - started,
        "inspect_s": inspected - sampled,
        "total_s": inspected - started,
        "reference_s": reference_s,
        "cpu_s": cpu_s,
        "baseline_mib": baseline_mib,
        "peak_mib": peak_mib,
        "findings": len(report.findings),
        "patterns": ",".join(f"{f.column}:{f.pattern}" for f in report.findings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=100_000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.sample)))
        return

    console = Console(width=120)
    sizes = [args.rows // 4, args.rows // 2, args.rows]
    results = Table(title=f"sample_columns + inspect, 12 columns, sample {args.sample:,} rows")
    for heading in [
        "rows",
        "file MiB",
        "sample s",
        "inspect s",
        "total s",
        "reference: read through s",
        "CPU s (all threads)",
        "peak RSS MiB",
        "RSS after imports MiB",
        "findings",
    ]:
        results.add_column(heading, justify="right")
    with tempfile.TemporaryDirectory() as workdir:
        for rows in sizes:
            path = Path(workdir) / f"bench_{rows}.csv"
            with console.status(f"writing {rows:,} rows"):
                pa_csv.write_csv(make_table(rows), path)
            with console.status(f"sampling and inspecting {rows:,} rows"):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--measure",
                        str(path),
                        "--sample",
                        str(args.sample),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            figures = json.loads(out)
            results.add_row(
                f"{rows:,}",
                f"{path.stat().st_size / 2**20:.0f}",
                f"{figures['sample_s']:.2f}",
                f"{figures['inspect_s']:.2f}",
                f"{figures['total_s']:.2f}",
                f"{figures['reference_s']:.2f}",
                f"{figures['cpu_s']:.2f}",
                f"{figures['peak_mib']:.0f}",
                f"{figures['baseline_mib']:.0f}",
                str(figures["findings"]),
            )
    console.print(results)
    console.print(f"findings at {sizes[-1]:,} rows: {figures['patterns']}")


if __name__ == "__main__":
    main()
