"""``vndx price explain QUOTE_ID``: a quote's lines and rule trace, from the pricing API."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from services.common.settings import load_settings
from vndx.commands.policy import operator_token

app = typer.Typer(help="Explain quotes.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def _money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def _fetch(url: str, token: str, quote_id: str) -> dict[str, Any]:
    try:
        response = httpx.get(
            f"{url}/v1/quotes/{quote_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        errors.print(f"[red]error:[/red] cannot reach pricing at {url}: {exc}")
        raise typer.Exit(2) from None
    if response.status_code != 200:
        message = response.json().get("error", {}).get("message", response.text)
        errors.print(f"[red]error:[/red] {response.status_code}: {message}")
        raise typer.Exit(1)
    quote: dict[str, Any] = response.json()
    return quote


def render(quote: dict[str, Any]) -> list[Table]:
    """The quote's lines and trace as two tables."""
    lines = Table(
        "#",
        "code",
        "kind",
        "label",
        "amount (đồng)",
        title=(
            f"quote {quote['id']} — {quote['product']} {quote['duration_days']} days of "
            f"{quote['listing_id']} v{quote['listing_version']} for {quote['buyer_org']} "
            f"({quote['segment']}), policy {quote['policy_version']}"
        ),
    )
    for number, line in enumerate(quote["lines"], start=1):
        lines.add_row(
            str(number), line["code"], line["kind"], line["label_en"], _money(line["amount"])
        )
    trace = Table("rule", "inputs", "output", title="rule trace")
    for step in quote["trace"]:
        inputs = ", ".join(f"{name}={value}" for name, value in step["inputs"].items())
        trace.add_row(step["rule"], inputs, step["output"])
    return [lines, trace]


@app.command()
def explain(
    quote_id: Annotated[str, typer.Argument(help="the quote's id")],
    url: Annotated[str | None, typer.Option(help="pricing API base URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="bearer token (operator or the buyer)", envvar="VNDX_TOKEN")
    ] = None,
) -> None:
    """Print a quote's itemised lines and the rules that produced them."""
    settings = load_settings(service_name="pricing")
    base = (url or settings.pricing_url).rstrip("/")
    quote = _fetch(base, operator_token(settings, token), quote_id)
    for table in render(quote):
        console.print(table)
    console.print(
        f"total {_money(quote['total'])} {quote['currency']}; issued {quote['issued_at']}, "
        f"expires {quote['expires_at']}; signed by {quote['key_id']}"
    )
    purpose = quote.get("purpose") or "not declared"
    justification = quote.get("justification")
    console.print(
        f"purpose: {purpose}" + (f"; justification: {justification}" if justification else ""),
        markup=False,
    )
