"""Scale-out benchmark: paid orders turned into issued grants by 1, 2 and 3 access replicas.

The stage of the purchase path that scales by consumers: ``order.paid`` on the broker
→ access (consumer group ``access``, one PostgreSQL database) → extract built and
uploaded → ``grant.issued``. For each replica count it starts the replicas, warms the
group up, publishes a burst of paid orders as the orders service would, and measures
orders/s until every grant is issued, plus the mean extract build time the replicas
report. On this machine's two cores the third replica competes with the first two,
which is the point of the figure.

    python -m tests.bench.bench_scale_out [--orders 300] [--rows 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from services.common.auth import ensure_keypair
from services.common.kafka import ensure_topics
from services.common.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, Settings
from services.contracts.orders import OrderPaid
from services.contracts.topics import all_topics_with_dlq
from tests.integration.access.conftest import ServicesAround, access_settings, write_population
from tests.integration.production.replicas import Replica
from vndx.embedded import Postgres, S3Identity, SeaweedS3, Tansu

console = Console()


def _issued(dsn: str, order_ids: set[str]) -> int:
    url = dsn.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT order_id FROM grants WHERE status = 'issued'").fetchall()
    return sum(1 for (order_id,) in rows if order_id in order_ids)


def _wait(dsn: str, order_ids: set[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _issued(dsn, order_ids) < len(order_ids):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(order_ids)} grants not issued in {timeout_s} s")
        time.sleep(0.2)


def run(
    replicas: int, base: Settings, postgres: Postgres, work: Path, orders: int, rows: int
) -> dict[str, float]:
    database = f"scale_{replicas}_{uuid.uuid4().hex[:6]}"
    postgres.create_database(database)
    settings = base.model_copy(update={"database_url": postgres.dsn(database)})
    started = [Replica("access", settings, work, n).start() for n in range(1, replicas + 1)]
    try:
        around = ServicesAround(settings)
        raw, columns = write_population(work / f"people-{replicas}.csv", rows)
        listing_id = around.publish_listing("bca-c06", columns, raw)
        warm = [around.paid("warm-up", listing_id) for _ in range(replicas * 2)]
        around.emit(*warm)
        _wait(str(settings.database_url), {o.order_id for o in warm}, 180)
        time.sleep(6)  # let the group settle after the last join
        burst: list[OrderPaid] = [around.paid(f"buyer-{n % 9}", listing_id) for n in range(orders)]
        builds_before = sum(r.metric("vndx_extract_build_seconds_count") for r in started)
        seconds_before = sum(r.metric("vndx_extract_build_seconds_sum") for r in started)
        began = time.monotonic()
        for start in range(0, orders, 100):
            around.emit(*burst[start : start + 100])
        _wait(str(settings.database_url), {o.order_id for o in burst}, 900)
        elapsed = time.monotonic() - began
        builds = sum(r.metric("vndx_extract_build_seconds_count") for r in started) - builds_before
        build_s = sum(r.metric("vndx_extract_build_seconds_sum") for r in started) - seconds_before
        return {
            "replicas": replicas,
            "orders": orders,
            "seconds": round(elapsed, 2),
            "orders_per_s": round(orders / elapsed, 1),
            "mean_build_ms": round(1000 * build_s / max(builds, 1), 1),
        }
    finally:
        for replica in started:
            replica.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rows", type=int, default=120, help="rows of the listing's data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vndx-scale-") as scratch:
        work = Path(scratch)
        keys = Settings(data_dir=work)
        ensure_keypair(keys.private_key_path, keys.public_key_path)
        tansu = Tansu(work / "tansu.log")
        s3 = SeaweedS3(
            work / "s3", work / "s3.log", [S3Identity("vndx", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY)]
        )
        postgres = Postgres(work / "postgres.log", durable=False)
        for part in (tansu, s3, postgres):
            part.start()
        try:
            asyncio.run(ensure_topics(tansu.bootstrap_servers, all_topics_with_dlq()))
            base = access_settings(work, tansu, s3, "sqlite://", grant_build_poll_interval_s=0.1)
            results = [run(n, base, postgres, work, args.orders, args.rows) for n in (1, 2, 3)]
        finally:
            for part in (postgres, s3, tansu):
                part.stop()
    table = Table(
        "access replicas",
        "orders",
        "seconds",
        "orders/s",
        "mean extract build (ms)",
        title="order.paid → grant.issued, scaled by access consumers (PostgreSQL, Tansu, SeaweedFS)",
    )
    for row in results:
        table.add_row(
            *(
                str(row[k])
                for k in ("replicas", "orders", "seconds", "orders_per_s", "mean_build_ms")
            )
        )
    console.print(table)
    one = results[0]["orders_per_s"]
    console.print(
        "speed-up: "
        + ", ".join(f"{r['replicas']}× replicas {r['orders_per_s'] / one:.2f}×" for r in results)
    )
    Path("bench/results").mkdir(parents=True, exist_ok=True)
    Path("bench/results/bench_scale_out.json").write_text(
        json.dumps(results, indent=2), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
