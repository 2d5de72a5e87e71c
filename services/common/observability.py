"""Metrics, JSON logs and the trace id that follows a purchase across services.

``install_observability(app, service_name)`` gives an app ``/metrics`` (Prometheus
text format), a request-latency histogram by route and status, gauges and
counters read from its ``ServiceRuntime`` at scrape time (outbox backlog,
consumer lag, applied and dead-lettered events), one JSON log line per record
when ``VNDX_LOG_FORMAT=json``, and a W3C ``traceparent`` per request kept in a
context variable. The outbox stamps new events with it and the consumer loop
restores it from each event, so one trace id links a purchase's HTTP requests
and the events they cause in every service.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from services.common.runtime import ServiceRuntime
    from services.common.settings import Settings

log = logging.getLogger("vndx.http")

TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

#: The W3C traceparent of the request or event being handled, if any.
CURRENT_TRACEPARENT: ContextVar[str | None] = ContextVar("vndx_traceparent", default=None)


# -- trace context -----------------------------------------------------------------


def current_traceparent() -> str | None:
    return CURRENT_TRACEPARENT.get()


def trace_id_of(traceparent: str | None) -> str | None:
    """The 32-hex trace id of a valid traceparent, else None."""
    if traceparent is None:
        return None
    match = _TRACEPARENT.match(traceparent.strip().lower())
    if match is None or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return None
    return match.group(1)


@contextmanager
def continued_trace(parent: str | None) -> Iterator[str]:
    """Run the block as a child span of ``parent`` (a new trace when there is none)."""
    traceparent = child_traceparent(parent)
    token = CURRENT_TRACEPARENT.set(traceparent)
    try:
        yield traceparent
    finally:
        CURRENT_TRACEPARENT.reset(token)


def new_traceparent() -> str:
    """A traceparent that starts a new, sampled trace."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """A new span in ``parent``'s trace, or a new trace when ``parent`` is missing or invalid."""
    trace_id = trace_id_of(parent)
    if trace_id is None or parent is None:
        return new_traceparent()
    flags = parent.strip().lower()[-2:]
    return f"00-{trace_id}-{secrets.token_hex(8)}-{flags}"


