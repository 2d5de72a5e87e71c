"""A dependency that stops answering: 503 with Retry-After, never a hung request.

The object store (SeaweedFS) or the database (PostgreSQL) is frozen with
SIGSTOP for ten seconds while buyers keep buying: it keeps its sockets open and
answers nothing, which is what a stalled disk or a saturated server looks like
(a refused connection would be the easy case). Requests that need it get a 503
with ``Retry-After`` once the stack's request deadline passes; none is left
hanging. After SIGCONT the same processes carry on and every purchase settles
with nothing lost or doubled.

Both runs (the database run with PostgreSQL for every service) start their own
stack and take minutes: they are in make test-reliability. The deadline is 2 s
in these stacks (``VNDX_REQUEST_DEADLINE_S``; 60 s by default), so that a
ten-second pause is longer than it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability.harness import (
    PURCHASE_SERVICES,
    FaultyStack,
    Market,
    pause,
    resume,
    start_stack,
    until,
)
from tests.reliability.invariants import check_purchases
from vndx.embedded import Postgres

PAUSE_S = 10
DEADLINE_S = 2
#: A request taking longer than this is hung: the deadline plus generous slack for a
#: loaded machine (the guard answers on the event loop, which the pause does not block).
HUNG_AFTER_S = DEADLINE_S + 10
FAST_DEADLINE = {"VNDX_REQUEST_DEADLINE_S": str(DEADLINE_S)}
AGGREGATE = "SELECT year, count(*) AS n FROM extract GROUP BY year ORDER BY year"


@dataclass
class Answers:
    """What the probes got while the dependency was frozen."""

    statuses: list[int] = field(default_factory=list)
    unavailable_without_retry_after: int = 0
    hung: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, what: str, call: Callable[[], httpx.Response]) -> None:
        try:
            response = call()
        except httpx.TimeoutException:
            with self.lock:
                self.hung.append(what)
            return
        with self.lock:
            self.statuses.append(response.status_code)
            if response.status_code == 503 and not response.headers.get("Retry-After"):
                self.unavailable_without_retry_after += 1


def _probe_while_paused(
    server: int | None, probes: list[tuple[str, Callable[[], httpx.Response]]]
) -> Answers:
    """Freeze the server and its children for PAUSE_S while the probes call again and again."""
    answers = Answers()
    stop = threading.Event()

    def keep_probing(what: str, call: Callable[[], httpx.Response]) -> None:
        while not stop.is_set():
            answers.record(what, call)

    stopped = pause(server)
    try:
        with ThreadPoolExecutor(len(probes)) as pool:
            for what, call in probes:
                pool.submit(keep_probing, what, call)
            time.sleep(PAUSE_S)
            stop.set()
            resume(stopped)
    finally:
        resume(stopped)
    return answers


def _settle(market: Market) -> None:
    order_ids = {str(order["id"]) for order in market.placed}
    until(
        "every purchase to settle after the pause",
        lambda: not check_purchases(market.stack, order_ids).problems,
        timeout=240,
        every=2,
    )
    final = check_purchases(market.stack, order_ids)
    assert final.problems == []
    assert final.grants.get("pending", 0) == final.grants.get("failed", 0) == 0
    assert market.failures == []


def _buying(market: Market) -> tuple[threading.Thread, threading.Event]:
    """Buyers who keep buying in the background until told to stop."""
    done = threading.Event()

    def keep_buying() -> None:
        while not done.is_set():
            market.buy(4, concurrency=4)

    thread = threading.Thread(target=keep_buying, name="buyers", daemon=True)
    thread.start()
    return thread, done


@pytest.mark.slow
def test_a_frozen_object_store_gets_503_and_work_resumes(tmp_path: Path) -> None:
    stack = start_stack(tmp_path / "stack", extra_env=FAST_DEADLINE)
    try:
        market = Market(stack, product="sandbox")
        market.publish(tmp_path)
        grant = _issued_grant(market)
        buyer = market.buyer()
        query = f"{stack.url('access')}/v1/grants/{grant['grant_id']}/query"
        owner = market.headers(str(grant["buyer_org"]), "buyer", "public_interest")

        def sandbox_query() -> httpx.Response:
            return httpx.post(query, json={"sql": AGGREGATE}, headers=owner, timeout=HUNG_AFTER_S)

        assert sandbox_query().status_code == 200
        thread, done = _buying(market)
        answers = _probe_while_paused(
            stack.s3.pid,
            [
                ("sandbox query", sandbox_query),
                ("sandbox query", sandbox_query),
                ("grants", lambda: _get(stack, "access", "/v1/grants", buyer)),
            ],
        )
        done.set()
        thread.join(300)
        assert answers.hung == []
        assert 503 in answers.statuses
        assert answers.unavailable_without_retry_after == 0
        assert set(answers.statuses) <= {200, 503}
        until("sandbox queries to answer again", lambda: sandbox_query().status_code == 200, 60)
        _settle(market)
    finally:
        stack.stop()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Postgres]:
    server = Postgres(tmp_path / "postgres.log", durable=False)
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_frozen_database_gets_503_and_work_resumes(tmp_path: Path, postgres: Postgres) -> None:
    for service in PURCHASE_SERVICES:
        postgres.create_database(service)
    stack = start_stack(
        tmp_path / "stack",
        extra_env=FAST_DEADLINE,
        database_urls={service: postgres.dsn(service) for service in PURCHASE_SERVICES},
    )
    try:
        market = Market(stack)
        market.publish(tmp_path)
        buyer = market.buyer()
        thread, done = _buying(market)
        answers = _probe_while_paused(
            postgres.pid,
            [
                ("orders", lambda: _get(stack, "orders", "/v1/orders", buyer)),
                ("grants", lambda: _get(stack, "access", "/v1/grants", buyer)),
                (
                    "listing",
                    lambda: _get(stack, "catalog", f"/v1/listings/{market.listing_id}", buyer),
                ),
            ],
        )
        done.set()
        thread.join(300)
        assert answers.hung == []
        assert 503 in answers.statuses
        assert answers.unavailable_without_retry_after == 0
        assert set(answers.statuses) <= {200, 201, 503}
        assert _get(stack, "orders", "/v1/orders", buyer).status_code == 200
        _settle(market)
    finally:
        stack.stop()


def _get(stack: FaultyStack, service: str, path: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(stack.url(service) + path, headers=headers, timeout=HUNG_AFTER_S)


def _issued_grant(market: Market) -> dict[str, object]:
    """Buy once and wait for the grant to be issued; return the order (with its grant id)."""
    order = market.buy_once()
    assert order is not None
    url = f"{market.stack.url('orders')}/v1/orders/{order['id']}"
    headers = market.headers("ops", "operator")

    def fulfilled() -> dict[str, object] | None:
        found: dict[str, object] = httpx.get(url, headers=headers, timeout=30).json()
        return found if found.get("grant_id") else None

    issued: dict[str, object] = until("the first grant", fulfilled, timeout=120)
    return issued
