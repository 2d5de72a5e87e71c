"""How long consumers let the broker hold a fetch (per broker, and per consumer), and
how long the broker keeps a silent group member."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.access.consumers import consumer_specs as access_consumers
from services.common.consumer import group_session
from services.common.runtime import ConsumerSpec, ServiceRuntime
from services.common.settings import Settings
from services.orders.consumers import consumer_specs as orders_consumers


def test_embedded_consumers_poll_tansu_briefly_and_background_ones_less_often() -> None:
    settings = Settings(env="embedded")
    assert settings.kafka_fetch_max_wait_ms == 20
    assert settings.kafka_background_fetch_max_wait_ms == 100


def test_production_waits_as_long_as_kafka_does_by_default() -> None:
    settings = Settings(env="production")
    assert settings.kafka_fetch_max_wait_ms == 500
    assert settings.kafka_background_fetch_max_wait_ms == 500


def test_a_group_session_is_short_on_tansu_and_kafkas_default_in_production() -> None:
    # Tansu holds a restarted member's join for about twice the session.
    assert Settings(env="embedded").kafka_session_timeout_ms == 3000
    assert Settings(env="production").kafka_session_timeout_ms == 10_000
    assert (
        Settings(env="production", kafka_session_timeout_ms=7000).kafka_session_timeout_ms == 7000
    )
    with pytest.raises(ValueError, match="kafka_session_timeout_ms"):
        Settings(kafka_session_timeout_ms=500)


def test_event_consumers_heartbeat_three_times_a_session() -> None:
    assert group_session(Settings(kafka_session_timeout_ms=4500)) == {
        "session_timeout_ms": 4500,
        "heartbeat_interval_ms": 1500,
    }


def test_a_wait_outside_what_a_broker_accepts_is_refused() -> None:
    with pytest.raises(ValueError, match="kafka_fetch_max_wait_ms"):
        Settings(kafka_fetch_max_wait_ms=0)


def test_each_consumer_polls_with_the_wait_its_events_need(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, kafka_fetch_max_wait_ms=15)
    runtime = ServiceRuntime(
        settings,
        tables=[],
        consumers=[
            ConsumerSpec("awaited", ["t.a"], {}),
            ConsumerSpec("background", ["t.b"], {}, background=True),
        ],
    )
    waits = {c.group_id: c.fetch_max_wait_ms for c in runtime.consumers}
    assert waits == {"awaited": 15, "background": 100}


def _no_payments() -> Any:
    return None


def test_a_paid_order_is_awaited_and_fulfilment_is_not() -> None:
    # A buyer waits on order.paid becoming a grant; nobody waits on orders learning
    # of listings or of issued grants.
    assert [spec.background for spec in access_consumers("http://vndx.test")] == [False]
    assert [spec.background for spec in orders_consumers(_no_payments())] == [True]