# -- logs --------------------------------------------------------------------------


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, trace_id."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", None) or trace_id_of(current_traceparent()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _TraceFilter(logging.Filter):
    """Stamps each record with the trace id of the context it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "trace_id"):
            record.trace_id = trace_id_of(current_traceparent())
        return True


_HANDLER_NAME = "vndx-json"


def configure_logging(service: str, *, json_lines: bool, level: str = "INFO") -> None:
    """Send every record (uvicorn's too) to stderr, as JSON lines when asked; idempotent."""
    root = logging.getLogger()
    root.setLevel(level)
    if json_lines:
        for handler in list(root.handlers):
            if handler.get_name() == _HANDLER_NAME:
                root.removeHandler(handler)
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonLogFormatter(service))
        handler.addFilter(_TraceFilter())
        root.addHandler(handler)
        for name in ("uvicorn", "uvicorn.error"):
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
        # vndx.http logs every request with its trace; uvicorn's access line would be a
        # second, traceless copy of each (and it ignores --no-access-log once it propagates).
        access = logging.getLogger("uvicorn.access")
        access.handlers.clear()
        access.propagate = False


# -- metrics for services to use -----------------------------------------------------

#: Metrics that services record themselves (one registry per process).
SERVICE_METRICS = CollectorRegistry()
ProcessCollector(registry=SERVICE_METRICS)

EXTRACT_BUILD_SECONDS = Histogram(
    "vndx_extract_build_seconds",
    "Time to build one anonymised extract",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=SERVICE_METRICS,
)
EXTRACT_CACHE_HITS = Counter(
    "vndx_extract_cache_hits",
    "Extracts copied from an identical earlier build (same raw file, plan and targets)",
    registry=SERVICE_METRICS,
)
EXTRACT_CACHE_MISSES = Counter(
    "vndx_extract_cache_misses",
    "Shareable extracts (no pseudonyms) that had to be built",
    registry=SERVICE_METRICS,
)
RAW_CACHE_HITS = Counter(
    "vndx_raw_cache_hits",
    "Builds that found their raw file on local disk",
    registry=SERVICE_METRICS,
)
RAW_CACHE_MISSES = Counter(
    "vndx_raw_cache_misses",
    "Builds that downloaded their raw file into the local cache",
    registry=SERVICE_METRICS,
)

_registered: dict[str, Any] = {}


def service_counter(name: str, documentation: str, labels: Iterable[str] = ()) -> Counter:
    """A counter on the service registry, created once per name."""
    if name not in _registered:
        _registered[name] = Counter(
            name, documentation, labelnames=tuple(labels), registry=SERVICE_METRICS
        )
    metric: Counter = _registered[name]
    return metric


def service_histogram(
    name: str,
    documentation: str,
    labels: Iterable[str] = (),
    buckets: Iterable[float] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    """A histogram on the service registry, created once per name."""
    if name not in _registered:
        _registered[name] = Histogram(
            name,
            documentation,
            labelnames=tuple(labels),
            buckets=tuple(buckets),
            registry=SERVICE_METRICS,
        )
    metric: Histogram = _registered[name]
    return metric


def service_gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> Gauge:
    """A gauge on the service registry, created once per name."""
    if name not in _registered:
        _registered[name] = Gauge(
            name, documentation, labelnames=tuple(labels), registry=SERVICE_METRICS
        )
    metric: Gauge = _registered[name]
    return metric


GaugeCallback = Callable[[], Mapping[str, float]]


class _CallbackGauges(Collector):
    def __init__(self, name: str, documentation: str, label: str, read: GaugeCallback) -> None:
        self._name, self._doc, self._label, self._read = name, documentation, label, read

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self._name, self._doc, labels=[self._label])
        for value, amount in sorted(self._read().items()):
            family.add_metric([value], amount)
        yield family


def gauge_from_callback(name: str, documentation: str, label: str, read: GaugeCallback) -> None:
    """A gauge family read at scrape time, e.g. grants by state from a COUNT ... GROUP BY."""
    if name in _registered:
        SERVICE_METRICS.unregister(_registered[name])
    collector = _CallbackGauges(name, documentation, label, read)
    SERVICE_METRICS.register(collector)
    _registered[name] = collector


# -- metrics of one app ------------------------------------------------------------


class _RuntimeCollector(Collector):
    """Outbox backlog and consumer figures, read from a ServiceRuntime at scrape time."""

    def __init__(self, service: str, runtime: ServiceRuntime) -> None:
        self._service = service
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        from services.common.outbox import backlog

        labels = ["service"]
        pending = GaugeMetricFamily(
            "vndx_outbox_backlog", "Outbox events not yet published", labels=labels
        )
        try:
            pending.add_metric([self._service], backlog(self._runtime.engine))
        except Exception:  # an unreachable database shows as a missing sample, not a 500
            log.warning("outbox backlog unavailable", exc_info=True)
        yield pending
        group_labels = ["service", "group"]
        applied = CounterMetricFamily(
            "vndx_consumer_applied", "Events applied by a consumer group", labels=group_labels
        )
        duplicates = CounterMetricFamily(
            "vndx_consumer_duplicates",
            "Redelivered events skipped by the inbox",
            labels=group_labels,
        )
        dead = CounterMetricFamily(
            "vndx_consumer_dead_lettered",
            "Events parked on the dead-letter topic",
            labels=group_labels,
        )
        lag = GaugeMetricFamily(
            "vndx_consumer_lag",
            "Messages behind the partition's high watermark",
            labels=[*group_labels, "topic", "partition"],
        )
        for group, stats in self._runtime.consumer_figures():
            applied.add_metric([self._service, group], stats.applied)
            duplicates.add_metric([self._service, group], stats.duplicates)
            dead.add_metric([self._service, group], stats.dead_lettered)
            for (topic, partition), behind in sorted(stats.lag.items()):
                lag.add_metric([self._service, group, topic, str(partition)], behind)
        yield from (applied, duplicates, dead, lag)


_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ObservabilityMiddleware:
    """Trace context, request latency by route and status, one log line per request."""

    def __init__(self, app: ASGIApp, *, service: str, latency: Histogram) -> None:
        self.app = app
        self.service = service
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, TRACEPARENT_HEADER)
        traceparent = child_traceparent(incoming)
        token = CURRENT_TRACEPARENT.set(traceparent)
        status = 500
        started = time.perf_counter()

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((TRACEPARENT_HEADER.encode(), traceparent.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            if template != "/metrics":
                self.latency.labels(self.service, method, template, str(status)).observe(elapsed)
                log.info(
                    "%s %s %d",
                    method,
                    template,
                    status,
                    extra={
                        "fields": {
                            "method": method,
                            "route": template,
                            "status": status,
                            "duration_ms": round(elapsed * 1000, 2),
                        }
                    },
                )
            CURRENT_TRACEPARENT.reset(token)


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return bytes(value).decode("latin-1")
    return None


def install_observability(
    app: FastAPI, service_name: str, settings: Settings | None = None
) -> CollectorRegistry:
    """``/metrics``, request metrics, JSON logs and trace context for one service app.

    Call it in ``create_app`` after ``app.state.runtime`` (if any) is set.
    """
    settings = settings or getattr(app.state, "settings", None)
    if settings is not None:
        configure_logging(
            service_name, json_lines=settings.log_format == "json", level=settings.log_level
        )
    registry = CollectorRegistry()
    latency = Histogram(
        "vndx_http_request_duration_seconds",
        "HTTP request latency by route template and status",
        labelnames=("service", "method", "route", "status"),
        buckets=_LATENCY_BUCKETS,
        registry=registry,
    )
    runtime = getattr(app.state, "runtime", None)
    if runtime is not None:
        registry.register(_RuntimeCollector(service_name, runtime))
    app.state.metrics_registry = registry
    app.add_middleware(ObservabilityMiddleware, service=service_name, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body = generate_latest(registry) + generate_latest(SERVICE_METRICS)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return registry
