"""``vndx outbox replay``: publish again, from the durable outboxes, what the broker lost.

The broker (Tansu's memory storage, or a Kafka that lost a topic) is not the
record of events: each service's outbox is. Replay marks every outbox row
created since a time unpublished; the service's running relay publishes them
again, in order, and consumers skip what their inbox already holds.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from services.common.db import make_engine
from services.common.kafka import ensure_topics
from services.common.outbox import mark_for_replay
from services.common.settings import load_settings
from services.contracts.topics import all_topics_with_dlq

app = typer.Typer(help="Publish events again from the services' outboxes.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

#: Services that own an outbox (the portal has none).
OUTBOX_SERVICES = ("catalog", "pricing", "orders", "access", "audit")
_RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (UTC if no zone) or a span back from now: ``90s``, ``15m``, ``2h``, ``1d``."""
    match = _RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            f"{text!r} is neither an ISO 8601 time nor a span like 15m", param_hint="--since"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def replay(
    since: Annotated[str, typer.Option(help="ISO 8601 time, or a span back from now (15m, 2h)")],
    service: Annotated[
        str | None, typer.Option(help=f"one of {', '.join(OUTBOX_SERVICES)}; default all")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="the service's database (only with --service)")
    ] = None,
    topics: Annotated[
        bool, typer.Option(help="create missing topics first (a broker that came back empty)")
    ] = True,
) -> None:
    """Mark outbox events created since TIME unpublished, so the relays publish them again."""
    moment = parse_since(since)
    if service is not None and service not in OUTBOX_SERVICES:
        raise typer.BadParameter(
            f"unknown service {service!r}; one of {', '.join(OUTBOX_SERVICES)}",
            param_hint="--service",
        )
    if database_url and service is None:
        raise typer.BadParameter("needs --service", param_hint="--database-url")
    if topics:
        settings = load_settings()
        try:
            asyncio.run(
                ensure_topics(
                    settings.kafka_bootstrap,
                    all_topics_with_dlq(),
                    settings.kafka_topic_partitions,
                    settings.kafka_replication_factor,
                    settings=settings,
                )
            )
        except Exception as exc:
            errors.print(f"[red]error:[/red] cannot reach the broker to create topics: {exc}")
            raise typer.Exit(1) from exc
    table = Table("service", "events queued again", title=f"outbox replay since {moment}")
    failed = False
    for name in (service,) if service else OUTBOX_SERVICES:
        overrides: dict[str, object] = {"service_name": name}
        if database_url:
            overrides["database_url"] = database_url
        url = load_settings(**overrides).resolved_database_url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            table.add_row(name, "no database here")
            continue
        engine = make_engine(url)
        try:
            table.add_row(name, f"{mark_for_replay(engine, moment):,}")
        except SQLAlchemyError as exc:
            failed = True
            table.add_row(name, "[red]database unreachable[/red]")
            errors.print(f"[red]error:[/red] {name}: {type(exc).__name__}")
        finally:
            engine.dispose()
    console.print(table)
    if failed:
        raise typer.Exit(1)
