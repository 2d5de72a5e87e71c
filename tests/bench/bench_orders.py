"""Orders benchmark: orders placed per second over HTTP with the local provider.

Starts the embedded stack with the orders service (SQLite, Tansu, SeaweedFS), makes the
listings known to orders (their snapshots, as from catalog.listings), signs the quotes and
hashes the listings' usage policies beforehand, then places every order with
``POST /v1/orders`` from a light client: raw HTTP/1.1 keep-alive connections on asyncio
(no httpx, which saturates a core near 500 req/s). Prints orders/s and latency
percentiles beside ``GET /healthz`` measured with the same client (the HTTP ceiling).

    python -m tests.bench.bench_orders [--orders 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from services.common.auth import TokenIssuer
from services.common.db import create_tables, make_engine, transaction
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.common.usage_policy import offer
from services.orders.adapters.orm import ORDERS_TABLES, remember_listing
from tests.integration.orders.conftest import snapshot
from tests.policy_acceptance import order_body
from tests.unit.orders.quotes import quote_document, signer_from_pem
from vndx.stack import EmbeddedStack, StackConfig

console = Console()
GOAL_PER_S = 300


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _run(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                status = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def bench(workdir: Path, orders: int, concurrency: int) -> None:
    stack = EmbeddedStack(StackConfig.on_free_ports(workdir, services=["orders"]))
    engine = make_engine(f"sqlite:///{stack.data_dir / 'orders.db'}")
    create_tables(engine, [*COMMON_TABLES, *ORDERS_TABLES])
    listings = [str(uuid.uuid4()) for _ in range(20)]
    snapshots = [
        snapshot(listing_id, f"agency-{number % 5}") for number, listing_id in enumerate(listings)
    ]
    with transaction(engine) as session:
        for listing in snapshots:
            remember_listing(session, listing)
    engine.dispose()
    stack.start()
    try:
        keys = Settings(data_dir=stack.data_dir)
        signer = signer_from_pem(keys.key_path("quote", "private").read_bytes())
        issuer = TokenIssuer(
            keys.private_key_path.read_bytes(), issuer=keys.jwt_issuer, audience=keys.jwt_audience
        )
        buyers = [f"startup-{n}" for n in range(concurrency)]
        tokens = {buyer: issuer.issue(buyer, "buyer") for buyer in buyers}
        iri_base = stack.settings("orders").iri_base
        policies = [offer(listing, iri_base) for listing in snapshots]
        with console.status(f"signing {orders} quotes…"):
            requests = []
            for n in range(orders):
                buyer = buyers[n % len(buyers)]
                quote = quote_document(
                    signer, buyer_org=buyer, listing_id=listings[n % len(listings)]
                )
                requests.append(
                    _request(
                        "POST",
                        "/v1/orders",
                        {
                            "Authorization": f"Bearer {tokens[buyer]}",
                            "Idempotency-Key": str(uuid.uuid4()),
                            "Content-Type": "application/json",
                        },
                        json.dumps(order_body(quote, policies[n % len(listings)])).encode(),
                    )
                )
        port = stack.port("orders")
        health = [_request("GET", "/healthz", {})] * orders
        asyncio.run(_run(port, health[:200], concurrency))  # warm up
        health_s, health_lat, _ = asyncio.run(_run(port, health, concurrency))
        with console.status(f"placing {orders} orders at concurrency {concurrency}…"):
            elapsed, latencies, statuses = asyncio.run(_run(port, requests, concurrency))
    finally:
        stack.stop()

    table = Table(
        title=f"orders over HTTP, local provider, {orders} orders, concurrency {concurrency}"
    )
    for column in ("what", "per second", "p50 ms", "p95 ms", "p99 ms", "reference"):
        table.add_column(column)
    table.add_row(
        "POST /v1/orders",
        f"{orders / elapsed:,.0f}",
        f"{statistics.median(latencies) * 1000:.1f}",
        f"{_percentile(latencies, 0.95) * 1000:.1f}",
        f"{_percentile(latencies, 0.99) * 1000:.1f}",
        f"goal ≥ {GOAL_PER_S}/s",
    )
    table.add_row(
        "GET /healthz (same client)",
        f"{orders / health_s:,.0f}",
        f"{statistics.median(health_lat) * 1000:.1f}",
        f"{_percentile(health_lat, 0.95) * 1000:.1f}",
        f"{_percentile(health_lat, 0.99) * 1000:.1f}",
        "HTTP ceiling of this server",
    )
    console.print(table)
    console.print(f"responses: {dict(sorted(statuses.items()))}")
    if statuses.get(201, 0) != orders:
        console.print("[red]not every order was created[/red]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vndx-bench-orders-") as workdir:
        bench(Path(workdir), args.orders, args.concurrency)


if __name__ == "__main__":
    main()
