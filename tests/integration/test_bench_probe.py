"""The end-to-end benchmark's round-trip probe, run beside a load, on a real Tansu."""

from __future__ import annotations

import psutil

from tests.bench.bench_e2e import ProbeBeside
from vndx.embedded import Tansu


def test_the_probe_measures_its_round_trips_in_a_process_of_its_own(tansu: Tansu) -> None:
    probe = ProbeBeside(tansu.bootstrap_servers, messages=20, fetch_wait_ms=20, seconds=1.0)

    pid = probe.start()
    # Ready means connected and warmed up: what it measures next is only round trips.
    assert psutil.pid_exists(pid) and pid != psutil.Process().pid

    timings = probe.timings()
    assert len(timings) == 20
    assert all(0 < seconds < 1.0 for seconds in timings)
    assert not probe.process.is_alive()


def test_a_probe_that_cannot_reach_the_broker_leaves_the_phase_without_it() -> None:
    probe = ProbeBeside("127.0.0.1:9", messages=5, fetch_wait_ms=20, seconds=1.0)

    assert probe.start(timeout_s=3.0) is None
    assert probe.timings() == []
    assert not probe.process.is_alive()
