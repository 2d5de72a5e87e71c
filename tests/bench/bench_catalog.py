"""Catalog benchmarks: search at 100,000 listings, and upload throughput for a large CSV.

Prints each figure beside its reference measured in the same run:
- search p50/p95 over HTTP (one keep-alive httpx connection, sequential — a light
  client) against the same query run directly on the SQLite FTS5 index;
- upload MB/s and the catalog process's peak RSS for an N MB CSV, against a plain
  ``minio`` ``fput_object`` of the same file to the same SeaweedFS.

    python -m tests.bench.bench_catalog [--listings 100000] [--upload-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlmodel import Session

from services.catalog.adapters.orm import CATALOG_TABLES, to_row
from services.catalog.adapters.search import (
    SearchFilters,
    index_listing,
    install_search_index,
    search,
)
from services.catalog.domain.model import Column, Listing, ListingMetadata, Schema
from services.catalog.domain.reference import PROVINCES, THEMES
from services.catalog.domain.search_text import fold
from services.common.auth import TokenIssuer
from services.common.db import create_tables, make_engine
from services.common.runtime import COMMON_TABLES
from services.common.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, Settings
from vndx.embedded import S3Identity, SeaweedS3, Tansu
from vndx.stack import EmbeddedStack, StackConfig

console = Console()
WORDS = [
    "dân",
    "cư",
    "hộ",
    "tịch",
    "đất",
    "đai",
    "bảo",
    "hiểm",
    "y",
    "tế",
    "giáo",
    "dục",
    "doanh",
    "nghiệp",
    "lao",
    "động",
    "nông",
    "nghiệp",
    "giao",
    "thông",
    "môi",
    "trường",
    "thống",
    "kê",
    "thu",
    "nhập",
    "dân",
    "số",
    "điều",
    "tra",
    "khám",
    "bệnh",
    "học",
    "sinh",
    "trường",
    "học",
    "bệnh",
    "viện",
    "thuế",
    "population",
    "land",
    "health",
    "school",
    "business",
    "tax",
    "income",
    "survey",
    "registry",
    "hospital",
    "transport",
]
QUERIES = [
    "dan cu",
    "điều tra dân số",
    "benh vien",
    "tax registry",
    "giao duc truong hoc",
    "census",
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def populate(db_url: str, count: int) -> None:
    engine = make_engine(db_url)
    create_tables(engine, [*COMMON_TABLES, *CATALOG_TABLES])
    install_search_index(engine)
    rng = random.Random(7)
    syllables = [
        a + b
        for a in "bcdghklmnpqrstvx"
        for b in ("a", "e", "i", "o", "u", "ang", "anh", "inh", "uong", "ien", "oa", "ay")
    ]
    filler = [x + y for x in syllables[:60] for y in syllables[60:120]]
    schema = Schema(columns=[Column(name="a", type="string", classification="attribute")])
    themes, provinces = list(THEMES), list(PROVINCES)
    with Progress(console=console) as progress:
        task = progress.add_task(f"inserting {count:,} listings", total=count)
        for start in range(0, count, 5_000):
            with Session(engine) as session:
                for _ in range(min(5_000, count - start)):
                    # Each topic word lands in about 2-4% of listings, as in a real catalog.
                    title = " ".join([*rng.choices(filler, k=5), rng.choice(WORDS)])
                    body = " ".join([*rng.choices(filler, k=28), rng.choice(WORDS)])
                    listing = Listing(
                        org=f"org-{rng.randrange(200)}",
                        status="published",
                        metadata=ListingMetadata(
                            title_vi=title,
                            title_en=title,
                            description_vi=body,
                            theme=rng.choice(themes),
                            provinces=[rng.choice(provinces)],
                        ),
                        schema=schema,
                    )
                    session.add(to_row(listing))
                    index_listing(session, listing.id, fold(title + " " + title), fold(body))
                session.commit()
            progress.advance(task, min(5_000, count - start))


def bench_search(workdir: Path, count: int, rounds: int) -> dict[str, Any]:
    stack = EmbeddedStack(StackConfig.on_free_ports(workdir, services=["catalog"]))
    populate(f"sqlite:///{stack.data_dir / 'catalog.db'}", count)
    engine = make_engine(f"sqlite:///{stack.data_dir / 'catalog.db'}")
    raw: list[float] = []
    for _ in range(rounds):
        for query in QUERIES:
            began = time.perf_counter()
            with engine.connect() as connection:
                search(connection, SearchFilters(q=query), 0, 20)
            raw.append((time.perf_counter() - began) * 1000)
    stack.start()
    try:
        http: list[float] = []
        with httpx.Client(base_url=stack.url("catalog"), timeout=10) as client:
            client.get("/v1/listings", params={"q": "warmup"})
            for _ in range(rounds):
                for query in QUERIES:
                    began = time.perf_counter()
                    response = client.get("/v1/listings", params={"q": query})
                    http.append((time.perf_counter() - began) * 1000)
                    response.raise_for_status()
    finally:
        stack.stop()
    return {
        "listings": count,
        "requests": len(http),
        "http_p50_ms": round(statistics.median(http), 2),
        "http_p95_ms": round(_percentile(http, 0.95), 2),
        "raw_p50_ms": round(statistics.median(raw), 2),
        "raw_p95_ms": round(_percentile(raw, 0.95), 2),
        "client": "httpx, one keep-alive connection, sequential",
    }


def _write_csv(path: Path, megabytes: int) -> None:
    rng = random.Random(1)
    line_rows = [
        f"{rng.randrange(10**6)},{rng.choice(WORDS)},{rng.randrange(18, 90)},{rng.random() * 1e7:.2f},2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}\n"
        for _ in range(20_000)
    ]
    block = "".join(line_rows).encode()
    target = megabytes * 1024 * 1024
    with path.open("wb") as handle:
        handle.write(b"id,word,age,amount,day\n")
        written = 0
        while written < target:
            handle.write(block)
            written += len(block)


def bench_upload(workdir: Path, megabytes: int) -> dict[str, Any]:
    tansu = Tansu(workdir / "logs" / "tansu.log")
    s3 = SeaweedS3(
        workdir / "seaweedfs",
        workdir / "logs" / "seaweedfs.log",
        [S3Identity("vndx", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY)],
        volume_size_limit_mb=1024,
    )
    tansu.start()
    s3.start()
    stack = EmbeddedStack(
        StackConfig.on_free_ports(workdir / "stack", services=["catalog"]), tansu=tansu, s3=s3
    )
    try:
        stack.start()
        data = workdir / "big.csv"
        with console.status(f"writing a {megabytes} MB CSV"):
            _write_csv(data, megabytes)
        size_mb = data.stat().st_size / 1024 / 1024
        client = s3.client()
        began = time.perf_counter()
        client.fput_object(
            "vndx-data", f"bench/{uuid.uuid4()}", str(data), part_size=16 * 1024 * 1024
        )
        plain_s = time.perf_counter() - began

        settings = Settings(data_dir=stack.data_dir)
        issuer = TokenIssuer(
            settings.private_key_path.read_bytes(), issuer="vndx", audience="vndx-api"
        )
        headers = {"Authorization": f"Bearer {issuer.issue('bench', 'provider')}"}
        body = {
            "title_vi": "Bench",
            "title_en": "Bench",
            "theme": "statistics",
            "columns": [
                {"name": n, "type": t, "classification": "attribute"}
                for n, t in [
                    ("id", "integer"),
                    ("word", "string"),
                    ("age", "integer"),
                    ("amount", "number"),
                    ("day", "date"),
                ]
            ],
        }
        process = psutil.Process(stack.processes["catalog"].pid)
        baseline_rss = process.memory_info().rss
        peak = [baseline_rss]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    rss = process.memory_info().rss + sum(
                        c.memory_info().rss for c in process.children(recursive=True)
                    )
                    peak[0] = max(peak[0], rss)
                except psutil.Error:
                    pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        with httpx.Client(base_url=stack.url("catalog"), timeout=600) as http:
            listing_id = http.post("/v1/listings", json=body, headers=headers).json()["id"]
            began = time.perf_counter()
            with data.open("rb") as handle:
                response = http.post(
                    f"/v1/listings/{listing_id}/versions",
                    content=handle,
                    headers={**headers, "Content-Type": "text/csv"},
                )
            upload_s = time.perf_counter() - began
            response.raise_for_status()
        done.set()
        sampler.join()
        rows = response.json()["row_count"]
        data.unlink()
    finally:
        stack.stop()
        s3.stop()
        tansu.stop()
    return {
        "file_mb": round(size_mb, 1),
        "rows": rows,
        "upload_mb_s": round(size_mb / upload_s, 1),
        "plain_put_mb_s": round(size_mb / plain_s, 1),
        "ratio_to_plain": round(plain_s / upload_s, 2),
        "catalog_baseline_rss_mb": round(baseline_rss / 1024 / 1024, 1),
        "catalog_peak_rss_mb": round(peak[0] / 1024 / 1024, 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--upload-mb", type=int, default=1024)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"measured_at": datetime.now(UTC).isoformat()}
    with tempfile.TemporaryDirectory(prefix="vndx-bench-") as tmp:
        results["search"] = bench_search(Path(tmp) / "search", args.listings, args.rounds)
        results["upload"] = bench_upload(Path(tmp) / "upload", args.upload_mb)
    table = Table("benchmark", "figure", "reference", "goal", title="catalog")
    s, u = results["search"], results["upload"]
    table.add_row(
        f"search over HTTP, {s['listings']:,} listings",
        f"p50 {s['http_p50_ms']} ms, p95 {s['http_p95_ms']} ms",
        f"raw FTS5 p50 {s['raw_p50_ms']} ms, p95 {s['raw_p95_ms']} ms",
        "p95 < 20 ms and ≤ 2× raw",
    )
    table.add_row(
        f"upload {u['file_mb']} MB CSV ({u['rows']:,} rows)",
        f"{u['upload_mb_s']} MB/s, peak RSS {u['catalog_peak_rss_mb']} MB (base {u['catalog_baseline_rss_mb']})",
        f"plain fput_object {u['plain_put_mb_s']} MB/s",
        "≥ 0.8× plain, memory flat",
    )
    console.print(table)
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
