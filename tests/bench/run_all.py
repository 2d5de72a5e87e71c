"""`make bench`: run every benchmark script and keep what each printed.

Each script measures its figure beside its own reference in the same run and
prints a table; this runner runs them one after another (they share the two
cores, so never in parallel), lifts the per-organisation rate limits that would
otherwise throttle a load generator, and writes each output and a summary under
``bench/results/``.

    python -m tests.bench.run_all [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

#: name -> (full-size arguments, quick arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "bench_catalog": ([], ["--listings", "20000", "--upload-mb", "128"]),
    "bench_quotes": ([], ["--seconds", "3"]),
    "bench_pricing_http": ([], ["--seconds", "5"]),
    "bench_orders": ([], ["--orders", "500"]),
    "bench_extract": ([], ["--rows", "200000"]),
    "bench_preview": ([], ["--rows", "50000"]),
    "bench_scale_out": ([], ["--orders", "60"]),
    "bench_inspection": ([], ["--rows", "200000"]),
    "bench_ledger": ([], ["--records", "100000"]),
    "bench_audit": ([], ["--events", "500", "--records", "100000"]),
    "bench_db_overhead": ([], ["--transactions", "500"]),
    "bench_broker": ([], ["--records", "2000", "--steps", "2", "--window", "2"]),
    "bench_portal": ([], ["--requests", "50"]),
    "bench_e2e": ([], ["--seconds", "15", "--paced-seconds", "8", "--raw", "50"]),
}
UNTHROTTLED = {
    f"VNDX_RATE_{kind}_PER_MINUTE": "1000000"
    for kind in ("QUOTES", "ORDERS", "DOWNLOADS", "QUERIES")
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args = parser.parse_args(argv)
    results = Path("bench/results")
    results.mkdir(parents=True, exist_ok=True)
    console = Console()
    summary = []
    for name, (full, quick) in BENCHES.items():
        if args.only and name not in args.only:
            continue
        console.rule(name)
        began = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-m", f"tests.bench.{name}", *(quick if args.quick else full)],
            env={**os.environ, **UNTHROTTLED},
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = round(time.monotonic() - began, 1)
        console.print(completed.stdout)
        if completed.returncode:
            console.print(
                f"[red]{name} exited {completed.returncode}[/red]\n{completed.stderr[-2000:]}"
            )
        (results / f"{name}.txt").write_text(completed.stdout + completed.stderr, encoding="utf-8")
        summary.append({"bench": name, "exit": completed.returncode, "seconds": seconds})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"summary-{stamp}.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    table = Table("benchmark", "exit", "seconds", title="make bench")
    for row in summary:
        table.add_row(str(row["bench"]), str(row["exit"]), str(row["seconds"]))
    console.print(table)
    return 1 if any(row["exit"] for row in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
