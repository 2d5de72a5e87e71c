"""Fault injection for the crash tests: kill this process at a named point.

Armed only by ``VNDX_FAULT_INJECTION`` (comma-separated ``point`` or
``point:probability``), which production mode refuses.
"""

from __future__ import annotations

import os
import random
import signal

OUTBOX_AFTER_COMMIT = "outbox.after_commit_before_publish"
OUTBOX_AFTER_PUBLISH = "outbox.after_publish_before_mark"
CONSUMER_AFTER_EFFECT = "consumer.after_effect_before_commit"
EXTRACT_MID_UPLOAD = "access.mid_extract_upload"
STRIPE_AFTER_CALL = "orders.after_stripe_call_before_record"


class FaultInjector:
    """Crashes the process (SIGKILL, no cleanup) at armed points."""

    def __init__(self, spec: str = "") -> None:
        self._armed: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            point, _, probability = item.partition(":")
            self._armed[point] = float(probability) if probability else 1.0

    def armed(self, point: str) -> bool:
        return point in self._armed

    def maybe_crash(self, point: str) -> None:
        probability = self._armed.get(point)
        if probability is not None and random.random() < probability:
            os.kill(os.getpid(), signal.SIGKILL)


_process_faults: FaultInjector | None = None


def crash_point(point: str) -> None:
    """Crash here if ``VNDX_FAULT_INJECTION`` arms ``point`` (code that holds no runtime)."""
    global _process_faults
    if _process_faults is None:
        _process_faults = FaultInjector(os.environ.get("VNDX_FAULT_INJECTION", ""))
    _process_faults.maybe_crash(point)
