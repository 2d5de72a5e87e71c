"""The embedded stack: Tansu, SeaweedFS and every service as local processes.

``vndx up`` runs it in the foreground; the test fixtures and benchmarks start the
same thing on free ports. Data (SQLite files, SeaweedFS volumes, keys) lives in
one data directory and survives a restart; the broker's memory does not, which
is why every service republishes from its durable outbox.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.common.auth import KEY_NAMES, ensure_keypair
from services.common.kafka import ensure_topics
from services.common.keep_alive import SERVER_IDLE_S
from services.common.objectstore import ObjectStore
from services.common.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, Settings
from services.contracts.topics import all_topics_with_dlq
from vndx.embedded import S3Identity, SeaweedS3, Tansu
from vndx.embedded.ports import free_port, require_free_port, wait_for
from vndx.embedded.process import ChildProcess, child_environment


@dataclass(frozen=True)
class ServiceDef:
    """A service the stack runs: its name, ASGI app factory and default port."""

    name: str
    factory: str
    default_port: int
    docs_path: str = "/docs"


SERVICES: tuple[ServiceDef, ...] = (
    ServiceDef("portal", "services.portal.app:create_app", 8100, docs_path="/"),
    ServiceDef("catalog", "services.catalog.api.app:create_app", 8101),
    ServiceDef("pricing", "services.pricing.api.app:create_app", 8102),
    ServiceDef("audit", "streams.audit.api.app:create_app", 8105),
    ServiceDef("orders", "services.orders.api.app:create_app", 8103),
    ServiceDef("access", "services.access.api.app:create_app", 8104),
)

DEFAULT_KAFKA_PORT = 9092
DEFAULT_S3_PORT = 8333


@dataclass
class StackConfig:
    """Where the stack keeps its data and which ports it listens on."""

    data_dir: Path = Path(".vndx")
    kafka_port: int | None = DEFAULT_KAFKA_PORT
    s3_port: int | None = DEFAULT_S3_PORT
    service_ports: dict[str, int] = field(default_factory=dict)
    services: tuple[str, ...] = tuple(s.name for s in SERVICES)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, data_dir: Path) -> StackConfig:
        """Ports from ``VNDX_<SERVICE>_PORT``, ``VNDX_KAFKA_PORT``, ``VNDX_S3_PORT``."""
        ports = {
            s.name: int(os.environ.get(f"VNDX_{s.name.upper()}_PORT", s.default_port))
            for s in SERVICES
        }
        return cls(
            data_dir=data_dir,
            kafka_port=int(os.environ.get("VNDX_KAFKA_PORT", DEFAULT_KAFKA_PORT)),
            s3_port=int(os.environ.get("VNDX_S3_PORT", DEFAULT_S3_PORT)),
            service_ports=ports,
        )

    @classmethod
    def on_free_ports(cls, data_dir: Path, services: Iterable[str] | None = None) -> StackConfig:
        """Every port chosen free: what tests and benchmarks use."""
        names = tuple(services) if services is not None else tuple(s.name for s in SERVICES)
        return cls(
            data_dir=data_dir,
            kafka_port=None,
            s3_port=None,
            service_ports={name: free_port() for name in names},
            services=names,
        )


def serving_command(factory: str, port: int) -> list[str]:
    """uvicorn serving the app ``factory`` makes on loopback ``port``."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-keep-alive",
        str(SERVER_IDLE_S),
        "--timeout-graceful-shutdown",
        "5",
    ]


