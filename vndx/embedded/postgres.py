"""PostgreSQL from Debian's packages as a child process on a loopback port.

`initdb` and `postgres` refuse to run as root, so when this process is root
they run as the `postgres` OS user, who must then own the data directory and
be able to reach it (a fresh temporary directory is used when none is given).
Install the server with `infra/scripts/ensure-postgres.sh`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from vndx.embedded.launcher import Launcher, known_once_started, port_for_attempt
from vndx.embedded.ports import LOOPBACK, log_tail
from vndx.embedded.process import ChildProcess, child_environment

SUPERUSER = "postgres"
_OS_USER_WHEN_ROOT = "postgres"
#: A socket path longer than this (sun_path is 108 bytes) cannot be bound.
_MAX_SOCKET_DIR_LENGTH = 90


def find_postgres_bin_dir() -> Path:
    """The newest `/usr/lib/postgresql/<version>/bin` that has `initdb` and `postgres`."""
    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")
        if (path.parent / "initdb").exists()
    ]
    if not candidates:
        raise FileNotFoundError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql: "
            "run infra/scripts/ensure-postgres.sh"
        )
    return max(candidates, key=lambda bin_dir: _version_key(bin_dir.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def sqlalchemy_dsn(port: int, database: str, user: str = SUPERUSER) -> str:
    """SQLAlchemy URL for psycopg 3 on 127.0.0.1."""
    return f"postgresql+psycopg://{user}@{LOOPBACK}:{port}/{database}"


def libpq_conninfo(port: int, database: str, user: str = SUPERUSER) -> str:
    """libpq connection string (for `psycopg.connect`) on 127.0.0.1."""
    return f"host={LOOPBACK} port={port} user={user} dbname={database} connect_timeout=5"


def postgres_argv(
    bin_dir: Path, data_dir: Path, port: int, *, socket_dir: str, durable: bool
) -> list[str]:
    """Command line of a postmaster that listens on 127.0.0.1:`port` only."""
    argv = [
        str(bin_dir / "postgres"),
        "-D",
        str(data_dir),
        "-p",
        str(port),
        "-c",
        f"listen_addresses={LOOPBACK}",
        "-c",
        f"unix_socket_directories={socket_dir}",
        "-c",
        "logging_collector=off",
    ]
    if not durable:
        # Tests throw the cluster away: skip the disk flushes that make it slow.
        for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
            argv += ["-c", setting]
    return argv


class Postgres(Launcher):
    """A PostgreSQL cluster on a free (or given) loopback port with trust auth."""

    def __init__(
        self,
        log_file: Path,
        *,
        data_dir: Path | None = None,
        port: int | None = None,
        durable: bool = True,
        start_timeout: float = 60.0,
        bin_dir: Path | None = None,
    ) -> None:
        super().__init__(log_file, start_timeout=start_timeout)
        self.durable = durable
        self._given_data_dir = data_dir
        self._data_dir: Path | None = data_dir
        self._fixed_port = port
        self._port = port
        self._bin_dir = bin_dir
        self._os_user = _OS_USER_WHEN_ROOT if os.geteuid() == 0 else None

    @property
    def port(self) -> int:
        return known_once_started(self._port, "Postgres has no port")

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def user(self) -> str:
        return SUPERUSER

    @property
    def data_dir(self) -> Path:
        return known_once_started(self._data_dir, "Postgres has no data directory")

    def dsn(self, database: str) -> str:
        """SQLAlchemy URL, e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/orders`."""
        return sqlalchemy_dsn(self.port, database)

    def conninfo(self, database: str = "postgres") -> str:
        """libpq connection string for `psycopg.connect`."""
        return libpq_conninfo(self.port, database)

    def start(self) -> None:
        """Create the cluster if needed, start it, return once psycopg can connect."""
        if self.running:
            return
        bin_dir = self._bin_dir or find_postgres_bin_dir()
        data_dir = self._prepare_data_dir()
        if not (data_dir / "PG_VERSION").exists():
            self._initdb(bin_dir, data_dir)

        def launch(attempt: int) -> ChildProcess:
            self._port = port_for_attempt(
                attempt, fixed=self._fixed_port, previous=self._port, what="PostgreSQL"
            )
            process = ChildProcess(
                postgres_argv(
                    bin_dir,
                    data_dir,
                    self.port,
                    socket_dir=_socket_dir_for(data_dir),
                    durable=self.durable,
                ),
                self.log_file,
                env=child_environment(),
                cwd=data_dir,
                user=self._os_user,
                # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for clients.
                stop_signal=signal.SIGINT,
            )
            process.start()
            return process

        self._start_until_ready(
            launch,
            self._accepts_connections,
            describe=lambda: f"PostgreSQL on {LOOPBACK}:{self.port}",
            retry_when_exited=self._fixed_port is None,
        )

    def _prepare_data_dir(self) -> Path:
        if self._data_dir is None:
            # /tmp is reachable by the postgres user; a pytest tmp_path under root's
            # private directory is not.
            self._data_dir = Path(tempfile.mkdtemp(prefix="vndx-pg-"))
        data_dir = self._data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        if self._os_user is not None:
            account = pwd.getpwnam(self._os_user)
            for path in (data_dir, *data_dir.rglob("*")):
                os.lchown(path, account.pw_uid, account.pw_gid)
            self._check_reachable_by_os_user(data_dir)
        return data_dir

    def _check_reachable_by_os_user(self, data_dir: Path) -> None:
        probe = subprocess.run(
            ["test", "-w", str(data_dir), "-a", "-x", str(data_dir)],
            user=self._os_user,
            group=self._os_user,
            extra_groups=[],
            env=child_environment(),
            cwd="/",
            check=False,
        )
        if probe.returncode != 0:
            raise PermissionError(
                f"the {self._os_user!r} OS user cannot reach {data_dir}: every parent "
                "directory must be searchable by it (leave data_dir unset to use /tmp)"
            )

    def _initdb(self, bin_dir: Path, data_dir: Path) -> None:
        argv = [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if not self.durable:
            argv.append("--no-sync")
        exit_code = ChildProcess(
            argv, self.log_file, env=child_environment(), cwd=data_dir, user=self._os_user
        ).run_to_end()
        if exit_code != 0:
            raise RuntimeError(
                f"initdb failed for {data_dir} (exit {exit_code}).\n"
                f"Last lines of its log:\n{log_tail(self.log_file)}"
            )

    def _accepts_connections(self) -> bool:
        import psycopg

        with psycopg.connect(self.conninfo(), connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        return True

    def database_exists(self, name: str) -> bool:
        import psycopg

        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
        return row is not None

    def create_database(self, name: str) -> None:
        """Create database `name` unless it exists already."""
        import psycopg
        from psycopg import errors, sql

        if self.database_exists(name):
            return
        # Another process may have created it since the check.
        with (
            psycopg.connect(self.conninfo(), autocommit=True) as connection,
            contextlib.suppress(errors.DuplicateDatabase),
        ):
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, disconnecting its sessions."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server; a temporary data directory is deleted with it."""
        super().stop(timeout)
        if self._given_data_dir is None and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None


def _socket_dir_for(data_dir: Path) -> str:
    """The data directory, or no Unix socket at all when its path is too long."""
    return str(data_dir) if len(str(data_dir)) <= _MAX_SOCKET_DIR_LENGTH else ""
