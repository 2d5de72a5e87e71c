"""``vndx``: the operator's command.

Run ``vndx --help`` for the list. Commands that act on the embedded stack read
the same ``VNDX_`` settings as the services (data directory, ports, URLs).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.catalog.handlers import register_organisation
from services.common.auth import ROLES, Role, TokenIssuer, ensure_keypair
from services.common.db import make_engine
from services.common.settings import Settings, load_settings
from vndx.commands import audit, dlq, grants, ops, orders, outbox, policy, price
from vndx.embedded.ports import NotReadyError
from vndx.schema import migrate_database
from vndx.stack import SERVICES, EmbeddedStack, StackConfig

app = typer.Typer(
    help="Operate the vndx data exchange.", no_args_is_help=True, add_completion=False
)
console = Console(stderr=True)
app.add_typer(audit.app, name="audit")
app.add_typer(policy.app, name="policy")
app.add_typer(price.app, name="price")
app.add_typer(grants.app, name="grants")
app.add_typer(orders.app, name="orders")
app.add_typer(outbox.app, name="outbox")
app.add_typer(dlq.app, name="dlq")
app.add_typer(ops.app)  # migrate, backup, restore


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="where the stack keeps its data")] = Path(".vndx"),
) -> None:
    """Run the embedded stack (broker, object store, services) until Ctrl-C."""
    stack = EmbeddedStack(StackConfig.from_environment(data_dir))
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        # Before anything starts: the services start side by side, and one refused
        # port would otherwise be reported only once the others were up.
        for service in stack.config.services:
            stack.require_free_port(service)
        with console.status("starting broker and object store…"):
            stack.start_infrastructure()
        console.print(f"Kafka (Tansu)  {stack.tansu.bootstrap_servers}")
        console.print(f"S3 (SeaweedFS) http://{stack.s3.endpoint}  bucket vndx-data")
        with console.status(f"starting {', '.join(stack.config.services)}…"):
            stack.start_services(stack.config.services)
        for service in stack.config.services:
            definition = next(s for s in SERVICES if s.name == service)
            console.print(f"{service:<14} {stack.url(service)}{definition.docs_path}")
        console.print(f"[green]vndx is up[/green]; data in {stack.data_dir}. Ctrl-C stops it.")
        while not stopping:
            time.sleep(0.5)
            for service, process in list(stack.processes.items()):
                if not process.is_alive() and not stopping:
                    console.print(f"[yellow]{service} exited; restarting[/yellow]")
                    stack.processes.pop(service)
                    stack.start_service(service)
    except NotReadyError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    finally:
        console.print("stopping…")
        stack.stop()
        console.print("stopped.")


@app.command()
def token(
    org: Annotated[str, typer.Option(help="organisation code, e.g. bca-c06")],
    role: Annotated[str, typer.Option(help="provider | buyer | regulator | operator")],
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 8 * 3600,
    segment: Annotated[
        str | None,
        typer.Option(
            help="buyer segment: startup, sme, research_education, public_interest, foreign"
        ),
    ] = None,
) -> None:
    """Print a signed bearer token for a development identity (embedded mode only)."""
    settings = load_settings(service_name="catalog")
    if settings.env == "production":
        _fail("vndx token is for the embedded stack; production tokens come from the OIDC issuer")
    if role not in ROLES:
        _fail(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if not org or len(org) > 64 or not all(c.isalnum() or c in "-_." for c in org):
        _fail("--org must be 1-64 letters, digits, '-', '_' or '.'")
    ensure_keypair(settings.private_key_path, settings.public_key_path)
    engine = make_engine(settings.resolved_database_url)
    migrate_database(engine, "catalog")
    register_organisation(engine, org)
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    role_value: Role = role  # type: ignore[assignment]
    sys.stdout.write(issuer.issue(org, role_value, ttl_s=ttl, segment=segment) + "\n")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="demo agencies and listings")] = False,
    adult_dir: Annotated[Path, typer.Option(help="folder of the Adult census set")] = Path(
        "../shared/datasets/adult"
    ),
) -> None:
    """Create demo agencies and listings through the running catalog's API."""
    if not demo:
        _fail("say what to seed: --demo")
    from vndx.seed import seed_demo

    settings = load_settings()
    created = seed_demo(settings, adult_dir, console)
    table = Table("organisation", "listing", "rows", title="seeded listings")
    for org, title, rows in created:
        table.add_row(org, title, f"{rows:,}")
    Console().print(table)


def _settings_for(service: str) -> Settings:
    return load_settings(service_name=service)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