class EmbeddedStack:
    """Starts and stops the broker, the object store and the services."""

    def __init__(
        self, config: StackConfig, *, tansu: Tansu | None = None, s3: SeaweedS3 | None = None
    ) -> None:
        """Own a broker and an object store, or share ones already running (tests)."""
        self.config = config
        self.data_dir = config.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self._owns_tansu = tansu is None
        self._owns_s3 = s3 is None
        self.tansu = tansu or Tansu(self.log_dir / "tansu.log", port=config.kafka_port)
        self.s3 = s3 or SeaweedS3(
            self.data_dir / "seaweedfs",
            self.log_dir / "seaweedfs.log",
            [S3Identity("vndx", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY)],
            s3_port=config.s3_port,
        )
        self.processes: dict[str, ChildProcess] = {}

    def port(self, service: str) -> int:
        definition = _definition(service)
        return self.config.service_ports.get(service, definition.default_port)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def settings(self, service: str = "vndx") -> Settings:
        """The settings a process of this stack runs with (also for in-process tools)."""
        return Settings(**self._settings_values(service))  # type: ignore[arg-type]

    def _settings_values(self, service: str) -> dict[str, object]:
        values: dict[str, object] = {
            "env": "embedded",
            "service_name": service,
            "data_dir": self.data_dir,
            "kafka_bootstrap": self.tansu.bootstrap_servers,
            "s3_endpoint": self.s3.endpoint,
            "iri_base": self.url("catalog"),
        }
        for name in (s.name for s in SERVICES):
            values[f"{name}_url"] = self.url(name)
        if service in {s.name for s in SERVICES}:
            values["port"] = self.port(service)
            values["public_base_url"] = self.url(service)
        return values

    def service_env(self, service: str) -> dict[str, str]:
        env = child_environment(
            {
                "PYTHONUNBUFFERED": "1",
                **{k: v for k, v in os.environ.items() if k.startswith("VNDX_")},
            }
        )
        for key, value in self._settings_values(service).items():
            env[f"VNDX_{key.upper()}"] = str(value)
        env.update(self.config.extra_env)
        return env

    def start_infrastructure(self) -> None:
        keys = Settings(data_dir=self.data_dir)
        for name in KEY_NAMES:
            ensure_keypair(keys.key_path(name, "private"), keys.key_path(name, "public"))
        if self._owns_tansu:
            self.tansu.start()
        asyncio.run(ensure_topics(self.tansu.bootstrap_servers, all_topics_with_dlq()))
        if self._owns_s3:
            self.s3.start()
        ObjectStore.from_settings(self.settings()).ensure_bucket()

    def require_free_port(self, service: str) -> None:
        """Raise ``PortInUseError`` naming ``service`` if another program holds its port."""
        require_free_port(self.port(service), f"{service} (VNDX_{service.upper()}_PORT)")

    def start_service(self, service: str) -> ChildProcess:
        definition = _definition(service)
        port = self.port(service)
        # Checked first: a process that cannot bind lives long enough for a health
        # check to be answered by whatever holds the port (another vndx, say).
        self.require_free_port(service)
        log_file = self.log_dir / f"{service}.log"
        process = ChildProcess(
            serving_command(definition.factory, port),
            log_file,
            env=self.service_env(service),
            cwd=Path.cwd(),
        )
        process.start()
        self.processes[service] = process
        wait_for(
            lambda: answers_as(self.url(service), service),
            60,
            f"{service} on port {port}",
            log_file=log_file,
            alive=process.is_alive,
        )
        return process

    def start_services(self, services: Sequence[str]) -> None:
        """Start ``services`` side by side and return once each answers its health check.

        They do not call each other while starting; one after another, the stack
        waited for each one's imports and group join in turn.
        """
        with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
            for started in [pool.submit(self.start_service, service) for service in services]:
                started.result()

    def start(self) -> None:
        self.start_infrastructure()
        self.start_services(self.config.services)

    def stop_service(self, service: str, timeout: float = 10.0) -> None:
        process = self.processes.pop(service, None)
        if process is not None:
            process.stop(timeout)

    def stop(self) -> None:
        # Services shut down side by side: one after another took up to 10 s each.
        with ThreadPoolExecutor(max_workers=max(1, len(self.processes))) as pool:
            list(pool.map(self.stop_service, list(self.processes)))
        if self._owns_s3:
            self.s3.stop()
        if self._owns_tansu:
            self.tansu.stop()

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _definition(service: str) -> ServiceDef:
    for definition in SERVICES:
        if definition.name == service:
            return definition
    raise KeyError(f"unknown service {service!r}")


def answers_as(url: str, service: str) -> bool:
    """Whether ``service`` itself answers its health check at ``url``.

    Not just any 200: a port chosen free can be taken by another server before
    ours binds it, and that server may have a ``/healthz`` of its own.
    """
    try:
        response = httpx.get(f"{url}/healthz", timeout=1.0)
        return response.status_code == 200 and response.json().get("service") == service
    except (httpx.HTTPError, ValueError, AttributeError):
        return False
