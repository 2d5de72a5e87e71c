"""``vndx migrate``, ``vndx backup``, ``vndx restore``: a service's database, production or embedded.

A service's database holds its state, its outbox and inbox; the audit service's
also holds the ledger store (every record and leaf hash, and the signed
checkpoints), so ``vndx backup --service audit`` is the ledger's backup.
SQLite files are copied with SQLite's online backup API (consistent while the
service runs); PostgreSQL databases with ``pg_dump --format=custom`` and put
back with ``pg_restore``. Each backup has a ``.json`` manifest beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.engine import URL, make_url

from services.common.db import make_engine
from services.common.migrations import current_revision
from services.common.settings import load_settings
from vndx.schema import UnknownService, migrate_database, new_revision

app = typer.Typer(help="Database migrations, backups and restores.")
console = Console(stderr=True)

ServiceOption = Annotated[str, typer.Option("--service", help="catalog, pricing, orders, ...")]


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def migrate(service: ServiceOption) -> None:
    """Bring a service's database (``VNDX_DATABASE_URL``) to its newest Alembic revision."""
    settings = load_settings(service_name=service)
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate_database(engine, service)
        revision = current_revision(engine, service)
    except UnknownService as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    console.print(f"{service}: schema at revision {revision}")


@app.command("migration")
def new_migration(
    service: ServiceOption,
    message: Annotated[str, typer.Option("--message", "-m", help="what the revision changes")],
) -> None:
    """Write the next revision for what changed in a service's tables (developers)."""
    try:
        path = new_revision(service, message)
    except UnknownService as exc:
        _fail(str(exc))
    if path is None:
        console.print(f"{service}: the newest revision already matches the tables")
    else:
        console.print(f"{service}: wrote {path}")


def _database_url(service: str) -> URL:
    return make_url(load_settings(service_name=service).resolved_database_url)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        _fail(f"{name} not found: install the PostgreSQL client (postgresql-client)")
    return str(candidates[-1])


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and the environment that carries it."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_database(service: str, directory: Path) -> Path:
    """Write a consistent copy of ``service``'s database into ``directory``; return its path."""
    url = _database_url(service)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        if not source.is_file():
            _fail(f"{service}: no database file at {source}")
        target = directory / f"{service}-{stamp}.sqlite3"
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        kind = "sqlite"
    else:
        target = directory / f"{service}-{stamp}.pgdump"
        uri, env = _libpq(url)
        subprocess.run(
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), uri],
            env=env,
            check=True,
        )
        kind = "postgresql"
    manifest = {
        "service": service,
        "kind": kind,
        "created_at": datetime.now(UTC).isoformat(),
        "file": target.name,
        "bytes": target.stat().st_size,
        "sha256": _sha256(target),
    }
    target.with_suffix(target.suffix + ".json").write_text(json.dumps(manifest, indent=2))
    return target


def restore_database(service: str, source: Path) -> None:
    """Replace ``service``'s database with the backup ``source`` (stop the service first)."""
    manifest_path = source.with_suffix(source.suffix + ".json")
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("service") != service:
            _fail(f"{source.name} is a backup of {manifest.get('service')!r}, not {service!r}")
        if manifest.get("sha256") != _sha256(source):
            _fail(f"{source.name} does not match its manifest's checksum")
    url = _database_url(service)
    if url.get_backend_name() == "sqlite":
        target = Path(url.database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return
    uri, env = _libpq(url)
    subprocess.run(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--dbname",
            uri,
            str(source),
        ],
        env=env,
        check=True,
    )


@app.command()
def backup(
    service: ServiceOption,
    to: Annotated[Path, typer.Option("--to", help="folder for the backup and its manifest")],
) -> None:
    """Back up a service's database (for audit: the ledger store too)."""
    try:
        target = backup_database(service, to)
    except subprocess.CalledProcessError as exc:
        _fail(f"pg_dump failed with exit code {exc.returncode}")
    console.print(f"{service}: backed up to {target}")


@app.command()
def restore(
    service: ServiceOption,
    source: Annotated[Path, typer.Option("--from", help="a file written by vndx backup")],
) -> None:
    """Restore a service's database from a backup; stop the service first."""
    if not source.is_file():
        _fail(f"no backup file at {source}")
    try:
        restore_database(service, source)
    except subprocess.CalledProcessError as exc:
        _fail(f"pg_restore failed with exit code {exc.returncode}")
    console.print(f"{service}: restored from {source}")
