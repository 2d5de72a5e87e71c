"""``vndx grants``: list and revoke grants through the running access service (embedded)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from services.common.auth import Role, TokenIssuer
from services.common.settings import load_settings

app = typer.Typer(help="List and revoke access grants.", no_args_is_help=True)
errors = Console(stderr=True)


def _call(method: str, path: str, org: str, role: Role, **kwargs: Any) -> Any:
    settings = load_settings(service_name="access")
    if settings.env == "production":
        errors.print("[red]error:[/red] use a token from the OIDC issuer in production")
        raise typer.Exit(2)
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    headers = {"Authorization": f"Bearer {issuer.issue(org, role, ttl_s=300)}"}
    response = httpx.request(method, settings.access_url + path, headers=headers, **kwargs)
    if response.status_code >= 400:
        errors.print(f"[red]error {response.status_code}:[/red] {response.text}")
        raise typer.Exit(1)
    return response.json()


@app.command("list")
def list_grants(
    org: Annotated[str, typer.Option(help="the buyer organisation")],
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """An organisation's grants, newest first."""
    body = _call("GET", "/v1/grants", org, "buyer", params={"page": page, "page_size": 50})
    table = Table("grant", "listing", "product", "status", "expires", "k", "ℓ")
    for grant in body["items"]:
        privacy = grant["privacy"] or {}
        table.add_row(
            grant["id"],
            grant["listing_id"],
            grant["product"],
            grant["status"],
            grant["expires_at"] or "",
            str(privacy.get("k", "")),
            str(privacy.get("l_diversity", "")),
        )
    Console().print(table)


@app.command()
def revoke(
    grant_id: Annotated[str, typer.Argument(help="the grant to close")],
    reason: Annotated[str, typer.Option(help="why, for the audit record")],
    org: Annotated[str, typer.Option(help="the operator organisation")] = "vndx-ops",
) -> None:
    """Close a grant now and delete its extract (as an operator)."""
    body = _call("POST", f"/v1/grants/{grant_id}/revoke", org, "operator", json={"reason": reason})
    Console().print(f"grant {body['id']} is {body['status']}")
