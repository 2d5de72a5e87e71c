"""``vndx policy``: validate a pricing policy file, activate it through the pricing API.

Without ``--token`` the command mints a short-lived operator token with the embedded
stack's signing key, as ``vndx token`` does (embedded mode only).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from services.common.auth import TokenIssuer, ensure_keypair
from services.common.settings import Settings, load_settings
from services.pricing.domain import Policy, PolicyError, load_policy

app = typer.Typer(help="Validate and activate pricing policies.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

OPERATOR_ORG = "vndx-operator"


def _fail(message: str, code: int = 2) -> None:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def operator_token(settings: Settings, token: str | None) -> str:
    """``token`` if given, else a 5-minute operator token signed with the local key."""
    if token:
        return token
    if settings.env == "production":
        _fail("give --token: production tokens come from the OIDC issuer")
    ensure_keypair(settings.private_key_path, settings.public_key_path)
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return issuer.issue(OPERATOR_ORG, "operator", subject=f"{OPERATOR_ORG}:cli", ttl_s=300)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {file}: {exc}")
        raise  # unreachable: _fail exits


def _print_issues(issues: list[dict[str, Any]]) -> None:
    for issue in issues:
        errors.print(f"{issue['field']} (line {issue['line']}): {issue['message']}", markup=False)


def _print_summary(policy: Policy) -> None:
    products = ", ".join(
        f"{p.value} ×{terms.factor} ({'/'.join(str(d) for d in terms.durations)} days)"
        for p, terms in policy.products.items()
    )
    console.print(f"policy {policy.version}, effective from {policy.effective_from.isoformat()}")
    console.print(f"  products: {products}", markup=False)
    console.print(
        f"  VAT {policy.fees.vat_rate}; net between {policy.fees.minimum_charge:,} and "
        f"{policy.fees.maximum_charge:,} đồng, rounded to {policy.fees.rounding_step:,}"
    )
    console.print(
        f"  {len(policy.incentives.promotions)} promotions; quotes valid "
        f"{policy.quote_validity_minutes} minutes"
    )


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="policy YAML file")]) -> None:
    """Check a policy file: exit 0 with a summary, or 2 with each `field (line N): message`."""
    try:
        policy = load_policy(_read(file))
    except PolicyError as error:
        _print_issues(
            [
                {"field": i.field_path or "policy", "line": i.line, "message": i.message}
                for i in error.issues
            ]
        )
        raise typer.Exit(2) from None
    _print_summary(policy)


@app.command()
def activate(
    file: Annotated[Path, typer.Argument(help="policy YAML file")],
    at: Annotated[
        datetime | None,
        typer.Option(
            help="when it takes effect (ISO 8601 with offset); default: its effective_from",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S.%f%z"],
        ),
    ] = None,
    url: Annotated[str | None, typer.Option(help="pricing API base URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="operator bearer token", envvar="VNDX_TOKEN")
    ] = None,
) -> None:
    """Activate a policy version through the pricing API (POST /v1/policies)."""
    settings = load_settings(service_name="pricing")
    body: dict[str, Any] = {"policy_yaml": _read(file)}
    if at is not None:
        body["effective_from"] = at.isoformat()
    base = (url or settings.pricing_url).rstrip("/")
    bearer = operator_token(settings, token)
    try:
        response = httpx.post(
            f"{base}/v1/policies",
            json=body,
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach pricing at {base}: {exc}")
        raise  # unreachable
    answer = response.json()
    if response.status_code in (200, 201):
        verb = "activated" if response.status_code == 201 else "was already active:"
        console.print(
            f"policy {answer['version']} {verb} effective from {answer['effective_from']} "
            f"(sha256 {answer['sha256'][:12]}…)"
        )
        return
    error = answer.get("error", {})
    if error.get("issues"):
        _print_issues(error["issues"])
    else:
        errors.print(f"{response.status_code}: {error.get('message', answer)}", markup=False)
    raise typer.Exit(2 if response.status_code == 422 else 1)
