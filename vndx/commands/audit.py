"""``vndx audit``: verify the audit ledger and the Merkle proof test vectors."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from services.common.db import make_engine
from services.common.outbox import mark_for_replay
from services.common.settings import load_settings
from services.contracts.topics import AUDIT_LEDGER
from streams.audit.sources import LedgerSnapshot, SourceError, from_api, from_topic
from streams.ledger.auditor import verify_ledger
from streams.ledger.checkpoint import CheckpointError, load_public_key, public_key_from_pem
from streams.ledger.vectors import check_vectors

app = typer.Typer(help="Verify the audit ledger.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _public_key(path: Path | None, url: str | None, token: str | None) -> Ed25519PublicKey:
    try:
        if path is not None:
            return load_public_key(path)
        if url is not None:
            import httpx

            response = httpx.get(
                url.rstrip("/") + "/v1/audit/public-key",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            response.raise_for_status()
            return public_key_from_pem(response.json()["pem"].encode("ascii"))
        return load_public_key(load_settings().key_path("ledger", "public"))
    except (OSError, CheckpointError, ValueError, KeyError) as exc:
        _fail(f"cannot read the ledger's public key: {exc}")
        raise  # unreachable: _fail exits
    except Exception as exc:  # httpx errors
        _fail(f"cannot fetch the ledger's public key: {exc}")
        raise


@app.command()
def verify(
    url: Annotated[str | None, typer.Option(help="audit API base URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="bearer token (regulator)", envvar="VNDX_TOKEN")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap servers: read the topic instead")
    ] = None,
    topic: Annotated[str, typer.Option(help="ledger topic")] = AUDIT_LEDGER,
    public_key: Annotated[
        Path | None,
        typer.Option(help="PEM public key to trust (default: from the API, or the local key)"),
    ] = None,
) -> None:
    """Check every record's inclusion and every consecutive pair of checkpoints."""
    if (url is None) == (bootstrap is None):
        _fail("give exactly one source: --url (with --token) or --bootstrap")
    if url is not None and not token:
        _fail("--url needs --token (or VNDX_TOKEN)")
    key = _public_key(public_key, url, token)
    started = time.perf_counter()
    try:
        snapshot: LedgerSnapshot = (
            from_api(url, token or "") if url is not None else from_topic(bootstrap or "", topic)
        )
    except (SourceError, OSError) as exc:
        _fail(str(exc), code=1)
        raise
    except Exception as exc:  # broker or HTTP client failures
        _fail(f"cannot read the ledger: {exc}", code=1)
        raise
    read_s = time.perf_counter() - started
    report = verify_ledger(snapshot.records, snapshot.checkpoints, key)
    verify_s = time.perf_counter() - started - read_s
    table = Table("check", "result", title="audit ledger verification")
    table.add_row("records", f"{report.records_checked:,}")
    table.add_row("checkpoints", f"{report.checkpoints_checked:,} of {len(snapshot.checkpoints):,}")
    table.add_row("covered by a signature", f"{report.verified_size:,}")
    if snapshot.duplicates:
        table.add_row("repeated on the topic (ignored)", f"{snapshot.duplicates:,}")
    table.add_row("read / verify", f"{read_s:.2f} s / {verify_s:.2f} s")
    table.add_row("result", "[green]ok[/green]" if report.ok else "[red]FAILED[/red]")
    console.print(table)
    if not report.ok:
        where = []
        if report.first_bad_index is not None:
            where.append(f"first bad record index {report.first_bad_index}")
        if report.bad_checkpoint is not None:
            where.append(f"checkpoint #{report.bad_checkpoint}")
        errors.print(
            f"[red]verification failed[/red] ({', '.join(where) or 'ledger'}): {report.reason}"
        )
        raise typer.Exit(1)


@app.command()
def republish() -> None:
    """Publish every stored record and checkpoint on the ledger topic again (topic lost).

    Marks the audit service's outbox rows unpublished; its running relay sends
    them again, in order. Readers keep one copy of each seq.
    """
    settings = load_settings(service_name="audit")
    engine = make_engine(settings.resolved_database_url)
    try:
        count = mark_for_replay(engine, datetime(1970, 1, 1, tzinfo=UTC))
    except SQLAlchemyError as exc:
        _fail(f"cannot reach the audit database: {exc}")
    finally:
        engine.dispose()
    console.print(f"{count:,} ledger events queued for publication again")


@app.command("check-vectors")
def check_vectors_command(
    directory: Annotated[Path, typer.Argument(help="folder of RFC 6962 proof test vectors")],
) -> None:
    """Run the proof verifiers over transparency-dev/merkle test vectors."""
    try:
        results = check_vectors(directory)
    except FileNotFoundError as exc:
        _fail(str(exc))
        raise
    if not results:
        _fail(f"no *.json vectors under {directory}")
    tally: Counter[tuple[str, str]] = Counter()
    for result in results:
        expected = "error" if result.want_error else "valid"
        tally[(result.kind, expected if result.ok else "FAILED")] += 1
    table = Table("kind", "expected", "vectors", title=f"Merkle proof vectors in {directory}")
    for (kind, outcome), count in sorted(tally.items()):
        table.add_row(kind, outcome, str(count))
    console.print(table)
    failures = [r for r in results if not r.ok]
    for failure in failures:
        errors.print(
            f"[red]FAILED[/red] {os.path.relpath(failure.path, directory)}: "
            f"{failure.description} (want error: {failure.want_error}; got: {failure.error})"
        )
    console.print(f"{len(results) - len(failures)} of {len(results)} vectors as expected")
    if failures:
        raise typer.Exit(1)
