"""Where the CPU goes during a bench window: per process group, per unit of work.

Name the root processes (each service's uvicorn, the broker, the object store, the
load generator); every process descending from a root is counted with its nearest
named ancestor, so the load generator's own share excludes the stack it started.
Two snapshots around a window give CPU seconds per group; the machine's own
counters give its busy and idle time, so CPU used by processes outside the bench
(other work on a shared machine) shows up as "not accounted".

Inside one Python process, ``py-spy`` samples (optional) tell which packages the
time goes to: the innermost frame of each sample, grouped by package.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Snapshot:
    """CPU seconds used so far, per process (pid → label, seconds), and the machine's."""

    per_process: dict[int, tuple[str, float]]
    machine_busy_s: float
    machine_idle_s: float


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    # Children it has waited for (short-lived helpers) count with it.
    return float(times.user + times.system + times.children_user + times.children_system)


def take(roots: Mapping[str, int]) -> Snapshot:
    """CPU used so far by each root (label → pid) and the processes under it."""
    label_of = {pid: label for label, pid in roots.items()}
    per_process: dict[int, tuple[str, float]] = {}
    for label, pid in roots.items():
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for process in tree:
            if process.pid in per_process:
                continue
            owner = _nearest_label(process, label_of, label)
            try:
                per_process[process.pid] = (owner, cpu_seconds(process))
            except psutil.NoSuchProcess:
                continue
    idle, busy = machine_idle_and_busy(psutil.cpu_times()._asdict())
    return Snapshot(per_process, machine_busy_s=busy, machine_idle_s=idle)


def machine_idle_and_busy(times: Mapping[str, float]) -> tuple[float, float]:
    """Idle and busy CPU seconds from the machine's counters (Linux field names).

    Guest time is already inside user and nice, so it is not added again; time stolen
    by a hypervisor was neither ours nor idle, so it is left out of both.
    """
    idle = times.get("idle", 0.0) + times.get("iowait", 0.0)
    busy = sum(times.get(name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))
    return float(idle), float(busy)


def _nearest_label(process: psutil.Process, label_of: Mapping[int, str], fallback: str) -> str:
    current: psutil.Process | None = process
    while current is not None:
        if current.pid in label_of:
            return label_of[current.pid]
        try:
            current = current.parent()
        except psutil.NoSuchProcess:
            return fallback
    return fallback


@dataclass(frozen=True)
class Usage:
    """CPU used over a window: per label, and the machine's busy and idle time."""

    per_label_s: dict[str, float]
    machine_busy_s: float
    machine_idle_s: float
    wall_s: float
    cores: int

    @property
    def accounted_s(self) -> float:
        return sum(self.per_label_s.values())

    @property
    def not_accounted_s(self) -> float:
        """Busy time of processes outside the named trees (and kernel work for nobody)."""
        return max(self.machine_busy_s - self.accounted_s, 0.0)

    @property
    def idle_share(self) -> float:
        total = self.machine_busy_s + self.machine_idle_s
        return self.machine_idle_s / total if total else 0.0

    def ms_per_unit(self, units: int) -> dict[str, float]:
        """CPU milliseconds per unit of work (a purchase) for each label, and the totals."""
        if units <= 0:
            return {}
        rows = {label: 1000 * seconds / units for label, seconds in self.per_label_s.items()}
        rows["total accounted"] = 1000 * self.accounted_s / units
        rows["not accounted (rest of the machine)"] = 1000 * self.not_accounted_s / units
        return rows


def between(before: Snapshot, after: Snapshot, wall_s: float, cores: int | None = None) -> Usage:
    """The CPU each label used between two snapshots.

    A process found only in ``after`` started within the window: all its time counts.
    One found only in ``before`` ended within it: its last part is lost (it is small
    for the long-lived processes a bench names).
    """
    per_label: dict[str, float] = {}
    for pid, (label, seconds) in after.per_process.items():
        _, earlier = before.per_process.get(pid, (label, 0.0))
        per_label[label] = per_label.get(label, 0.0) + max(seconds - earlier, 0.0)
    return Usage(
        per_label_s=per_label,
        machine_busy_s=after.machine_busy_s - before.machine_busy_s,
        machine_idle_s=after.machine_idle_s - before.machine_idle_s,
        wall_s=wall_s,
        cores=cores or os.cpu_count() or 1,
    )


def budget_ms_per_unit(cores: int, goal_per_s: float) -> float:
    """CPU milliseconds one unit may cost for ``cores`` to sustain ``goal_per_s``."""
    return cores * 1000 / goal_per_s


# --- inside a Python process: sampled stacks, by package ---------------------------------


def start_profiler(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` (collapsed stacks to ``out``).

    Only the thread holding the GIL is sampled: one waiting for SQLite's write lock, a
    socket or a pool's queue never holds it, and py-spy's idle detection misses such
    waits here. On a saturated machine a holder waiting for a core still counts, so
    shares there lean towards whatever holds the GIL longest."""
    spy = Path(sys.executable).with_name("py-spy")
    argv = [str(spy), "record", "--pid", str(pid), "--duration", str(max(int(seconds), 1))]
    argv += ["--rate", "50", "--format", "raw", "--nonblocking", "--gil", "--output", str(out)]
    return subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


REPOSITORY = str(Path(__file__).resolve().parents[2])


def package_of(frame: str) -> str:
    """The package a py-spy frame ``func (path:line)`` runs in: ``sqlalchemy``,
    ``services/orders``, ``asyncio``…"""
    path = frame.split(" (", 1)[-1].rstrip(")").rsplit(":", 1)[0]
    if path.startswith("<"):  # generated code: "<sqlalchemy generated … wrapper>"
        return path[1:].split(" ", 1)[0].rstrip(">") or "?"
    for marker in ("site-packages/", "/lib/python3.", f"{REPOSITORY}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3.":
                path = path.split("/", 1)[-1]
            break
    parts = [part for part in path.split("/") if part]
    if not parts:
        return "?"
    if parts[0] in {"services", "streams", "vndx"} and len(parts) > 2:
        return "/".join(parts[:2])
    return parts[0].removesuffix(".py")


WAITING_PACKAGES = frozenset({"selectors", "concurrent", "threading", "queue"})
"""Innermost frames that wait rather than work: the event loop's epoll, idle pool
threads. py-spy's own idle detection does not catch them on every kernel."""


def self_time_by_package(collapsed: str) -> dict[str, float]:
    """Share of working samples whose innermost frame is in each package (largest first)."""
    counts: dict[str, int] = {}
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        package = package_of(stack.rsplit(";", 1)[-1])
        if package in WAITING_PACKAGES:
            continue
        counts[package] = counts.get(package, 0) + int(count)
    total = sum(counts.values())
    return (
        {
            package: count / total
            for package, count in sorted(counts.items(), key=lambda item: -item[1])
        }
        if total
        else {}
    )
