"""End-to-end benchmark: purchases per second and the order.paid → grant.issued latency.

Starts the embedded stack (Tansu, SeaweedFS, catalog, pricing, orders, access, audit;
SQLite), publishes a small listing (200 rows of aggregate figures) and buys it: quote →
order (the local provider's invoice) → settled by an operator (order.paid) → access
builds the extract and issues the grant (grant.issued). Two phases, one after the other:

1. saturated, for ``--seconds``: a closed loop of ``--concurrency`` buyers with at most
   ``--in-flight`` purchases unsettled at once, so the rate measured is the rate the
   stack sustains, not the size of a queue; latency there is mostly queueing;
2. paced, for ``--paced-seconds``: an open loop at a fixed offered rate (``--paced-rate``,
   by default half the rate phase 1 sustained). Purchase n starts at t0 + n / rate
   whatever happened to the ones before, and its HTTP time counts from that scheduled
   moment, so a stall is not hidden.

Reported for each phase, each beside its reference measured in the same run:

- purchases per second end to end (grants issued within the window / window), beside
  the HTTP side alone (orders settled per second) and the goal (≥ 200/s);
- order.paid → grant.issued: the event path without the extract (orders' relay →
  broker → access's consumer, and access's relay publishing grant.issued) p50/p95/p99,
  beside a raw aiokafka produce → consume round trip on the same broker with the
  services' consumer settings (``fetch_max_wait_ms``; Tansu answers a long poll after
  about half of it, so a different wait would make the reference unfair);
  goal: p99 ≤ 5× raw. That reference is measured on the idle stack, before and after
  the load; in the paced phase a probe in a process of its own also measures it beside
  the load, on the same busy cores as the event path, and its ratio is printed too
  (not a softer reference: with other traffic Tansu answers a waiting fetch sooner, so
  at a light load the probe's round trip is shorter than the idle stack's);
- the extract build on its own: pending → issued in access (builder queue + build) and
  the build alone (access's ``vndx_extract_build_seconds``);
- per step, where a purchase spends its time (which service, which step);
- with ``--profile DIR``, where each service's CPU goes inside it (py-spy samples of the
  thread holding the GIL during the saturated phase, or the paced one with
  ``--profile-phase paced``, by package; the profilers' own CPU is accounted apart);
- CPU milliseconds per purchase of each process (every service, Tansu, SeaweedFS, the
  load generator), beside the budget the goal implies, and the machine's idle share;
  beside them, what each process burns per second when the stack has nothing to do
  (pollers, relays, heartbeats), the fixed cost a slower rate spreads over fewer
  purchases.

The load generator is a light asyncio HTTP/1.1 client (``light_http``), not httpx,
so it takes little of the two cores the stack runs on. The figures go to tables and to
``bench/results/bench_e2e-<time>.json``.

    python -m tests.bench.bench_e2e [--seconds 60] [--concurrency 16] [--in-flight 64]
        [--paced-seconds 40] [--paced-rate R] [--raw 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from services.common.kafka import ensure_topics
from services.common.settings import Settings
from tests.bench import cpu_accounting
from tests.bench.light_http import Client
from tests.policy_acceptance import order_body
from tests.reliability.harness import FaultyStack, Market, metric, small_listing, start_stack, until
from tests.reliability.invariants import GRANT_ISSUED, ORDER_PAID, rows

console = Console(width=None if os.isatty(1) else 130)
GOAL_PER_S = 200
GOAL_RATIO = 5.0
ROUND_TRIP_TOPIC = "bench.roundtrip"
WARM_UP_TRIPS = 10  # round trips that warm the connections up, not measured
PURPOSE = "research"
PURCHASE_TIMEOUT_S = 60.0
OTHER_WORK_CORES_NOTICED = 0.1
PROFILE_PACKAGES_SHOWN = 7
UNTHROTTLED = {
    f"VNDX_RATE_{kind}_PER_MINUTE": "1000000"
    for kind in ("QUOTES", "ORDERS", "DOWNLOADS", "QUERIES")
}
#: The reliability harness polls faster than shipped (its tests wait on the fallback
#: polls after crashes); the bench measures the backstop polls as shipped.
AS_SHIPPED = {
    f"VNDX_{name.upper()}": str(Settings.model_fields[name].default)
    for name in ("outbox_poll_interval_s", "grant_build_poll_interval_s")
}
T = TypeVar("T")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds of values in seconds (0 for none), and the count."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "count": len(ordered)}


def schedule(rate: float, seconds: float, start: float) -> Iterator[float]:
    """When each purchase of an open loop at ``rate`` per second starts: start + n / rate."""
    count = int(rate * seconds)
    return (start + n / rate for n in range(count))


# --- the raw broker round trip -----------------------------------------------------------


def consumer_fetch_wait_ms(stack: FaultyStack) -> int:
    """The ``fetch_max_wait_ms`` the stack's consumers run with (access's, as started)."""
    configured = stack.service_env("access").get("VNDX_KAFKA_FETCH_MAX_WAIT_MS")
    default = Settings.model_fields["kafka_fetch_max_wait_ms"].default
    return int(configured) if configured else int(default)


async def raw_round_trip(
    bootstrap: str,
    messages: int,
    fetch_max_wait_ms: int,
    pause_s: float = 0.0,
    on_warm: Callable[[], None] | None = None,
) -> list[float]:
    """Produce one message, wait until a consumer has it, again and again (seconds each),
    ``pause_s`` apart; ``on_warm`` is called once the connections are warm."""
    await ensure_topics(bootstrap, [ROUND_TRIP_TOPIC])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=fetch_max_wait_ms,
    )
    await producer.start()
    await consumer.start()
    try:
        partition = TopicPartition(ROUND_TRIP_TOPIC, 0)
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        timings: list[float] = []
        for number in range(messages + WARM_UP_TRIPS):
            payload = f"{number}:{uuid.uuid4()}".encode()
            started = time.perf_counter()
            await producer.send_and_wait(ROUND_TRIP_TOPIC, payload, partition=0)
            while True:
                batch = await consumer.getmany(partition, timeout_ms=1000)
                if any(record.value == payload for record in batch.get(partition, [])):
                    break
            if number < WARM_UP_TRIPS:
                if number == WARM_UP_TRIPS - 1 and on_warm is not None:
                    on_warm()
                continue
            timings.append(time.perf_counter() - started)
            await asyncio.sleep(pause_s)
        return timings
    finally:
        await consumer.stop()
        await producer.stop()


class ProbeBeside:
    """Raw round trips measured from a process of their own while a phase's load runs,
    so that the reference waits for the same busy cores as the event path beside it
    (the load generator's event loop would delay it by its own work)."""

    LABEL = "raw round-trip probe"

    def __init__(self, bootstrap: str, messages: int, fetch_wait_ms: int, seconds: float):
        context = multiprocessing.get_context("spawn")
        self._line, child_line = context.Pipe()
        self._measuring = False
        # Spread over the phase: each round trip takes ~15 ms of the interval.
        pause_s = max(seconds / messages - 0.015, 0.0)
        self.process = context.Process(
            target=_probe,
            args=(bootstrap, messages, fetch_wait_ms, pause_s, child_line),
            daemon=True,
        )

    def start(self, timeout_s: float = 60.0) -> int | None:
        """Start the probe and return its pid once it is connected and warmed up (its
        start-up is not the phase's work); it measures from then on. None if it did
        not get ready: the phase runs without it."""
        self.process.start()
        try:
            ready = self._line.poll(timeout_s) and self._line.recv() == "ready"
        except EOFError:  # it died on the way: it says why on its stderr
            ready = False
        if not ready:
            self.process.kill()
            console.print("[yellow]the raw round-trip probe did not get ready[/yellow]")
            return None
        self._line.send("go")
        self._measuring = True
        return self.process.pid

    def timings(self, timeout_s: float = 60.0) -> list[float]:
        """The probe's round trips (none if it did not get ready or answer in time)."""
        try:
            if self._measuring and self._line.poll(timeout_s):
                answer: list[float] = self._line.recv()
                return answer
            return []
        except EOFError:
            return []
        finally:
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()


def _probe(
    bootstrap: str, messages: int, fetch_wait_ms: int, pause_s: float, line: Connection
) -> None:
    def ready_then_wait_for_go() -> None:
        line.send("ready")
        line.recv()

    line.send(
        _run(
            lambda: raw_round_trip(
                bootstrap, messages, fetch_wait_ms, pause_s, on_warm=ready_then_wait_for_go
            )
        )
    )


# --- the purchases -----------------------------------------------------------------------


@dataclass
class Shop:
    """What every purchase needs: the listing, its policy and who acts."""

    stack: FaultyStack
    listing_id: str
    policy: dict[str, Any]
    operator: dict[str, str]


@dataclass
class Load:
    """Purchases made by the load generator, with the time each HTTP step took."""

    quote_s: list[float] = field(default_factory=list)
    order_s: list[float] = field(default_factory=list)
    settle_s: list[float] = field(default_factory=list)
    whole_s: list[float] = field(default_factory=list)  # from the (scheduled) start
    late_s: list[float] = field(default_factory=list)  # paced: started after its time by
    settled: dict[str, float] = field(default_factory=dict)  # order id -> wall clock
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


@dataclass
class Clients:
    """One light HTTP client per service a purchase talks to."""

    pricing: Client
    orders: Client

    @classmethod
    def of(cls, stack: FaultyStack) -> Clients:
        return cls(Client(stack.url("pricing")), Client(stack.url("orders")))

    async def aclose(self) -> None:
        await self.pricing.aclose()
        await self.orders.aclose()


async def purchase(
    clients: Clients,
    shop: Shop,
    buyer: dict[str, str],
    load: Load,
    scheduled: float | None = None,
) -> None:
    """Quote → order → settle, once; failures are counted, not raised."""
    began = time.perf_counter()
    quote = await clients.pricing.post(
        "/v1/quotes",
        json={
            "listing_id": shop.listing_id,
            "product": "download",
            "duration_days": 30,
            "purpose": PURPOSE,
            "justification": "market analysis of published aggregate figures",
        },
        headers=buyer,
    )
    if quote.status != 201:
        load.error(f"quote {quote.status}")
        return
    ordered_at = time.perf_counter()
    load.quote_s.append(ordered_at - began)
    order = await clients.orders.post(
        "/v1/orders",
        json=order_body(quote.json(), shop.policy),
        headers={**buyer, "Idempotency-Key": str(uuid.uuid4())},
    )
    if order.status != 201:
        load.error(f"order {order.status}: {order.text[:120]}")
        return
    settling_at = time.perf_counter()
    load.order_s.append(settling_at - ordered_at)
    placed = order.json()
    order_id = str(placed["id"])
    if placed["status"] != "paid":
        settled = await clients.orders.post(f"/v1/orders/{order_id}/settle", headers=shop.operator)
        if settled.status != 200:
            load.error(f"settle {settled.status}: {settled.text[:120]}")
            return
        load.settle_s.append(time.perf_counter() - settling_at)
    load.whole_s.append(time.perf_counter() - (began if scheduled is None else scheduled))
    load.settled[order_id] = time.time()


async def _counted(load: Load, attempt: Awaitable[None]) -> None:
    """Run one purchase; a broken connection or a timeout is an error, not a crash."""
    try:
        async with asyncio.timeout(PURCHASE_TIMEOUT_S):
            await attempt
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as exc:
        load.error(type(exc).__name__)


def publish(market: Market, workdir: Path) -> Shop:
    """Publish the small listing, wait until pricing and orders know it."""
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
    shop = Shop(market.stack, market.listing_id, policy, market.headers("ops-bench", "operator"))

    async def learnt() -> bool:
        load = Load()
        clients = Clients.of(market.stack)
        try:
            buyer = market.headers("startup-bench-learn", "buyer")
            await _counted(load, purchase(clients, shop, buyer, load))
        finally:
            await clients.aclose()
        if load.errors and not all(_not_yet_known(error) for error in load.errors):
            raise AssertionError(f"the first purchase was refused: {load.errors}")
        return bool(load.settled)

    until("pricing and orders to learn the listing", lambda: _run(learnt), 120, 1)
    return shop


def _not_yet_known(error: str) -> bool:
    """Refusals of a listing pricing or orders has not consumed yet."""
    return error.startswith(("quote 404", "order 409"))


def _buyers(market: Market, count: int) -> list[dict[str, str]]:
    return [market.headers(f"startup-bench-{n}", "buyer") for n in range(count)]


async def saturated_load(
    market: Market, shop: Shop, seconds: float, concurrency: int, in_flight: int
) -> tuple[Load, float, float]:
    """Closed loop: buy for ``seconds`` from ``concurrency`` workers; the load and window."""
    stack = market.stack
    load = Load()
    clients = Clients.of(stack)
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
            await _counted(load, purchase(clients, shop, buyer, load))

    try:
        await asyncio.gather(
            watch_issued(), *(worker(buyer) for buyer in _buyers(market, concurrency))
        )
    finally:
        await clients.aclose()
    return load, started, time.time()


async def paced_load(
    market: Market, shop: Shop, rate: float, seconds: float, buyers: int
) -> tuple[Load, float, float]:
    """Open loop: start purchases on the schedule at ``rate``/s; the load and window."""
    load = Load()
    clients = Clients.of(market.stack)
    people = _buyers(market, buyers)
    started = time.time()
    first = time.perf_counter() + 0.05
    running: list[asyncio.Task[None]] = []
    try:
        for number, at in enumerate(schedule(rate, seconds, first)):
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            load.late_s.append(max(time.perf_counter() - at, 0.0))
            buyer = people[number % len(people)]
            running.append(
                asyncio.create_task(_counted(load, purchase(clients, shop, buyer, load, at)))
            )
        await asyncio.gather(*running)
    finally:
        await clients.aclose()
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
    paid_published: float  # orders' relay had order.paid on the broker
    received: float  # access recorded the pending grant (its consumer had order.paid)
    issued: float  # access committed the issued grant with grant.issued
    published: float  # access's relay had grant.issued on the broker


def journeys(stack: FaultyStack, order_ids: set[str]) -> dict[str, Journey]:
    paid = {
        str(key): (_time(created), _time(published))
        for key, created, published in rows(
            stack.database("orders"),
            f"SELECT key, created_at, published_at FROM outbox WHERE event_type = '{ORDER_PAID}'"
            " AND published_at IS NOT NULL",
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
                *paid[order_id], _time(created), _time(issued), published[grant_id]
            )
    return found


def _drain(stack: FaultyStack, order_ids: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(journeys(stack, order_ids)) >= len(order_ids):
            return
        time.sleep(1)
    console.print("[yellow]some grants were still pending when the bench stopped waiting[/]")


# --- one phase, measured -----------------------------------------------------------------


@dataclass
class Phase:
    """A load window with what the stack did in it and the CPU it took."""

    name: str
    offered: str  # how the load was offered, for the tables and the verdict
    load: Load
    began: float
    ended: float
    trips: dict[str, Journey]
    cpu: cpu_accounting.Usage
    build_s: float  # extract build time summed over the phase's builds (access /metrics)
    builds: int
    cache_hits: int = 0  # extracts copied from an identical earlier build instead
    #: Raw round trips a probe measured while the load ran (the same busy machine).
    raw_beside_s: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.ended - self.began

    @property
    def e2e_rate(self) -> float:
        within = [t for t in self.trips.values() if self.began <= t.published <= self.ended]
        return len(within) / self.seconds if self.seconds > 0 else 0.0

    @property
    def http_rate(self) -> float:
        return len(self.load.settled) / self.seconds if self.seconds > 0 else 0.0

    def event_path(self) -> list[float]:
        return [(t.received - t.paid) + (t.published - t.issued) for t in self.trips.values()]


def process_roots(stack: FaultyStack) -> dict[str, int]:
    """The processes whose CPU is accounted: label → pid."""
    roots = {"load generator (this process)": os.getpid()}
    for service, process in stack.processes.items():
        if process.pid is not None:
            roots[f"{service} (uvicorn)"] = process.pid
    for label, pid in (("tansu (broker)", stack.tansu.pid), ("seaweedfs (weed)", stack.s3.pid)):
        if pid is not None:
            roots[label] = pid
    return roots


def measured_phase(
    stack: FaultyStack,
    name: str,
    offered: str,
    run: Callable[[], tuple[Load, float, float]],
    extra_roots: dict[str, int] | None = None,
    probe: ProbeBeside | None = None,
) -> Phase:
    """Run one load, CPU-accounted over its window (with ``probe`` beside it); then wait
    for its grants."""
    roots = {**process_roots(stack), **(extra_roots or {})}
    probe_pid = None if probe is None else probe.start()
    if probe_pid is not None:
        roots[ProbeBeside.LABEL] = probe_pid
    build_before = _build_totals(stack)
    before = cpu_accounting.take(roots)
    load, began, ended = run()
    after = cpu_accounting.take(roots)
    usage = cpu_accounting.between(before, after, wall_s=ended - began)
    raw_beside = [] if probe is None else probe.timings()
    with console.status(f"{name}: waiting for the last grants…"):
        _drain(stack, set(load.settled), timeout=max(120.0, (ended - began) * 2))
    build_after = _build_totals(stack)
    return Phase(
        name=name,
        offered=offered,
        load=load,
        began=began,
        ended=ended,
        trips=journeys(stack, set(load.settled)),
        cpu=usage,
        build_s=build_after[0] - build_before[0],
        builds=int(build_after[1] - build_before[1]),
        cache_hits=int(build_after[2] - build_before[2]),
        raw_beside_s=raw_beside,
    )


def _build_totals(stack: FaultyStack) -> tuple[float, float, float]:
    """Access's extract builds so far: seconds, count, and copies from its cache."""
    return (
        metric(stack, "access", "vndx_extract_build_seconds_sum"),
        metric(stack, "access", "vndx_extract_build_seconds_count"),
        metric(stack, "access", "vndx_extract_cache_hits_total"),
    )


# --- the run -----------------------------------------------------------------------------


@dataclass
class Options:
    seconds: float = 60
    concurrency: int = 16
    in_flight: int = 64
    paced_seconds: float = 40  # a p99 of ~500 samples, not ~200
    paced_rate: float | None = None  # None: half the saturated rate
    raw: int = 200
    idle_seconds: float = 5
    profile: Path | None = None  # py-spy the services during one phase
    profile_phase: str = "saturated"  # or "paced"


def _run(make: Callable[[], Awaitable[T]]) -> T:
    """On uvloop, the loop the services run on (uvicorn picks it), so that the raw
    round trip is measured with the same loop as the event path beside it."""

    async def runner() -> T:
        return await make()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop:
        return loop.run(runner())


def bench(workdir: Path, options: Options) -> dict[str, Any]:
    stack = start_stack(workdir / "stack", extra_env={**UNTHROTTLED, **AS_SHIPPED})
    try:
        market = Market(stack)
        with console.status("publishing the listing…"):
            shop = publish(market, workdir)
        fetch_wait_ms = consumer_fetch_wait_ms(stack)
        bootstrap = stack.tansu.bootstrap_servers
        with console.status(f"raw aiokafka round trip × {options.raw}…"):
            round_trip = _run(lambda: raw_round_trip(bootstrap, options.raw, fetch_wait_ms))
        with console.status(f"idle stack for {options.idle_seconds:.0f} s (CPU baseline)…"):
            idle = idle_usage(stack, options.idle_seconds)
        profilers = start_profilers(stack, options, "saturated", options.seconds)
        with console.status(f"saturated: buying for {options.seconds:.0f} s…"):
            saturated = measured_phase(
                stack,
                "saturated",
                f"closed loop, {options.concurrency} buyers, ≤ {options.in_flight} in flight",
                lambda: _run(
                    lambda: saturated_load(
                        market, shop, options.seconds, options.concurrency, options.in_flight
                    )
                ),
                extra_roots=profiler_roots(profilers),
            )
        profiles = finish_profilers(profilers)
        rate = options.paced_rate or max(round(saturated.e2e_rate * 0.5, 1), 1.0)
        profilers = start_profilers(stack, options, "paced", options.paced_seconds)
        with console.status(f"paced: {rate:.1f}/s for {options.paced_seconds:.0f} s…"):
            paced = measured_phase(
                stack,
                "paced",
                f"open loop, {rate:,.1f}/s offered on a schedule",
                lambda: _run(
                    lambda: paced_load(
                        market, shop, rate, options.paced_seconds, options.concurrency
                    )
                ),
                extra_roots=profiler_roots(profilers),
                probe=ProbeBeside(bootstrap, options.raw, fetch_wait_ms, options.paced_seconds),
            )
        profiles.update(finish_profilers(profilers))
        round_trip += _run(lambda: raw_round_trip(bootstrap, options.raw, fetch_wait_ms))
    finally:
        stack.stop()
    return report(
        phases=[saturated, paced],
        paced_rate=rate,
        idle=idle,
        profiles=profiles,
        round_trip=round_trip,
        fetch_wait_ms=fetch_wait_ms,
        options=options,
    )


# --- the report --------------------------------------------------------------------------


def _ms(figures: dict[str, float]) -> tuple[str, str, str]:
    return (f"{figures['p50']:,.1f}", f"{figures['p95']:,.1f}", f"{figures['p99']:,.1f}")


def ratio_to(p99_ms: float, reference_p99_ms: float) -> float:
    return p99_ms / reference_p99_ms if reference_p99_ms else float("inf")


def phase_table(phase: Phase, raw: dict[str, float], fetch_wait_ms: int) -> Table:
    trips = list(phase.trips.values())
    delivery = [t.received - t.paid for t in trips]
    relay = [t.paid_published - t.paid for t in trips]
    consume = [t.received - t.paid_published for t in trips]
    publishing = [t.published - t.issued for t in trips]
    building = [t.issued - t.received for t in trips]
    whole = [t.published - t.paid for t in trips]
    path = percentiles(phase.event_path())
    ratio = ratio_to(path["p99"], raw["p99"])
    load = phase.load
    table = Table(
        title=f"{phase.name}: {phase.offered}, {phase.seconds:.0f} s of purchases",
        title_justify="left",
    )
    for column in ("what", "figure", "p50 ms", "p95 ms", "p99 ms", "reference / goal"):
        table.add_column(column)
    table.add_row(
        "purchases/s end to end (grant issued)",
        f"{phase.e2e_rate:,.1f}",
        "",
        "",
        "",
        f"goal ≥ {GOAL_PER_S}/s",
    )
    table.add_row(
        "orders paid/s (HTTP side: quote, order, settle)",
        f"{phase.http_rate:,.1f}",
        *_ms(percentiles(load.whole_s)),
        "from the scheduled start" if load.late_s else "",
    )
    if load.late_s:
        table.add_row(
            "  load generator started late by", "", *_ms(percentiles(load.late_s)), "≈ 0 is fair"
        )
    for label, values in (
        ("  POST /v1/quotes (pricing)", load.quote_s),
        ("  POST /v1/orders (orders)", load.order_s),
        ("  POST /v1/orders/{id}/settle (orders)", load.settle_s),
    ):
        figures = percentiles(values)
        table.add_row(label, str(figures["count"]), *_ms(figures), "")
    beside = percentiles(phase.raw_beside_s)
    beside_note = (
        f"; {ratio_to(path['p99'], beside['p99']):,.1f}× the probe beside it"
        if beside["count"]
        else ""
    )
    table.add_row(
        "order.paid → grant.issued, extract excluded",
        str(path["count"]),
        *_ms(path),
        f"p99 ≤ {GOAL_RATIO:.0f}× raw = {GOAL_RATIO * raw['p99']:,.1f} ms "
        f"(now {ratio:,.1f}×{beside_note})",
    )
    table.add_row("  orders relay → broker → access consumer", "", *_ms(percentiles(delivery)), "")
    table.add_row("    orders relay: committed → on the broker", "", *_ms(percentiles(relay)), "")
    table.add_row("    broker → access consumer committed", "", *_ms(percentiles(consume)), "")
    table.add_row("  access relay publishes grant.issued", "", *_ms(percentiles(publishing)), "")
    table.add_row(
        f"raw aiokafka produce → consume (fetch_max_wait_ms={fetch_wait_ms})",
        str(raw["count"]),
        *_ms(raw),
        "reference, the services' consumer setting",
    )
    if beside["count"]:
        table.add_row(
            "  the same, probed beside this phase's load",
            str(beside["count"]),
            *_ms(beside),
            "a process of its own, spread over the phase",
        )
    table.add_row(
        "extract: pending → issued (access builder queue + build)",
        str(len(building)),
        *_ms(percentiles(building)),
        "",
    )
    build_mean_ms = 1000 * phase.build_s / phase.builds if phase.builds else 0.0
    table.add_row(
        "extract build alone (access /metrics, mean)",
        str(phase.builds),
        f"{build_mean_ms:,.1f}" if phase.builds else "",
        "",
        "",
        f"apart from the latency; {phase.cache_hits} copied from access's extract cache",
    )
    table.add_row("order.paid → grant.issued, whole", "", *_ms(percentiles(whole)), "")
    return table


Profilers = dict[str, tuple["subprocess.Popen[bytes]", Path]]


def start_profilers(stack: FaultyStack, options: Options, phase: str, seconds: float) -> Profilers:
    """py-spy on every service for ``seconds`` if ``phase`` is the one to profile."""
    directory = options.profile
    if directory is None or options.profile_phase != phase:
        return {}
    directory.mkdir(parents=True, exist_ok=True)
    started: Profilers = {}
    for service, process in stack.processes.items():
        if process.pid is not None:
            out = directory / f"{service}.collapsed.txt"
            started[service] = (cpu_accounting.start_profiler(process.pid, seconds, out), out)
    return started


def profiler_roots(profilers: Profilers) -> dict[str, int]:
    """The profilers as processes whose CPU is accounted (label → pid)."""
    return {f"py-spy on {service}": process.pid for service, (process, _) in profilers.items()}


def finish_profilers(profilers: Profilers) -> dict[str, dict[str, float]]:
    """Each service's self time by package, once its profiler has written its samples."""
    shares: dict[str, dict[str, float]] = {}
    for service, (process, out) in profilers.items():
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            continue
        if out.exists():
            shares[service] = cpu_accounting.self_time_by_package(out.read_text())
    return shares


def profile_table(profiles: dict[str, dict[str, float]], phase: str) -> Table:
    table = Table(
        title=f"{phase}: where each service's CPU goes (py-spy, innermost Python frame by package)",
        title_justify="left",
    )
    table.add_column("service")
    table.add_column("share of its samples, largest first")
    for service, shares in sorted(profiles.items()):
        top = list(shares.items())[:PROFILE_PACKAGES_SHOWN]
        table.add_row(service, ", ".join(f"{package} {share:.0%}" for package, share in top))
    return table


def idle_usage(stack: FaultyStack, seconds: float) -> cpu_accounting.Usage:
    """The CPU the stack uses with nothing to do (pollers, relays, heartbeats)."""
    roots = process_roots(stack)
    before = cpu_accounting.take(roots)
    began = time.monotonic()
    time.sleep(seconds)
    after = cpu_accounting.take(roots)
    return cpu_accounting.between(before, after, wall_s=time.monotonic() - began)


#: The processes that are not this project's Python: what no change to the services shrinks.
THIRD_PARTY_SERVERS = ("tansu (broker)", "seaweedfs (weed)")


def share_of_budget(ms_per_purchase: dict[str, float], budget_ms: float) -> float:
    """The share of the per-purchase CPU budget the broker and object store take alone."""
    return sum(ms_per_purchase.get(label, 0.0) for label in THIRD_PARTY_SERVERS) / budget_ms


def cpu_table(phases: list[Phase], idle: cpu_accounting.Usage) -> Table:
    cores = phases[0].cpu.cores
    budget = cpu_accounting.budget_ms_per_unit(cores, GOAL_PER_S)
    per_phase = [phase.cpu.ms_per_unit(len(phase.load.settled)) for phase in phases]
    table = Table(
        title=(
            f"CPU ms per purchase (purchases paid in the window); budget at the goal: "
            f"{cores} cores × 1000 ms / {GOAL_PER_S} = {budget:,.1f} ms"
        ),
        title_justify="left",
    )
    table.add_column("process (with its children)")
    for phase in phases:
        table.add_column(f"{phase.name} ms", justify="right")
    table.add_column("idle stack: CPU ms per s", justify="right")
    idle_per_s = {
        label: 1000 * seconds / idle.wall_s for label, seconds in idle.per_label_s.items()
    }
    idle_per_s["total accounted"] = 1000 * idle.accounted_s / idle.wall_s
    idle_per_s["not accounted (rest of the machine)"] = 1000 * idle.not_accounted_s / idle.wall_s
    labels = sorted(
        {
            label
            for figures in per_phase
            for label in figures
            if not label.startswith(("total", "not"))
        },
        key=lambda label: -per_phase[0].get(label, 0.0),
    )
    for label in [*labels, "total accounted", "not accounted (rest of the machine)"]:
        table.add_row(
            label,
            *(f"{figures.get(label, 0.0):,.2f}" for figures in per_phase),
            f"{idle_per_s.get(label, 0.0):,.1f}",
        )
    table.add_row("budget at the goal", *(f"{budget:,.1f}" for _ in phases), "")
    table.add_row(
        "  of it, the broker and the object store alone",
        *(f"{share_of_budget(figures, budget):.0%}" for figures in per_phase),
        "",
    )
    usages = [*(phase.cpu for phase in phases), idle]
    table.add_row(
        "machine idle share over the window", *(f"{usage.idle_share:.0%}" for usage in usages)
    )
    table.add_row(
        "cores busy with the bench (accounted CPU s / wall s)",
        *(f"{usage.accounted_s / usage.wall_s:,.2f}" for usage in usages),
    )
    table.add_row(
        "cores busy with anything else on the machine",
        *(f"{usage.not_accounted_s / usage.wall_s:,.2f}" for usage in usages),
    )
    return table


def shared_machine_warning(phases: list[Phase]) -> str | None:
    """A warning when other work took a noticeable part of the cores during a window."""
    busy = {
        phase.name: phase.cpu.not_accounted_s / phase.cpu.wall_s
        for phase in phases
        if phase.cpu.wall_s > 0
    }
    if max(busy.values(), default=0.0) < OTHER_WORK_CORES_NOTICED:
        return None
    shares = ", ".join(f"{name} {cores:,.2f} cores" for name, cores in busy.items())
    return (
        f"the machine was shared: other processes kept {shares} busy; "
        "rates and latencies here are lower and slower than on a quiet machine"
    )


def verdict(phases: list[Phase], raw: dict[str, float]) -> tuple[str, dict[str, Any]]:
    """One line: the rate goal, and at which offered rate the latency goal is met or missed."""
    saturated = phases[0]
    parts = [
        f"rate goal {'met' if saturated.e2e_rate >= GOAL_PER_S else 'MISSED'} "
        f"({saturated.e2e_rate:,.1f}/s sustained vs ≥ {GOAL_PER_S}/s)"
    ]
    found: dict[str, Any] = {"rate_goal_met": saturated.e2e_rate >= GOAL_PER_S}
    for phase in phases:
        path = percentiles(phase.event_path())
        if not path["count"]:
            found[f"latency_goal_met_{phase.name}"] = None
            parts.append(f"latency not measured at {phase.offered}: no purchase was issued")
            continue
        ratio = ratio_to(path["p99"], raw["p99"])
        met = ratio <= GOAL_RATIO
        found[f"latency_goal_met_{phase.name}"] = met
        part = (
            f"latency goal {'met' if met else 'MISSED'} at {phase.offered} "
            f"(~{phase.e2e_rate:,.1f}/s done): p99 {path['p99']:,.1f} ms = {ratio:,.1f}× raw "
            f"p99 {raw['p99']:,.1f} ms"
        )
        beside = percentiles(phase.raw_beside_s)
        if beside["count"]:
            part += (
                f" ({ratio_to(path['p99'], beside['p99']):,.1f}× the raw p99 of "
                f"{beside['p99']:,.1f} ms probed beside the load)"
            )
        parts.append(part)
    return "; ".join(parts), found


def report(
    *,
    phases: list[Phase],
    paced_rate: float,
    round_trip: list[float],
    fetch_wait_ms: int,
    options: Options,
    idle: cpu_accounting.Usage,
    profiles: dict[str, dict[str, float]],
) -> dict[str, Any]:
    raw = percentiles(round_trip)
    for phase in phases:
        console.print(phase_table(phase, raw, fetch_wait_ms))
        if phase.load.errors:
            console.print(f"[red]{phase.name} errors: {phase.load.errors}[/red]")
    console.print(cpu_table(phases, idle))
    if profiles:
        console.print(profile_table(profiles, options.profile_phase))
    warning = shared_machine_warning(phases)
    if warning:
        console.print(f"[yellow]{warning}[/yellow]")
    line, verdicts = verdict(phases, raw)
    console.print(line)
    results = Path("bench/results")
    results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results / f"bench_e2e-{stamp}.json"
    document = {
        "bench": "bench_e2e",
        "at": stamp,
        "settings": {
            **options.__dict__,
            "profile": str(options.profile or ""),
            "paced_rate": paced_rate,
        },
        "goal_per_s": GOAL_PER_S,
        "goal_p99_ratio": GOAL_RATIO,
        "raw_round_trip_ms": raw,
        "raw_fetch_max_wait_ms": fetch_wait_ms,
        "phases": {phase.name: _phase_document(phase, raw) for phase in phases},
        f"{options.profile_phase}_self_time_by_package": {
            service: {package: round(share, 3) for package, share in list(shares.items())[:15]}
            for service, shares in profiles.items()
        },
        "idle_stack_cpu_ms_per_s": {
            label: round(1000 * seconds / idle.wall_s, 1)
            for label, seconds in idle.per_label_s.items()
        },
        "verdict": line,
        "shared_machine_warning": warning,
        **verdicts,
    }
    out.write_text(json.dumps(document, indent=2), encoding="utf-8")
    console.print(f"written to {out}")
    return document


def _phase_document(phase: Phase, raw: dict[str, float]) -> dict[str, Any]:
    trips = list(phase.trips.values())
    path = percentiles(phase.event_path())
    load = phase.load
    return {
        "offered": phase.offered,
        "window_s": round(phase.seconds, 1),
        "purchases_per_s_end_to_end": round(phase.e2e_rate, 2),
        "orders_paid_per_s_http": round(phase.http_rate, 2),
        "http_ms": {
            "quote": percentiles(load.quote_s),
            "order": percentiles(load.order_s),
            "settle": percentiles(load.settle_s),
            "whole_from_start": percentiles(load.whole_s),
            "started_late": percentiles(load.late_s),
        },
        "paid_to_issued_without_extract_ms": path,
        "p99_ratio_to_raw": round(ratio_to(path["p99"], raw["p99"]), 2),
        "raw_round_trip_beside_ms": percentiles(phase.raw_beside_s),
        "p99_ratio_to_raw_beside": round(
            ratio_to(path["p99"], percentiles(phase.raw_beside_s)["p99"]), 2
        )
        if phase.raw_beside_s
        else None,
        "delivery_ms": percentiles([t.received - t.paid for t in trips]),
        "orders_relay_ms": percentiles([t.paid_published - t.paid for t in trips]),
        "access_consume_ms": percentiles([t.received - t.paid_published for t in trips]),
        "publish_ms": percentiles([t.published - t.issued for t in trips]),
        "pending_to_issued_ms": percentiles([t.issued - t.received for t in trips]),
        "extract_build_mean_ms": round(1000 * phase.build_s / phase.builds, 1)
        if phase.builds
        else 0.0,
        "extract_builds": phase.builds,
        "extract_cache_hits": phase.cache_hits,
        "paid_to_issued_whole_ms": percentiles([t.published - t.paid for t in trips]),
        "cpu_ms_per_purchase": {
            label: round(value, 2)
            for label, value in phase.cpu.ms_per_unit(len(load.settled)).items()
        },
        "cpu_budget_ms_per_purchase": cpu_accounting.budget_ms_per_unit(
            phase.cpu.cores, GOAL_PER_S
        ),
        "budget_share_broker_and_object_store": round(
            share_of_budget(
                phase.cpu.ms_per_unit(len(load.settled)),
                cpu_accounting.budget_ms_per_unit(phase.cpu.cores, GOAL_PER_S),
            ),
            3,
        ),
        "machine_idle_share": round(phase.cpu.idle_share, 3),
        "cores_busy_bench": round(phase.cpu.accounted_s / phase.cpu.wall_s, 2),
        "cores_busy_other": round(phase.cpu.not_accounted_s / phase.cpu.wall_s, 2),
        "errors": load.errors,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="saturated phase")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--paced-seconds", type=float, default=40, help="paced phase")
    parser.add_argument(
        "--paced-rate", type=float, default=None, help="purchases/s (default: half the sustained)"
    )
    parser.add_argument("--raw", type=int, default=200, help="raw round trips (twice)")
    parser.add_argument(
        "--idle-seconds", type=float, default=5, help="CPU baseline of the idle stack"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy every service during one phase; collapsed stacks go here",
    )
    parser.add_argument(
        "--profile-phase",
        choices=("saturated", "paced"),
        default="saturated",
        help="the phase --profile samples",
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the stack's data here")
    args = parser.parse_args(argv)
    options = Options(
        seconds=args.seconds,
        concurrency=args.concurrency,
        in_flight=args.in_flight,
        paced_seconds=args.paced_seconds,
        paced_rate=args.paced_rate,
        raw=args.raw,
        idle_seconds=args.idle_seconds,
        profile=args.profile,
        profile_phase=args.profile_phase,
    )
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        bench(args.keep, options)
        return
    with tempfile.TemporaryDirectory(prefix="vndx-bench-e2e-") as workdir:
        bench(Path(workdir), options)


if __name__ == "__main__":
    main()
