"""End-to-end benchmark: purchases per second and the order.paid → grant.issued latency.

Starts the embedded stack (Tansu, SeaweedFS, catalog, pricing, orders, access, audit;
SQLite), publishes a small listing (200 rows of aggregate figures) and keeps buying it
for ``--seconds``: quote → order (the local provider's invoice) → settled by an operator
(order.paid) → access builds the extract and issues the grant (grant.issued). At most
``--in-flight`` purchases are unsettled at once, so the rate measured is the rate the
stack sustains, not the size of a queue.

Reported, each beside its reference measured in the same run:

- purchases per second end to end (grants issued within the window / window), beside
  the HTTP side alone (orders settled per second) and the goal (≥ 200/s);
- order.paid → grant.issued: the event path without the extract (orders' relay →
  broker → access's consumer, and access's relay publishing grant.issued) p50/p95/p99,
  beside a raw aiokafka produce → consume round trip on the same broker (goal: p99 ≤ 5×);
- the extract build on its own: pending → issued in access (builder queue + build) and
  the build alone (access's ``vndx_extract_build_seconds``);
- per step, where a purchase spends its time (which service, which step).

The figures go to a table and to ``bench/results/bench_e2e-<time>.json``.

    python -m tests.bench.bench_e2e [--seconds 60] [--concurrency 16] [--in-flight 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from services.common.kafka import ensure_topics
from tests.policy_acceptance import order_body
from tests.reliability.harness import FaultyStack, Market, metric, small_listing, start_stack, until
from tests.reliability.invariants import GRANT_ISSUED, ORDER_PAID, rows

console = Console()
GOAL_PER_S = 200
GOAL_RATIO = 5.0
ROUND_TRIP_TOPIC = "bench.roundtrip"
PURPOSE = "research"
UNTHROTTLED = {
    f"VNDX_RATE_{kind}_PER_MINUTE": "1000000"
    for kind in ("QUOTES", "ORDERS", "DOWNLOADS", "QUERIES")
}


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (0 for none)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "count": len(ordered)}


# --- the raw broker round trip -----------------------------------------------------------


async def raw_round_trip(bootstrap: str, messages: int) -> list[float]:
    """Produce one message, wait until a consumer has it, again and again (seconds each)."""
    await ensure_topics(bootstrap, [ROUND_TRIP_TOPIC])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await producer.start()
    await consumer.start()
    try:
        partition = TopicPartition(ROUND_TRIP_TOPIC, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        timings: list[float] = []
        for number in range(messages + 10):
            payload = f"{number}:{uuid.uuid4()}".encode()
            started = time.perf_counter()
            await producer.send_and_wait(ROUND_TRIP_TOPIC, payload, partition=0)
            while True:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                if any(record.value == payload for record in batch.get(partition, [])):
                    break
            if number >= 10:  # the first few warm the connections up
                timings.append(time.perf_counter() - started)
        return timings
    finally:
        await consumer.stop()
        await producer.stop()


def publish(market: Market, workdir: Path) -> dict[str, Any]:
    """Publish the small listing, wait until pricing and orders know it; return its policy."""
    data = workdir / "listing.csv"
    body = small_listing(data)
    provider = market.headers(market.provider_org, "provider")
    catalog = market.stack.url("catalog")
    created = httpx.post(catalog + "/v1/listings", json=body, headers=provider, timeout=60)
    created.raise_for_status()
    market.listing_id = str(created.json()["id"])
    httpx.post(
        f"{catalog}/v1/listings/{market.listing_id}/versions",
        content=data.read_bytes(),
        headers={**provider, "Content-Type": "text/csv"},
        timeout=60,
    ).raise_for_status()
    httpx.post(
        f"{catalog}/v1/listings/{market.listing_id}/publish", headers=provider, timeout=60
    ).raise_for_status()
    policy: dict[str, Any] = httpx.get(
        f"{catalog}/v1/listings/{market.listing_id}/policy", timeout=30
    ).json()

    async def learnt() -> bool:
        load = Load()
        operator = market.headers("ops-bench", "operator")
        buyer = market.headers("startup-bench-learn", "buyer")
        async with httpx.AsyncClient(timeout=60) as client:
            await purchase(client, market.stack, market.listing_id, policy, buyer, operator, load)
        if load.errors and not all(_not_yet_known(error) for error in load.errors):
            raise AssertionError(f"the first purchase was refused: {load.errors}")
        return bool(load.settled)

    until("pricing and orders to learn the listing", lambda: asyncio.run(learnt()), 120, 1)
    return policy


def _not_yet_known(error: str) -> bool:
    """Refusals of a listing pricing or orders has not consumed yet."""
    return error.startswith(("quote 404", "order 409"))


# --- the load ----------------------------------------------------------------------------


@dataclass
class Load:
    """Purchases made by the load generator, with the time each HTTP step took."""

    quote_s: list[float] = field(default_factory=list)
    order_s: list[float] = field(default_factory=list)
    settle_s: list[float] = field(default_factory=list)
    settled: dict[str, float] = field(default_factory=dict)  # order id -> wall clock
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def purchase(
    client: httpx.AsyncClient,
    stack: FaultyStack,
    listing_id: str,
    policy: dict[str, Any],
    buyer: dict[str, str],
    operator: dict[str, str],
    load: Load,
) -> None:
    """Quote → order → settle, once; failures are counted, not raised."""
    began = time.perf_counter()
    quote = await client.post(
        stack.url("pricing") + "/v1/quotes",
        json={
            "listing_id": listing_id,
            "product": "download",
            "duration_days": 30,
            "purpose": PURPOSE,
            "justification": "market analysis of published aggregate figures",
        },
        headers=buyer,
    )
    if quote.status_code != 201:
        load.error(f"quote {quote.status_code}")
        return
    ordered_at = time.perf_counter()
    load.quote_s.append(ordered_at - began)
    order = await client.post(
        stack.url("orders") + "/v1/orders",
        json=order_body(quote.json(), policy),
        headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
    )
    if order.status_code != 201:
        load.error(f"order {order.status_code}: {order.text[:120]}")
        return
    settling_at = time.perf_counter()
    load.order_s.append(settling_at - ordered_at)
    order_id = str(order.json()["id"])
    if order.json()["status"] != "paid":
        settled = await client.post(
            stack.url("orders") + f"/v1/orders/{order_id}/settle", headers=operator
        )
        if settled.status_code != 200:
            load.error(f"settle {settled.status_code}: {settled.text[:120]}")
            return
        load.settle_s.append(time.perf_counter() - settling_at)
    load.settled[order_id] = time.time()


async def run_load(
    market: Market, policy: dict[str, Any], seconds: float, concurrency: int, in_flight: int
) -> tuple[Load, float, float]:
    """Buy for ``seconds`` from ``concurrency`` workers; return the load and the window."""
    stack = market.stack
    load = Load()
    operator = market.headers("ops-bench", "operator")
    buyers = [market.headers(f"startup-bench-{n}", "buyer") for n in range(concurrency)]
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    started = time.time()
    deadline = time.monotonic() + seconds
    issued_before = _issued_count(stack)
    issued = [issued_before]

    async def watch_issued() -> None:
        while time.monotonic() < deadline:
            issued[0] = await asyncio.to_thread(_issued_count, stack)
            await asyncio.sleep(0.25)

    async def worker(buyer: dict[str, str]) -> None:
        while time.monotonic() < deadline:
            if len(load.settled) - (issued[0] - issued_before) >= in_flight:
                await asyncio.sleep(0.1)
                continue
            try:
                await purchase(client, stack, market.listing_id, policy, buyer, operator, load)
            except httpx.HTTPError as exc:
                load.error(type(exc).__name__)

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(watch_issued(), *(worker(buyer) for buyer in buyers))
    return load, started, time.time()


def _issued_count(stack: FaultyStack) -> int:
    return int(
        rows(stack.database("access"), "SELECT count(*) FROM grants WHERE status = 'issued'")[0][0]
    )


# --- what the stores say about each purchase ---------------------------------------------


def _time(value: object) -> float:
    parsed = datetime.fromisoformat(str(value))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@dataclass
class Journey:
    """When each step of one purchase happened (wall clock, seconds)."""

    paid: float  # order.paid committed with the order (orders)
    received: float  # access recorded the pending grant (its consumer had order.paid)
    issued: float  # access committed the issued grant with grant.issued
    published: float  # access's relay had grant.issued on the broker


def journeys(stack: FaultyStack, order_ids: set[str]) -> dict[str, Journey]:
    paid = {
        str(key): _time(created)
        for key, created in rows(
            stack.database("orders"),
            f"SELECT key, created_at FROM outbox WHERE event_type = '{ORDER_PAID}'",
        )
    }
    published = {
        str(key): _time(at)
        for key, at in rows(
            stack.database("access"),
            f"SELECT key, published_at FROM outbox WHERE event_type = '{GRANT_ISSUED}'"
            " AND published_at IS NOT NULL",
        )
    }
    found: dict[str, Journey] = {}
    for grant_id, order_id, created, issued in rows(
        stack.database("access"),
        "SELECT id, order_id, created_at, issued_at FROM grants WHERE status = 'issued'",
    ):
        order_id, grant_id = str(order_id), str(grant_id)
        if order_id in order_ids and order_id in paid and grant_id in published:
            found[order_id] = Journey(
                paid[order_id], _time(created), _time(issued), published[grant_id]
            )
    return found


# --- the run -----------------------------------------------------------------------------


def bench(workdir: Path, seconds: float, concurrency: int, in_flight: int, raw: int) -> None:
    stack = start_stack(workdir / "stack", extra_env=UNTHROTTLED)
    try:
        market = Market(stack)
        with console.status("publishing the listing…"):
            policy = publish(market, workdir)
        with console.status(f"raw aiokafka round trip × {raw}…"):
            round_trip = asyncio.run(raw_round_trip(stack.tansu.bootstrap_servers, raw))
        with console.status(f"buying for {seconds:.0f} s…"):
            load, began, ended = asyncio.run(
                run_load(market, policy, seconds, concurrency, in_flight)
            )
        with console.status("waiting for the last grants…"):
            _drain(stack, set(load.settled), timeout=max(120.0, seconds * 2))
        build_sum = metric(stack, "access", "vndx_extract_build_seconds_sum")
        build_count = metric(stack, "access", "vndx_extract_build_seconds_count")
        trips = journeys(stack, set(load.settled))
        round_trip_again = asyncio.run(raw_round_trip(stack.tansu.bootstrap_servers, raw))
    finally:
        stack.stop()
    report(
        seconds=ended - began,
        load=load,
        trips=trips,
        began=began,
        ended=ended,
        round_trip=round_trip + round_trip_again,
        build_mean_s=build_sum / build_count if build_count else 0.0,
        builds=int(build_count),
        settings={"seconds": seconds, "concurrency": concurrency, "in_flight": in_flight},
    )


def _drain(stack: FaultyStack, order_ids: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(journeys(stack, order_ids)) >= len(order_ids):
            return
        time.sleep(1)
    console.print("[yellow]some grants were still pending when the bench stopped waiting[/]")


def report(
    *,
    seconds: float,
    load: Load,
    trips: dict[str, Journey],
    began: float,
    ended: float,
    round_trip: list[float],
    build_mean_s: float,
    builds: int,
    settings: dict[str, Any],
) -> None:
    within = [t for t in trips.values() if began <= t.published <= ended]
    e2e_rate = len(within) / seconds
    http_rate = len(load.settled) / seconds
    delivery = [t.received - t.paid for t in trips.values()]
    publish = [t.published - t.issued for t in trips.values()]
    event_path = [d + p for d, p in zip(delivery, publish, strict=True)]
    building = [t.issued - t.received for t in trips.values()]
    whole = [t.published - t.paid for t in trips.values()]
    raw = percentiles(round_trip)
    path = percentiles(event_path)
    ratio = path["p99"] / raw["p99"] if raw["p99"] else float("inf")

    table = Table(title=f"end to end on the embedded stack, {seconds:.0f} s of purchases")
    for column in ("what", "figure", "p50 ms", "p95 ms", "p99 ms", "reference / goal"):
        table.add_column(column)
    table.add_row(
        "purchases/s end to end (grant issued)",
        f"{e2e_rate:,.1f}",
        "",
        "",
        "",
        f"goal ≥ {GOAL_PER_S}/s",
    )
    table.add_row(
        "orders paid/s (HTTP side: quote, order, settle)", f"{http_rate:,.1f}", "", "", "", ""
    )
    for label, values in (
        ("  POST /v1/quotes (pricing)", load.quote_s),
        ("  POST /v1/orders (orders)", load.order_s),
        ("  POST /v1/orders/{id}/settle (orders)", load.settle_s),
    ):
        figures = percentiles(values)
        table.add_row(label, str(figures["count"]), *_ms(figures), "")
    table.add_row(
        "order.paid → grant.issued, extract excluded",
        str(path["count"]),
        *_ms(path),
        f"p99 ≤ {GOAL_RATIO:.0f}× raw = {GOAL_RATIO * raw['p99']:,.1f} ms (now {ratio:,.1f}×)",
    )
    table.add_row("  orders relay → broker → access consumer", "", *_ms(percentiles(delivery)), "")
    table.add_row("  access relay publishes grant.issued", "", *_ms(percentiles(publish)), "")
    table.add_row("raw aiokafka produce → consume", str(raw["count"]), *_ms(raw), "reference")
    table.add_row(
        "extract: pending → issued (access builder queue + build)",
        str(len(building)),
        *_ms(percentiles(building)),
        "",
    )
    table.add_row(
        "extract build alone (access /metrics, mean)",
        str(builds),
        f"{build_mean_s * 1000:,.1f}",
        "",
        "",
        "reported apart from the latency",
    )
    table.add_row("order.paid → grant.issued, whole", "", *_ms(percentiles(whole)), "")
    console.print(table)
    if load.errors:
        console.print(f"[red]errors: {load.errors}[/red]")
    verdicts = {
        "rate_goal_met": e2e_rate >= GOAL_PER_S,
        "latency_goal_met": ratio <= GOAL_RATIO,
    }
    console.print(
        f"rate goal {'met' if verdicts['rate_goal_met'] else 'MISSED'}; "
        f"latency goal {'met' if verdicts['latency_goal_met'] else 'MISSED'} "
        f"(p99 {path['p99']:,.1f} ms vs raw p99 {raw['p99']:,.1f} ms)"
    )
    results = Path("bench/results")
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"bench_e2e-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "bench": "bench_e2e",
                "at": stamp,
                "settings": settings,
                "window_s": round(seconds, 1),
                "purchases_per_s_end_to_end": round(e2e_rate, 2),
                "orders_paid_per_s_http": round(http_rate, 2),
                "goal_per_s": GOAL_PER_S,
                "http_ms": {
                    "quote": percentiles(load.quote_s),
                    "order": percentiles(load.order_s),
                    "settle": percentiles(load.settle_s),
                },
                "paid_to_issued_without_extract_ms": path,
                "delivery_ms": percentiles(delivery),
                "publish_ms": percentiles(publish),
                "raw_round_trip_ms": raw,
                "p99_ratio_to_raw": round(ratio, 2),
                "pending_to_issued_ms": percentiles(building),
                "extract_build_mean_ms": round(build_mean_s * 1000, 1),
                "extract_builds": builds,
                "paid_to_issued_whole_ms": percentiles(whole),
                "errors": load.errors,
                **verdicts,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    console.print(
        f"written to {out}; median of event path {statistics.median(event_path or [0]) * 1000:.1f} ms"
    )


def _ms(figures: dict[str, float]) -> tuple[str, str, str]:
    return (f"{figures['p50']:,.1f}", f"{figures['p95']:,.1f}", f"{figures['p99']:,.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--raw", type=int, default=200, help="raw round trips (twice)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the stack's data here")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        bench(args.keep, args.seconds, args.concurrency, args.in_flight, args.raw)
        return
    with tempfile.TemporaryDirectory(prefix="vndx-bench-e2e-") as workdir:
        bench(Path(workdir), args.seconds, args.concurrency, args.in_flight, args.raw)


if __name__ == "__main__":
    main()
