"""The reliability harness: the embedded stack as real processes, armed and supervised.

``FaultyStack`` runs every service as a child process and can arm one service's
crash points (``VNDX_FAULT_INJECTION``) at a time; a ``Supervisor`` thread
restarts any service that died, without faults. ``Market`` publishes a small
listing and buys it many times over HTTP (zero-đồng waivers for a
public-interest buyer, so an order is paid the moment it is placed), retrying
through outages with the same Idempotency-Key.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.common.auth import Role, TokenIssuer
from services.common.settings import Settings
from tests.policy_acceptance import accepted_order_body
from vndx.embedded.ports import PortInUseError, free_port, wait_for
from vndx.embedded.process import ChildProcess
from vndx.stack import SERVICES, EmbeddedStack, StackConfig, answers_as, serving_command

PURCHASE_SERVICES = ("catalog", "pricing", "orders", "access", "audit")
MAX_EVENT_BYTES = 262_144
RATE_QUOTES_PER_MINUTE = 200
RETRYABLE = {409, 429, 500, 502, 503, 504}


class FaultyStack(EmbeddedStack):
    """An embedded stack whose services can be armed one at a time and restarted."""

    def __init__(self, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.armed: dict[str, str] = {}
        self.env_overrides: dict[str, dict[str, str]] = {}
        #: service -> SQLAlchemy URL, for services not on their SQLite file (PostgreSQL)
        self.database_urls: dict[str, str] = {}
        self.replicas: dict[str, ChildProcess] = {}
        self.lock = threading.RLock()

    def database(self, service: str) -> str:
        """Where ``service`` keeps its data: a PostgreSQL URL, or its SQLite file."""
        return self.database_urls.get(service) or str(self.data_dir / f"{service}.db")

    def service_env(self, service: str) -> dict[str, str]:
        env = super().service_env(service)
        if service in self.database_urls:
            env["VNDX_DATABASE_URL"] = self.database_urls[service]
        env.update(self.env_overrides.get(service, {}))
        if service in self.armed:
            env["VNDX_FAULT_INJECTION"] = self.armed[service]
        return env

    def start_service(self, service: str) -> ChildProcess:
        """Start ``service``; on another machine user's port race, move it to a fresh port.

        The stack's health check already asks for the service by name; it is asked
        again a moment later because a process that lost the port may take that
        long to exit.
        """
        for _ in range(3):
            try:
                process = super().start_service(service)
            except PortInUseError:
                self.config.service_ports[service] = free_port()
                continue
            except Exception:
                process = self.processes[service]
            time.sleep(0.3)
            if process.is_alive() and answers_as(self.url(service), service):
                return process
            if self.armed.get(service) and process.returncode == -9:
                return process  # killed by its own armed fault while starting
            self.stop_service(service)
            self.config.service_ports[service] = free_port()
        raise RuntimeError(f"{service} did not start on a free port")

    def restart(self, service: str, faults: str | None = None) -> None:
        """Stop ``service`` politely and start it again, armed with ``faults`` if given."""
        with self.lock:
            self.stop_service(service, timeout=5)
            if faults:
                self.armed[service] = faults
            else:
                self.armed.pop(service, None)
            self.start_service(service)

    def start_replica(self, service: str, name: str) -> ChildProcess:
        """Another process of ``service`` on its own port: same database, same consumer group."""
        port = free_port()
        factory = next(s.factory for s in SERVICES if s.name == service)
        env = {**self.service_env(service), "VNDX_PORT": str(port)}
        env["VNDX_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        process = ChildProcess(
            serving_command(factory, port),
            self.log_dir / f"{name}.log",
            env=env,
            cwd=Path.cwd(),
        )
        process.start()
        self.replicas[name] = process
        wait_for(
            lambda: answers_as(f"http://127.0.0.1:{port}", service),
            60,
            name,
            log_file=process.log_file,
            alive=process.is_alive,
        )
        return process

    def stop_replica(self, name: str, kill: bool = False) -> None:
        """Stop a replica politely (it leaves its group), or SIGKILL it (it just vanishes)."""
        process = self.replicas.pop(name)
        if kill and process.pid is not None and process.is_alive():
            os.killpg(process.pid, signal.SIGKILL)
        process.stop(timeout=10)

    def stop(self) -> None:
        for name in list(self.replicas):
            self.stop_replica(name)
        super().stop()

    def dead(self) -> list[str]:
        with self.lock:
            return [name for name, proc in self.processes.items() if not proc.is_alive()]

    def issuer(self) -> TokenIssuer:
        settings = Settings(data_dir=self.data_dir)
        return TokenIssuer(
            settings.private_key_path.read_bytes(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )


@dataclass
class Kill:
    service: str
    faults: str
    returncode: int | None


class Supervisor:
    """Restarts (without faults) every service of the stack that died."""

    def __init__(self, stack: FaultyStack) -> None:
        self.stack = stack
        self.kills: list[Kill] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self.died = threading.Condition()

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(120)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for service in self.stack.dead():
                with self.stack.lock:
                    process = self.stack.processes[service]
                    faults = self.stack.armed.get(service, "")
                    self.kills.append(Kill(service, faults, process.returncode))
                    self.stack.restart(service)
                with self.died:
                    self.died.notify_all()

    def wait_for_kill(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` kills have happened in all; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.died:
            while len(self.kills) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.died.wait(left)
        return True


def start_stack(
    data_dir: Path,
    services: Iterable[str] = PURCHASE_SERVICES,
    *,
    extra_env: dict[str, str] | None = None,
    database_urls: dict[str, str] | None = None,
) -> FaultyStack:
    """Start a stack of ``services``; ``database_urls`` puts some of them on PostgreSQL."""
    config = StackConfig.on_free_ports(data_dir, services=tuple(services))
    config.extra_env.update(
        {
            "VNDX_OUTBOX_POLL_INTERVAL_S": "0.2",
            "VNDX_GRANT_BUILD_POLL_INTERVAL_S": "0.2",
            "VNDX_LOG_FORMAT": "json",
            "VNDX_MAX_EVENT_BYTES": str(MAX_EVENT_BYTES),
            "VNDX_RATE_QUOTES_PER_MINUTE": str(RATE_QUOTES_PER_MINUTE),
            **(extra_env or {}),
        }
    )
    stack = FaultyStack(config)
    stack.database_urls.update(database_urls or {})
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    return stack


def pause(pid: int | None) -> list[int]:
    """SIGSTOP a server and every process it forked: it holds its sockets and answers nothing.

    The whole tree, not only the process group: PostgreSQL's backends each start a
    session of their own, so stopping the postmaster's group would leave every open
    connection answering. Returns the processes stopped, for ``resume``.
    """
    assert pid is not None, "the process is not running"
    os.kill(pid, signal.SIGSTOP)  # first, so that it forks nothing new meanwhile
    stopped = [pid, *_descendants(pid)]
    for child in stopped[1:]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGSTOP)
    return stopped


def resume(stopped: list[int]) -> None:
    for pid in reversed(stopped):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found += children
        frontier += children
    return found


def until(what: str, probe: Callable[[], Any], timeout: float = 120, every: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def small_listing(path: Path, rows: int = 200) -> dict[str, Any]:
    """Write a small aggregate-statistics CSV (no personal data) and return its listing body."""
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["year", "indicator", "value"])
        for index in range(rows):
            writer.writerow([2015 + index % 10, rng.choice(["Dân số", "Lao động"]), index])
    column = {"type": "string", "classification": "attribute"}
    return {
        "title_vi": "Chỉ tiêu thống kê mẫu",
        "title_en": "Sample statistics",
        "description_vi": "Số liệu tổng hợp giả lập cho kiểm thử độ tin cậy.",
        "description_en": "Synthetic aggregate figures for the reliability suite.",
        "keywords": ["thống kê"],
        "theme": "statistics",
        "provinces": [],
        "temporal": {"start": "2015-01-01", "end": "2024-12-31"},
        "update_frequency": "yearly",
        "products": ["download", "sandbox"],
        "columns": [
            {**column, "name": "year", "type": "integer"},
            {**column, "name": "indicator"},
            {**column, "name": "value", "type": "integer"},
        ],
    }


@dataclass
class Market:
    """Buyers, a provider and one small published listing on a running stack."""

    stack: FaultyStack
    listing_id: str = ""
    provider_org: str = "tk-reliab"
    product: str = "download"
    issuer: TokenIssuer = field(init=False)
    placed: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    buyer_orgs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.issuer = self.stack.issuer()
        self._lock = threading.Lock()
        self._buyer_turn = itertools.count()

    def headers(self, org: str, role: Role, segment: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(org, role, segment=segment)}"}

    def client(self, service: str, timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.stack.url(service), timeout=timeout)

    def publish(self, workdir: Path, rows: int = 200) -> str:
        data = workdir / "listing.csv"
        body = small_listing(data, rows)
        provider = self.headers(self.provider_org, "provider")
        with self.client("catalog", 60) as catalog:
            created = catalog.post("/v1/listings", json=body, headers=provider)
            created.raise_for_status()
            listing_id = str(created.json()["id"])
            catalog.post(
                f"/v1/listings/{listing_id}/versions",
                content=data.read_bytes(),
                headers={**provider, "Content-Type": "text/csv"},
            ).raise_for_status()
            published = catalog.post(f"/v1/listings/{listing_id}/publish", headers=provider)
            published.raise_for_status()
        self.listing_id = listing_id
        # Pricing and orders learn the listing from its event: one purchase proves both did.
        until(
            "pricing and orders to learn the listing",
            lambda: self.buy_once(retry_s=5, learning=True),
        )
        until("pricing to learn every buyer's verification", self.buyers_known)
        return listing_id

    def buyer(self) -> dict[str, str]:
        """One of the buyer organisations an operator verified as public interest."""
        if not self.buyer_orgs:
            self.verify_buyers()
        org = self.buyer_orgs[next(self._buyer_turn) % len(self.buyer_orgs)]
        return self.headers(org, "buyer", "public_interest")

    def verify_buyers(self, count: int = 8) -> None:
        """Verify `count` organisations in the catalog (operator): pricing waives their
        quotes only once it consumed the verification (a token's claim counts for nothing)."""
        orgs = [f"pi-{uuid.uuid4().hex[:8]}" for _ in range(count)]
        operator = self.headers("vndx-ops", "operator")
        with self.client("catalog", 60) as catalog:
            for org in orgs:
                catalog.post(
                    f"/v1/organisations/{org}/verification",
                    json={
                        "tax_code": "0100109106",
                        "registered_name": f"Viện nghiên cứu {org}",
                        "segment": "public_interest",
                    },
                    headers=operator,
                ).raise_for_status()
        self.buyer_orgs = orgs

    def buyers_known(self) -> bool:
        """Whether pricing waives a quote for every verified buyer organisation."""
        body = {
            "listing_id": self.listing_id,
            "product": self.product,
            "duration_days": 30,
            "purpose": "research",
            "justification": "checking the verification arrived",
        }
        with self.client("pricing") as pricing:
            for org in self.buyer_orgs:
                quote = pricing.post(
                    "/v1/quotes", json=body, headers=self.headers(org, "buyer", "public_interest")
                )
                if quote.status_code != 201 or quote.json()["segment"] != "public_interest":
                    return False
        return True

    def buy_once(self, retry_s: float = 120, learning: bool = False) -> dict[str, Any] | None:
        """Quote and order once (a waiver: paid at once); retry through outages.

        ``learning``: the listing may still be unknown to pricing (404) for a while.
        """
        buyer = self.buyer()
        retryable = RETRYABLE | {404} if learning else RETRYABLE
        quote = _retrying(
            lambda: _post(
                self.stack.url("pricing"),
                "/v1/quotes",
                {
                    "listing_id": self.listing_id,
                    "product": self.product,
                    "duration_days": 30,
                    "purpose": "research",
                    "justification": "public-interest research under a ministry mandate",
                },
                buyer,
            ),
            retry_s,
            retryable,
        )
        if quote is None:
            return None
        if learning and quote.get("segment") != "public_interest":
            return None  # pricing has not consumed the buyer's verification yet
        key = {"Idempotency-Key": str(quote["id"])}
        order = _retrying(
            lambda: _post(
                self.stack.url("orders"),
                "/v1/orders",
                accepted_order_body(self.stack.url("catalog"), quote, buyer),
                {**buyer, **key},
            ),
            retry_s,
            retryable,
        )
        if order is not None:
            with self._lock:
                self.placed.append(order)
        return order

    def buy(self, count: int, concurrency: int = 8) -> int:
        """Place ``count`` paid orders from ``concurrency`` threads; return how many succeeded.

        A purchase refused for good is kept in ``failures`` (the caller asserts there are
        none) rather than raised, so that a load thread never dies silently mid-test.
        """
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda _: self._buy_or_record(), range(count)))
        return sum(1 for r in results if r is not None)

    def _buy_or_record(self) -> dict[str, Any] | None:
        try:
            order = self.buy_once()
        except Exception as exc:
            order, failure = None, f"{type(exc).__name__}: {exc}"[:500]
        else:
            failure = "" if order is not None else "no order after retrying for 120 s"
        if failure:
            with self._lock:
                self.failures.append(failure)
        return order


