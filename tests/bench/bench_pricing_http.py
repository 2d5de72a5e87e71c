"""Pricing service throughput: quotes/s in process, and latency over HTTP at 50 clients.

1. In process, SQLite, no HTTP: ``issue_quote`` committing each quote alone, in a loop;
   then ``issue_quote_batched`` from 50 concurrent asyncio tasks (group commit: quote
   rows and outbox rows of concurrent requests in one transaction).
2. Over HTTP: the pricing app under uvicorn (one process, started by ``EmbeddedStack``
   with its own Tansu), a listing and the buyer's verification seeded through its catalog
   consumer, then 50 keep-alive connections posting ``/v1/quotes``:
   - open loop at fixed rates (``--rates``): each connection sends on a schedule, and a
     latency is measured from the scheduled send time, so a stalled server is not hidden
     (no coordinated omission);
   - closed loop (each connection sends its next request when the answer arrives): the
     saturated throughput; there latency ≈ connections / throughput by construction.
   The load generator is a light asyncio HTTP/1.1 client (``light_http``: raw sockets,
   no httpx) in this process, so the client is not the bottleneck.

Run: .venv/bin/python -m tests.bench.bench_pricing_http [--seconds 10] [--clients 50]
     [--rates 200,500,1000]
Prints figures (goal: p95 < 20 ms at 50 clients); asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Callable
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
    OrganisationVerified,
    VersionFacts,
)
from services.contracts.envelope import Envelope
from services.pricing import listings, organisations
from services.pricing.adapters.keys import load_quote_key
from services.pricing.adapters.orm import PRICING_TABLES
from services.pricing.context import PricingContext
from services.pricing.policy_handlers import ensure_default_policy
from services.pricing.quote_handlers import (
    QuoteRequest,
    issue_quote,
    issue_quote_batched,
    prepare_quote,
)
from tests.bench.light_http import Connection, Response, encode_request
from vndx.stack import EmbeddedStack, StackConfig

console = Console()
GOAL_P95_MS = 20.0
RATE_LIMIT_FOR_BENCH = 10_000_000


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


def verification(org: str) -> OrganisationVerified:
    return OrganisationVerified(
        code=org,
        registered_name="Công ty CP Khởi nghiệp A",
        segment="startup",
        verified_by="vndx-operator",
        verified_at=datetime.now(UTC),
    )


def in_process(data_dir: Path, seconds: float, clients: int) -> dict[str, tuple[int, float]]:
    """Quotes and wall time: committed one by one, then group-committed from `clients` tasks."""
    settings = Settings(data_dir=data_dir, service_name="pricing")
    engine = make_engine(settings.resolved_database_url)
    create_tables(engine, [*COMMON_TABLES, *PRICING_TABLES])
    ctx = PricingContext(engine=engine, quote_key=load_quote_key(settings))
    ensure_default_policy(ctx)
    snapshot = listing_snapshot()
    with transaction(engine) as session:
        listings.remember_snapshot(session, snapshot, datetime.now(UTC))
        organisations.remember_verification(session, verification("startup-a"))
    buyer = Principal(subject="b", org="startup-a", role="buyer", segment="startup")
    request = QuoteRequest(
        listing_id=snapshot.listing_id, product="download", duration_days=90, purpose="research"
    )
    results: dict[str, tuple[int, float]] = {}
    count, cpu_started = 0, time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        prepare_quote(ctx, buyer, request)
        count += 1
    results["handler without the commit, per CPU second"] = (
        count,
        time.process_time() - cpu_started,
    )
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        issue_quote(ctx, buyer, request)
        count += 1
    results["one commit per quote"] = (count, time.perf_counter() - started)

    async def grouped() -> tuple[int, float]:
        done = 0
        stop_at = time.perf_counter() + seconds

        async def task() -> None:
            nonlocal done
            while time.perf_counter() < stop_at:
                await issue_quote_batched(ctx, buyer, request)
                done += 1

        begun = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(clients)))
        await ctx.writer.stop()
        return done, time.perf_counter() - begun

    results[f"group commit, {clients} tasks"] = asyncio.run(grouped())
    return results


def _answered(response: Response, errors: list[str]) -> None:
    if response.status not in (200, 201):
        errors.append(f"{response.status} {response.text[:120]}")


async def _client(
    port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[str]
) -> None:
    connection = await Connection.open("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            response = await connection.send(request)
            latencies.append((time.perf_counter() - sent) * 1000)
            _answered(response, errors)
    finally:
        connection.close()


async def _paced_client(
    port: int,
    request: bytes,
    interval: float,
    first_at: float,
    stop_at: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    """Send at first_at, first_at + interval, ...; latency from the scheduled time."""
    connection = await Connection.open("127.0.0.1", port)
    try:
        scheduled = first_at
        while scheduled < stop_at:
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            response = await connection.send(request)
            latencies.append((time.perf_counter() - scheduled) * 1000)
            _answered(response, errors)
            scheduled += interval
    finally:
        connection.close()


def quote_request(port: int, token: str, listing_id: str) -> bytes:
    return encode_request(
        "POST",
        f"127.0.0.1:{port}",
        "/v1/quotes",
        headers={"Authorization": f"Bearer {token}"},
        json_body={
            "listing_id": listing_id,
            "product": "download",
            "duration_days": 90,
            "purpose": "research",
        },
    )


async def paced_load(
    port: int, token: str, listing_id: str, clients: int, rate: float, seconds: float
) -> tuple[list[float], list[str], float]:
    """Open loop: `clients` connections together sending `rate` requests/s, evenly spread."""
    request = quote_request(port, token, listing_id)
    interval = clients / rate
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter() + 0.05
    stop_at = started + seconds
    await asyncio.gather(
        *(
            _paced_client(
                port,
                request,
                interval,
                started + n * interval / clients,
                stop_at,
                latencies,
                errors,
            )
            for n in range(clients)
        )
    )
    return latencies, errors, time.perf_counter() - started


def public_key_request(port: int) -> bytes:
    """The reference: an endpoint of the same app that does no work (no auth, no database)."""
    return encode_request("GET", f"127.0.0.1:{port}", "/v1/quotes/public-key")


async def load(
    port: int,
    token: str,
    listing_id: str,
    clients: int,
    seconds: float,
    request: bytes | None = None,
) -> tuple[list[float], list[str], float]:
    """Closed loop: each of `clients` connections sends again as soon as it is answered."""
    request = request or quote_request(port, token, listing_id)
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
    """Publish the listing and the buyer's verification as the catalog would."""
    snapshot = listing_snapshot()
    envelope = Envelope.wrap(ListingPublished(listing=snapshot), source="/vndx/catalog")
    verified = Envelope.wrap(verification("startup-a"), source="/vndx/catalog")

    async def send() -> None:
        publisher = KafkaPublisher(stack.settings("pricing"))
        try:
            await publisher.publish([to_record("catalog.organisations", verified)])
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
SERVER_CPU: dict[str, float] = {}
"""Seconds of CPU the pricing server process (and its threads) used during each run."""


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (Linux), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_verified(port: int, token: str, listing_id: str) -> None:
    """The verification went through the consumer: the quote carries the startup segment."""
    body = {"listing_id": listing_id, "product": "download", "duration_days": 90}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/quotes",
            json={**body, "purpose": "research"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        if response.status_code == 201 and response.json()["segment"] == "startup":
            return
        time.sleep(0.2)
    raise RuntimeError("the pricing consumer did not learn the verification within 60 s")


def over_http(data_dir: Path, clients: int, seconds: float, rates: list[float]) -> dict[str, Run]:
    """Latencies, errors and wall time: closed loop with 1 and `clients` connections, then
    open loop at each rate over `clients` connections."""
    config = StackConfig.on_free_ports(data_dir, services=["pricing"])
    # The per-organisation quote limit (1,200/min) would refuse one buyer at bench rates.
    config.extra_env["VNDX_RATE_QUOTES_PER_MINUTE"] = str(RATE_LIMIT_FOR_BENCH)
    stack = EmbeddedStack(config)
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
        port = stack.port("pricing")
        pid = stack.processes["pricing"].pid
        assert pid is not None
        wait_until_verified(port, token, listing_id)
        runs: dict[str, Run] = {}

        def measured(label: str, run: Callable[[], Run]) -> None:
            before = process_cpu_seconds(pid)
            runs[label] = run()
            SERVER_CPU[label] = process_cpu_seconds(pid) - before

        with console.status("reference: GET /v1/quotes/public-key, closed loop…"):
            measured(
                f"reference GET public-key, closed loop, {clients} connections",
                lambda: asyncio.run(
                    load(
                        port, token, listing_id, clients, seconds, request=public_key_request(port)
                    )
                ),
            )
        for count in (1, clients):
            with console.status(f"closed loop, {count} client(s) for {seconds:.0f} s…"):
                measured(
                    f"closed loop, {count} connection(s)",
                    lambda count=count: asyncio.run(load(port, token, listing_id, count, seconds)),  # type: ignore[misc]
                )
        for rate in rates:
            with console.status(f"open loop, {rate:.0f}/s over {clients} clients…"):
                measured(
                    f"open loop {rate:,.0f}/s, {clients} connections",
                    lambda rate=rate: asyncio.run(  # type: ignore[misc]
                        paced_load(port, token, listing_id, clients, rate, seconds)
                    ),
                )
        return runs
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rates", default="200,500,1000", help="open-loop requests/s")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    with tempfile.TemporaryDirectory(prefix="vndx-bench-pricing-") as tmp:
        local = in_process(Path(tmp) / "inproc", min(args.seconds, 5.0), args.clients)
        runs = over_http(Path(tmp) / "stack", args.clients, args.seconds, rates)
    table = Table("figure", "value", "reference", title="pricing service")
    for label, (count, elapsed) in local.items():
        table.add_row(
            f"quotes/s in process, SQLite, {label} (lookups, price, sign, store, outbox)",
            f"{count / elapsed:,.0f}",
            "",
        )
    for label, (latencies, errors, wall) in runs.items():
        cpu = SERVER_CPU.get(label, 0.0)
        table.add_row(
            f"HTTP {label}: answers/s",
            f"{len(latencies) / wall:,.0f}",
            f"server CPU {1e3 * cpu / max(len(latencies), 1):.2f} ms per answer "
            f"(= {len(latencies) / cpu if cpu else 0:,.0f} answers per CPU second)",
        )
        if latencies:
            p95 = percentile(latencies, 0.95)
            goal = ""
            if f"{args.clients} connections" in label:
                verdict = "met" if p95 < GOAL_P95_MS else "NOT met"
                goal = f"goal p95 < {GOAL_P95_MS:.0f} ms ({verdict})"
            table.add_row(
                "  p50 / p95 / p99",
                f"{percentile(latencies, 0.5):.1f} / {p95:.1f} / "
                f"{percentile(latencies, 0.99):.1f} ms",
                goal,
            )
        table.add_row("  errors", f"{len(errors)}", errors[0] if errors else "")
    console.print(table)
    load1, _, _ = os.getloadavg()
    console.print(
        f"{os.cpu_count()} CPUs, load average {load1:.1f} at the end; load generator: raw "
        "asyncio HTTP/1.1 keep-alive connections in this process (open loop: latency from "
        "the scheduled send time; closed loop: latency ≈ connections / throughput)."
    )


if __name__ == "__main__":
    main()
