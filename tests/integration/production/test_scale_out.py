"""Scale-out: access replicas in one consumer group share paid orders, one crashes.

Three access processes on one PostgreSQL database and one Tansu consumer group take
a stream of ``order.paid`` events (played here as the orders service would publish
them); midway one replica is killed (SIGKILL) and a fourth is started. Every order
must end with exactly one issued grant and exactly one ``grant.issued`` event, and
more than one replica must have built extracts. The quick run takes 60 orders; the
slow run (make test-reliability) the issue's 1,000.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.common.kafka import ensure_topics
from services.common.settings import Settings
from services.contracts.access import GrantIssued
from services.contracts.orders import OrderPaid
from services.contracts.topics import ACCESS_GRANTS, all_topics_with_dlq
from tests.integration.access.conftest import ServicesAround, access_settings, write_population
from tests.integration.kafka_probe import read_topic
from tests.integration.production.replicas import Replica
from vndx.embedded import Postgres, SeaweedS3, Tansu


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    """A broker of its own: the consumer group ``access`` must start empty."""
    tansu = Tansu(tmp_path_factory.mktemp("scale") / "tansu.log")
    tansu.start()
    asyncio.run(ensure_topics(tansu.bootstrap_servers, all_topics_with_dlq()))
    yield tansu
    tansu.stop()


@pytest.fixture
def replica_settings(
    keys_dir: Path, broker: Tansu, seaweed: SeaweedS3, postgres: Postgres, tmp_path: Path
) -> Settings:
    name = f"scale_{int(time.time() * 1000) % 10**9}"
    postgres.create_database(name)
    return access_settings(
        keys_dir,
        broker,
        seaweed,
        postgres.dsn(name),
        grant_build_poll_interval_s=0.2,
    )


def _grant_states(dsn: str, order_ids: set[str]) -> Counter[str]:
    url = dsn.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT order_id, status FROM grants").fetchall()
    return Counter(status for order_id, status in rows if order_id in order_ids)


def _scale_out(settings: Settings, tmp_path: Path, orders: int) -> None:
    replicas = [Replica("access", settings, tmp_path, n).start() for n in (1, 2, 3)]
    try:
        exchange = ServicesAround(settings)
        raw, columns = write_population(tmp_path / "people.csv", 120)
        listing_id = exchange.publish_listing("bca-c06", columns, raw)
        paid: list[OrderPaid] = [exchange.paid(f"buyer-{n % 7}", listing_id) for n in range(orders)]
        order_ids = {order.order_id for order in paid}
        half = orders // 2
        for start in range(0, half, 50):
            exchange.emit(*paid[start : min(start + 50, half)])

        def issued() -> int:
            return _grant_states(str(settings.database_url), order_ids)["issued"]

        deadline = time.monotonic() + 600
        while issued() < half // 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        replicas[0].kill()
        replicas.append(Replica("access", settings, tmp_path, 4).start())
        for start in range(half, orders, 50):
            exchange.emit(*paid[start : min(start + 50, orders)])
        while issued() < orders and time.monotonic() < deadline:
            time.sleep(1)

        states = _grant_states(str(settings.database_url), order_ids)
        assert states == Counter({"issued": orders}), states
        events = asyncio.run(
            read_topic(settings.kafka_bootstrap, ACCESS_GRANTS, until=orders, timeout_s=120)
        )
        issued_events = {
            envelope.id: envelope.payload()
            for _, envelope in events
            if envelope.type == GrantIssued.event_type
        }
        per_order = Counter(
            payload.order_id
            for payload in issued_events.values()
            if isinstance(payload, GrantIssued) and payload.order_id in order_ids
        )
        assert set(per_order) == order_ids
        assert set(per_order.values()) == {1}
        builders = [
            r.name for r in replicas[1:] if r.metric("vndx_extract_build_seconds_count") > 0
        ]
        assert len(builders) >= 2, f"only {builders} built extracts"
    finally:
        for replica in replicas:
            replica.stop()


def test_three_replicas_share_paid_orders_through_a_crash(
    replica_settings: Settings, tmp_path: Path
) -> None:
    _scale_out(replica_settings, tmp_path, orders=60)


@pytest.mark.slow
def test_three_replicas_share_a_thousand_paid_orders_through_a_crash(
    replica_settings: Settings, tmp_path: Path
) -> None:
    _scale_out(replica_settings, tmp_path, orders=1000)
