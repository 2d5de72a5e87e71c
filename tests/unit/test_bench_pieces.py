"""The pure pieces of the end-to-end bench: percentiles, the paced schedule, the CPU
arithmetic, the verdict, and the light HTTP client against a real local socket."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.bench import cpu_accounting
from tests.bench.bench_e2e import (
    Journey,
    Load,
    Phase,
    percentiles,
    schedule,
    share_of_budget,
    verdict,
)
from tests.bench.light_http import Client, encode_request


def test_percentiles_are_milliseconds_of_the_ordered_values() -> None:
    values = [n / 1000 for n in range(1, 101)]  # 1 … 100 ms, shuffled order irrelevant
    figures = percentiles(list(reversed(values)))
    assert figures == {"p50": 51.0, "p95": 96.0, "p99": 100.0, "count": 100}
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "count": 0}


def test_the_schedule_is_evenly_spaced_and_does_not_drift() -> None:
    times = list(schedule(rate=4.0, seconds=2.5, start=100.0))
    assert times == [100.0, 100.25, 100.5, 100.75, 101.0, 101.25, 101.5, 101.75, 102.0, 102.25]
    many = list(schedule(rate=3.0, seconds=1000, start=0.0))
    assert len(many) == 3000
    assert many[-1] == pytest.approx(2999 / 3, abs=1e-9)  # computed from n, not summed


def test_cpu_between_two_snapshots_per_label_and_per_purchase() -> None:
    before = cpu_accounting.Snapshot(
        {1: ("load", 10.0), 2: ("orders", 5.0), 3: ("orders", 1.0), 4: ("gone", 9.0)},
        machine_busy_s=100.0,
        machine_idle_s=50.0,
    )
    after = cpu_accounting.Snapshot(
        {1: ("load", 10.5), 2: ("orders", 6.0), 3: ("orders", 1.5), 5: ("orders", 0.5)},
        machine_busy_s=104.0,
        machine_idle_s=51.0,
    )
    usage = cpu_accounting.between(before, after, wall_s=2.5, cores=2)
    assert usage.per_label_s == {"load": 0.5, "orders": 2.0}  # pid 5 started in the window
    assert usage.accounted_s == pytest.approx(2.5)
    assert usage.not_accounted_s == pytest.approx(1.5)
    assert usage.idle_share == pytest.approx(0.2)
    per_purchase = usage.ms_per_unit(100)
    assert per_purchase["orders"] == pytest.approx(20.0)
    assert per_purchase["total accounted"] == pytest.approx(25.0)
    assert per_purchase["not accounted (rest of the machine)"] == pytest.approx(15.0)
    assert cpu_accounting.budget_ms_per_unit(2, 200) == 10.0


def test_machine_counters_count_guest_time_once_and_leave_steal_out() -> None:
    idle, busy = cpu_accounting.machine_idle_and_busy(
        {"user": 10.0, "nice": 1.0, "system": 2.0, "idle": 30.0, "iowait": 1.0}
        | {"irq": 0.5, "softirq": 0.5, "steal": 7.0, "guest": 4.0, "guest_nice": 1.0}
    )
    assert (idle, busy) == (31.0, 14.0)


def test_cpu_snapshot_of_this_process_grows_with_work() -> None:
    roots = {"me": os.getpid()}
    before = cpu_accounting.take(roots)
    sum(n * n for n in range(2_000_000))
    after = cpu_accounting.take(roots)
    assert cpu_accounting.between(before, after, wall_s=1.0).per_label_s["me"] > 0


def phase(name: str, event_path_s: float, rate_done: int) -> Phase:
    trips = {
        str(n): Journey(
            paid=0.0,
            paid_published=0.0,
            received=event_path_s / 2,
            issued=1.0,
            published=1.0 + event_path_s / 2,
        )
        for n in range(rate_done)
    }
    usage = cpu_accounting.Usage({}, 0.0, 0.0, wall_s=1.0, cores=2)
    return Phase(name, f"{name} offer", Load(), 0.0, 10.0, trips, usage, 0.0, 0)


def test_the_budget_share_counts_only_the_broker_and_the_object_store() -> None:
    per_purchase = {
        "tansu (broker)": 2.0,
        "seaweedfs (weed)": 4.0,
        "access (uvicorn)": 13.0,
        "total accounted": 19.0,
    }
    assert share_of_budget(per_purchase, budget_ms=10.0) == 0.6
    assert share_of_budget({"access (uvicorn)": 13.0}, budget_ms=10.0) == 0.0


def test_the_verdict_names_the_offered_rate_where_latency_is_met_or_missed() -> None:
    raw = percentiles([0.010] * 10)
    line, found = verdict([phase("saturated", 0.200, 50), phase("paced", 0.030, 20)], raw)
    assert found == {
        "rate_goal_met": False,
        "latency_goal_met_saturated": False,
        "latency_goal_met_paced": True,
    }
    assert "latency goal MISSED at saturated offer" in line
    assert "latency goal met at paced offer" in line
    assert "20.0× raw" in line and "3.0× raw" in line


def test_the_verdict_also_compares_with_the_round_trip_probed_beside_the_load() -> None:
    raw = percentiles([0.010] * 10)
    paced = phase("paced", 0.060, 20)
    paced.raw_beside_s = [0.020] * 10
    line, found = verdict([phase("saturated", 0.200, 50), paced], raw)
    # The goal is judged on the idle stack's round trip; the probe's is printed beside it.
    assert found["latency_goal_met_paced"] is False
    assert "6.0× raw p99 10.0 ms (3.0× the raw p99 of 20.0 ms probed beside the load)" in line
    assert line.count("probed beside") == 1


def test_a_phase_where_nothing_was_issued_is_not_a_latency_goal_met() -> None:
    raw = percentiles([0.010] * 10)
    line, found = verdict([phase("saturated", 0.200, 50), phase("paced", 0.030, 0)], raw)
    assert found["latency_goal_met_paced"] is None
    assert "latency not measured at paced offer: no purchase was issued" in line
    assert "latency goal met" not in line


def test_encoded_requests_carry_json_headers_and_length() -> None:
    request = encode_request(
        "POST", "h:1", "/v1/x", headers={"Authorization": "Bearer t"}, json_body={"a": "đ"}
    )
    head, _, body = request.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/x HTTP/1.1\r\nHost: h:1\r\n")
    assert b"Authorization: Bearer t" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert body.decode() == '{"a":"\\u0111"}'


async def _head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""  # the client closed the connection


async def test_the_light_client_reads_length_and_chunked_answers_on_one_connection() -> None:
    seen: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while head := await _head(reader):
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            seen.append(head.split(b"\r\n")[0] + b" " + await reader.readexactly(length))
            if head.startswith(b"GET /chunked"):
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b'3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'
                )
            else:
                writer.write(b'HTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\n{"id":7}')
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Client(f"http://127.0.0.1:{port}") as client:
            created = await client.post("/v1/things", json={"n": 1}, headers={"X-A": "b"})
            chunked = await client.get("/chunked")
        assert (created.status, created.json()) == (201, {"id": 7})
        assert (chunked.status, chunked.json()) == (200, {"a": 1})
        assert seen == [b'POST /v1/things HTTP/1.1 {"n":1}', b"GET /chunked HTTP/1.1 "]
        assert connections == 1
    finally:
        server.close()
        await server.wait_closed()


def test_working_samples_are_shared_out_by_the_package_of_their_innermost_frame() -> None:
    """Waiting in epoll is not work: those samples are left out of the shares."""
    collapsed = "\n".join(
        [
            "run (asyncio/base_events.py:1);handle (services/orders/handlers.py:9)"
            ";execute (sqlalchemy/engine/base.py:14) 6",
            "run (asyncio/base_events.py:1);_run_once (asyncio/base_events.py:1922) 3",
            "run (asyncio/base_events.py:1);dumps (json/encoder.py:200) 1",
            "run (asyncio/base_events.py:1);select (selectors.py:468) 40",
            "not a sample line",
        ]
    )
    shares = cpu_accounting.self_time_by_package(collapsed)
    assert list(shares) == ["sqlalchemy", "asyncio", "json"]
    assert shares["sqlalchemy"] == pytest.approx(0.6)
    assert cpu_accounting.package_of("f (services/orders/handlers.py:9)") == "services/orders"
    assert cpu_accounting.package_of("f (/x/lib/python3.11/site-packages/pydantic/main.py:3)") == (
        "pydantic"
    )
    assert cpu_accounting.package_of(
        "order_by (<sqlalchemy generated _generative() wrapper for x.order_by>:2)"
    ) == ("sqlalchemy")
    assert cpu_accounting.self_time_by_package("") == {}
