"""Pricing service throughput: quotes/s in process, and latency over HTTP at 50 clients.

1. In process: ``issue_quote`` (read facts and policy, price, sign, store the quote and
   its outbox event in SQLite) in a loop on one thread.
2. Over HTTP: the pricing app under uvicorn (one process, started by ``EmbeddedStack``
   with its own Tansu), a listing seeded through its catalog consumer, then 50
   concurrent keep-alive clients posting ``/v1/quotes``. The load generator is a light
   asyncio HTTP/1.1 client (raw sockets, no httpx), so the client is not the bottleneck.

Run: .venv/bin/python tests/bench/bench_pricing_http.py [--seconds 10] [--clients 50]
Prints figures (goal: p95 < 20 ms at 50 clients); asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from services.common.auth import Principal, TokenIssuer
from services.common.db import create_tables, make_engine, transaction
from services.common.events import to_record
from services.common.kafka import KafkaPublisher
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.catalog import (
    ColumnFacts,
    ListingPublished,
    ListingSnapshot,
    VersionFacts,
)
from services.contracts.envelope import Envelope
from services.pricing import listings
from services.pricing.adapters.keys import load_quote_key
from services.pricing.adapters.orm import PRICING_TABLES
from services.pricing.context import PricingContext
from services.pricing.policy_handlers import ensure_default_policy
from services.pricing.quote_handlers import QuoteRequest, issue_quote
from vndx.stack import EmbeddedStack, StackConfig

console = Console()
GOAL_P95_MS = 20.0


def listing_snapshot() -> ListingSnapshot:
    classes = ["direct_identifier", "quasi_identifier", "quasi_identifier", "sensitive"]
    columns = [
        ColumnFacts(name=f"c{n}", type="string", classification=kind)
        for n, kind in enumerate([*classes, *["attribute"] * 8])
    ]
    return ListingSnapshot(
        listing_id=str(uuid.uuid4()),
        org="so-y-te-ha-noi",
        status="published",
        title_vi="Khám chữa bệnh",
        title_en="Hospital visits",
        theme="health",
        provinces=["ha-noi"],
        update_frequency="monthly",
        products=["download", "sandbox"],
        list_price=None,
        columns=columns,
        latest_version=VersionFacts(
            version=1,
            format="csv",
            object_key="raw/x/1/data.csv",
            size_bytes=1,
            sha256="0" * 64,
            row_count=250_000,
            quality_score=0.85,
            created_at=datetime.now(UTC) - timedelta(days=5),
        ),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(data_dir: Path, seconds: float) -> tuple[int, float]:
    settings = Settings(data_dir=data_dir, service_name="pricing")
    engine = make_engine(settings.resolved_database_url)
    create_tables(engine, [*COMMON_TABLES, *PRICING_TABLES])
    ctx = PricingContext(engine=engine, quote_key=load_quote_key(settings))
    ensure_default_policy(ctx)
    snapshot = listing_snapshot()
    with transaction(engine) as session:
        listings.remember_snapshot(session, snapshot, datetime.now(UTC))
    buyer = Principal(subject="b", org="startup-a", role="buyer", segment="startup")
    request = QuoteRequest(listing_id=snapshot.listing_id, product="download", duration_days=90)
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        issue_quote(ctx, buyer, request)
        count += 1
    return count, time.perf_counter() - started


async def _client(
    port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            length = 0
            while (header := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - sent) * 1000)
            if b" 201 " not in status_line:
                errors.append(status_line.decode("latin-1").strip())
    finally:
        writer.close()


async def load(
    port: int, token: str, listing_id: str, clients: int, seconds: float
) -> tuple[list[float], list[str], float]:
    body = json.dumps(
        {"listing_id": listing_id, "product": "download", "duration_days": 90}
    ).encode()
    request = (
        f"POST /v1/quotes HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors: list[str] = []
    # A short warm-up, then the measured run.
    await asyncio.gather(
        *(_client(port, request, time.perf_counter() + 1.0, [], []) for _ in range(clients))
    )
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_client(port, request, stop_at, latencies, errors) for _ in range(clients))
    )
    return latencies, errors, time.perf_counter() - started


def seed_through_consumer(stack: EmbeddedStack) -> str:
    snapshot = listing_snapshot()
    envelope = Envelope.wrap(ListingPublished(listing=snapshot), source="/vndx/catalog")

    async def send() -> None:
        publisher = KafkaPublisher(stack.settings("pricing"))
        try:
            await publisher.publish([to_record("catalog.listings", envelope)])
        finally:
            await publisher.stop()

    asyncio.run(send())
    url = f"{stack.url('pricing')}/v1/listings/{snapshot.listing_id}/valuations"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(url, timeout=5).status_code == 200:
            return snapshot.listing_id
        time.sleep(0.2)
    raise RuntimeError("the pricing consumer did not learn the listing within 60 s")


Run = tuple[list[float], list[str], float]


def over_http(data_dir: Path, clients: int, seconds: float) -> dict[int, Run]:
    """Latencies, errors and wall time with one client, then with ``clients``."""
    stack = EmbeddedStack(StackConfig.on_free_ports(data_dir, services=["pricing"]))
    try:
        with console.status("starting Tansu, SeaweedFS and the pricing service…"):
            stack.start()
        with console.status("seeding a listing through catalog.listings…"):
            listing_id = seed_through_consumer(stack)
        settings = stack.settings("pricing")
        token = TokenIssuer(
            settings.private_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        ).issue("startup-a", "buyer", segment="startup")
        runs: dict[int, Run] = {}
        for count in (1, clients):
            with console.status(f"{count} client(s) for {seconds:.0f} s…"):
                runs[count] = asyncio.run(
                    load(stack.port("pricing"), token, listing_id, count, seconds)
                )
        return runs
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vndx-bench-pricing-") as tmp:
        count, elapsed = in_process(Path(tmp) / "inproc", min(args.seconds, 5.0))
        runs = over_http(Path(tmp) / "stack", args.clients, args.seconds)
    table = Table("figure", "value", "reference", title="pricing service")
    table.add_row(
        "quotes/s in process (price, sign, store, outbox; SQLite)",
        f"{count / elapsed:,.0f}",
        "",
    )
    for clients, (latencies, errors, wall) in runs.items():
        table.add_row(f"HTTP quotes/s, {clients} client(s)", f"{len(latencies) / wall:,.0f}", "")
        if latencies:
            p95 = percentile(latencies, 0.95)
            goal = ""
            if clients == args.clients:
                verdict = "met" if p95 < GOAL_P95_MS else "NOT met"
                goal = f"goal < {GOAL_P95_MS:.0f} ms ({verdict})"
            table.add_row(
                f"  p50 / p95 / p99, {clients} client(s)",
                f"{percentile(latencies, 0.5):.1f} / {p95:.1f} / "
                f"{percentile(latencies, 0.99):.1f} ms",
                goal,
            )
        table.add_row(
            f"  errors, {clients} client(s)", f"{len(errors)}", errors[0] if errors else ""
        )
    console.print(table)
    load1, _, _ = os.getloadavg()
    console.print(
        f"{os.cpu_count()} CPUs, load average {load1:.1f} at the end; load generator: "
        "raw asyncio HTTP/1.1 keep-alive clients in this process, closed loop "
        "(with N clients always waiting, latency ≈ N / throughput)."
    )


if __name__ == "__main__":
    main()
