"""``vndx orders``: list orders and approval requests, settle bank transfers, read
statements (embedded stack)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from services.common.auth import Role, TokenIssuer
from services.common.settings import load_settings

app = typer.Typer(help="Orders, local-provider settlement and statements.", no_args_is_help=True)
errors = Console(stderr=True)
OPERATOR_ORG = "vndx-ops"


def _call(method: str, path: str, org: str, role: Role, **kwargs: Any) -> httpx.Response:
    settings = load_settings(service_name="orders")
    if settings.env == "production":
        errors.print("[red]error:[/red] use a token from the OIDC issuer in production")
        raise typer.Exit(2)
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    headers = {"Authorization": f"Bearer {issuer.issue(org, role, ttl_s=300)}"}
    headers.update(kwargs.pop("headers", {}))
    response = httpx.request(
        method, settings.orders_url + path, headers=headers, timeout=30, **kwargs
    )
    if response.status_code >= 400:
        errors.print(f"[red]error {response.status_code}:[/red] {response.text}")
        raise typer.Exit(1)
    return response


def _this_month() -> str:
    return f"{datetime.now(UTC):%Y-%m}"


@app.command("list")
def list_orders(
    org: Annotated[str | None, typer.Option(help="a buyer organisation; all as operator")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Orders, newest first."""
    role: Role = "buyer" if org else "operator"
    params = {"page": page, "page_size": 50}
    body = _call("GET", "/v1/orders", org or OPERATOR_ORG, role, params=params).json()
    table = Table("order", "buyer", "publisher", "status", "total (đ)", "payment", "placed")
    for order in body["items"]:
        table.add_row(
            order["id"],
            order["buyer_org"],
            order["publisher_org"],
            order["status"],
            f"{order['total']:,}",
            order["payment"]["reference"] or order["payment"]["provider"],
            order["placed_at"],
        )
    Console().print(table)
    Console().print(f"{body['total']} orders")


@app.command()
def approvals(
    org: Annotated[
        str | None, typer.Option(help="a publishing organisation; all as operator")
    ] = None,
    state: Annotated[str, typer.Option(help="pending, decided or all")] = "pending",
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Requests for listings whose publisher approves each order (pending: nearest deadline)."""
    role: Role = "provider" if org else "operator"
    params: dict[str, Any] = {"state": state, "page": page, "page_size": 50}
    body = _call("GET", "/v1/approvals", org or OPERATOR_ORG, role, params=params).json()
    table = Table("order", "buyer", "publisher", "purpose", "status", "decide by", "note")
    for order in body["items"]:
        approval = order["approval"] or {}
        table.add_row(
            order["id"],
            order["buyer_org"],
            order["publisher_org"],
            order["purpose"] or "",
            order["status"],
            approval.get("decide_by") or "",
            approval.get("note") or "",
        )
    Console().print(table)
    Console().print(f"{body['total']} requests")


@app.command()
def settle(
    order_id: Annotated[str, typer.Argument(help="the order whose invoice was paid")],
    bank_reference: Annotated[
        str | None, typer.Option(help="the transfer's reference on the bank statement")
    ] = None,
) -> None:
    """Record that the bank transfer for a local invoice arrived (as an operator)."""
    body = _call(
        "POST",
        f"/v1/orders/{order_id}/settle",
        OPERATOR_ORG,
        "operator",
        json={"bank_reference": bank_reference},
    ).json()
    Console().print(f"order {body['id']} is {body['status']}")


@app.command()
def statement(
    org: Annotated[str, typer.Option(help="the providing agency")],
    month: Annotated[str, typer.Option(help="YYYY-MM")] = "",
    csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
) -> None:
    """An agency's settlement statement for one month."""
    params = {"month": month or _this_month(), "org": org, "format": "csv" if csv else "json"}
    response = _call("GET", "/v1/statements", OPERATOR_ORG, "operator", params=params)
    if csv:
        sys.stdout.write(response.text)
        return
    body = response.json()
    table = Table("part", "amount (đ)", title=f"{org} — {body['month']}")
    for part, amount in body["by_part"].items():
        table.add_row(part, f"{amount:,}")
    Console().print(table)


@app.command()
def totals(month: Annotated[str, typer.Option(help="YYYY-MM")] = "") -> None:
    """Per agency, for the state budget, the platform and VAT; reconciled with orders."""
    body = _call(
        "GET",
        "/v1/statements/totals",
        OPERATOR_ORG,
        "operator",
        params={"month": month or _this_month()},
    ).json()
    table = Table("who", "amount (đ)", title=f"totals — {body['month']}")
    for agency, amount in sorted(body["agencies"].items()):
        table.add_row(agency, f"{amount:,}")
    for name in ("budget_share", "platform_fee", "vat", "ledger_total", "orders_total"):
        table.add_row(name, f"{body[name]:,}")
    Console().print(table)
    if not body["reconciled"]:
        errors.print("[red]the ledger does not reconcile with the orders[/red]")
        raise typer.Exit(1)