def _post(base: str, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(base + path, json=body, headers=headers, timeout=30)


def _retrying(
    call: Callable[[], httpx.Response], retry_s: float, retryable: set[int]
) -> dict[str, Any] | None:
    deadline = time.monotonic() + retry_s
    while time.monotonic() < deadline:
        try:
            response = call()
        except httpx.HTTPError:
            time.sleep(0.3)
            continue
        if response.status_code in (200, 201):
            result: dict[str, Any] = response.json()
            return result
        if response.status_code not in retryable:
            raise AssertionError(f"refused: {response.status_code} {response.text[:300]}")
        time.sleep(0.3)
    return None


def cli_env(stack: EmbeddedStack) -> dict[str, str]:
    """The ``VNDX_`` variables an operator's shell would have for this stack."""
    return {k: v for k, v in stack.service_env("vndx").items() if k.startswith("VNDX_")}


def run_cli(stack: EmbeddedStack, *args: str) -> str:
    """Run ``vndx ARGS`` against the stack; return its output (fails on a non-zero exit)."""
    from typer.testing import CliRunner

    from vndx.cli import app

    result = CliRunner().invoke(app, list(args), env=cli_env(stack))
    assert result.exit_code == 0, f"vndx {' '.join(args)} failed: {result.output}"
    return result.output


def metric(stack: EmbeddedStack, service: str, name: str) -> float:
    """The sum of a metric's samples on a service's ``/metrics``."""
    text = httpx.get(stack.url(service) + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )
