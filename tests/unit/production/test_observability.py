"""Metrics, JSON log lines and the trace id across HTTP requests, the outbox and consumers."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import ClassVar

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from services.common.consumer import EventConsumer
from services.common.db import create_tables, make_engine
from services.common.kafka import KafkaPublisher
from services.common.observability import (
    EXTRACT_BUILD_SECONDS,
    JsonLogFormatter,
    child_traceparent,
    configure_logging,
    current_traceparent,
    gauge_from_callback,
    install_observability,
    trace_id_of,
)
from services.common.outbox import add_event
from services.common.runtime import COMMON_TABLES
from services.common.settings import Settings
from services.contracts.envelope import Envelope, EventPayload, register
from tests.log_records import records_of

INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_child_span_keeps_the_trace_and_a_bad_header_starts_a_new_one() -> None:
    child = child_traceparent(INCOMING)
    assert trace_id_of(child) == TRACE_ID and child != INCOMING
    for bad in (None, "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
        assert trace_id_of(child_traceparent(bad)) not in (None, TRACE_ID)


def _app() -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(service_name="demo", log_format="json")

    @app.get("/items/{item_id}")
    def item(item_id: str) -> dict[str, str | None]:
        return {"id": item_id, "traceparent": current_traceparent()}

    install_observability(app, "demo")
    return app


def test_a_request_continues_the_callers_trace_and_answers_with_it() -> None:
    with TestClient(_app()) as client:
        response = client.get("/items/7", headers={"traceparent": INCOMING})
    assert trace_id_of(response.json()["traceparent"]) == TRACE_ID
    assert trace_id_of(response.headers["traceparent"]) == TRACE_ID


def test_metrics_show_latency_by_route_template_and_status() -> None:
    EXTRACT_BUILD_SECONDS.observe(3.0)
    gauge_from_callback("vndx_grants", "Grants by state", "state", lambda: {"active": 2})
    with TestClient(_app()) as client:
        client.get("/items/1")
        client.get("/items/2")
        client.get("/nowhere")
        text = client.get("/metrics").text
    assert (
        'vndx_http_request_duration_seconds_count{method="GET",route="/items/{item_id}",'
        'service="demo",status="200"} 2.0' in text
    )
    assert 'route="unmatched",service="demo",status="404"' in text
    assert "vndx_extract_build_seconds_count" in text
    assert 'vndx_grants{state="active"} 2.0' in text


def test_log_lines_are_json_with_the_requests_trace_id(capsys: object) -> None:
    formatter = JsonLogFormatter("demo")
    configure_logging("demo", json_lines=True)
    with records_of("vndx.http") as records, TestClient(_app()) as client:
        client.get("/items/9", headers={"traceparent": INCOMING})
    lines = [json.loads(formatter.format(record)) for record in records]
    request_line = next(line for line in lines if line.get("route") == "/items/{item_id}")
    assert request_line["trace_id"] == TRACE_ID
    assert request_line["service"] == "demo" and request_line["level"] == "INFO"
    assert request_line["status"] == 200


def test_each_request_is_logged_once_in_json_mode() -> None:
    """uvicorn's access line would repeat vndx.http's, without the trace: it stays out."""
    configure_logging("demo", json_lines=True)
    control = logging.getLogger(f"demo.control.{uuid.uuid4().hex}")  # reaches the root
    with records_of("") as reaching_root:
        logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /items/9" 200')
        control.info("a line of the service's own")
    assert [record.getMessage() for record in reaching_root] == ["a line of the service's own"]


@register
class TracedThing(EventPayload):
    """A test-only event."""

    event_type: ClassVar[str] = "vn.vndx.test.thing.traced.v1"
    topic: ClassVar[str] = "test.things"
    thing_id: str

    def aggregate_id(self) -> str:
        return self.thing_id


def _event() -> TracedThing:
    return TracedThing(thing_id="t-1")


def test_events_added_while_handling_a_request_carry_its_traceparent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    create_tables(engine, list(COMMON_TABLES))
    from services.common.observability import CURRENT_TRACEPARENT

    token = CURRENT_TRACEPARENT.set(INCOMING)
    try:
        with Session(engine) as session:
            envelope = add_event(session, _event(), source="/vndx/test")
    finally:
        CURRENT_TRACEPARENT.reset(token)
    assert envelope.traceparent == INCOMING


def test_a_consumer_handles_each_event_in_the_events_trace(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, service_name="t")
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    create_tables(engine, list(COMMON_TABLES))
    seen: list[str | None] = []
    event = _event()
    envelope = Envelope.wrap(event, source="/vndx/test", traceparent=INCOMING)
    consumer = EventConsumer(
        settings=settings,
        engine=engine,
        group_id="t",
        topics=[event.topic],
        handlers={envelope.type: lambda _s, _e, _p: seen.append(current_traceparent())},
        publisher=KafkaPublisher(settings),
    )
    asyncio.run(consumer._apply_with_retries(envelope))
    assert len(seen) == 1 and trace_id_of(seen[0]) == TRACE_ID
    assert current_traceparent() is None
