"""``vndx policy activate`` and ``vndx price explain`` against a live pricing service.

The pricing API runs as its own uvicorn process (the embedded stack's launcher) on the
session's real Tansu broker; the commands talk to it over HTTP as an operator would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from services.common.auth import TokenIssuer
from services.contracts.catalog import ListingPublished, OrganisationVerified
from services.contracts.pricing import PolicyActivated
from services.pricing.domain import DEFAULT_POLICY_PATH
from tests.integration.kafka_probe import read_topic
from tests.integration.pricing.conftest import publish, snapshot, wait_for, wrap
from vndx.cli import app
from vndx.embedded import SeaweedS3, Tansu
from vndx.stack import EmbeddedStack, StackConfig

runner = CliRunner()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, tansu: Tansu, seaweed: SeaweedS3
) -> Iterator[EmbeddedStack]:
    config = StackConfig.on_free_ports(tmp_path_factory.mktemp("cli"), services=["pricing"])
    config.extra_env = {"VNDX_S3_BUCKET": f"t-{uuid.uuid4().hex[:8]}"}
    running = EmbeddedStack(config, tansu=tansu, s3=seaweed)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def token(stack: EmbeddedStack, org: str, role: str) -> str:
    settings = stack.settings("pricing")
    issuer = TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return issuer.issue(org, role)  # type: ignore[arg-type]


def policy_file(tmp_path: Path, version: str, **replace: str) -> Path:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
        'version: "2025.1"', f'version: "{version}"'
    )
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    file = tmp_path / f"{version}.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def activate(stack: EmbeddedStack, file: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "policy",
            "activate",
            str(file),
            "--url",
            stack.url("pricing"),
            "--token",
            token(stack, "vndx-operator", "operator"),
            *extra,
        ],
    )
    return result.exit_code, result.output


def test_policy_activate_makes_a_new_version_active_and_announces_it(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    file = policy_file(tmp_path, "2099.cli", **{"per_column: 150000": "per_column: 200000"})
    takes_effect = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    at = takes_effect.strftime("%Y-%m-%dT%H:%M:%S%z")
    code, output = activate(stack, file, "--at", at)
    assert code == 0, output
    assert f"policy 2099.cli activated effective from {takes_effect.isoformat()}" in output

    pricing = httpx.Client(base_url=stack.url("pricing"), timeout=30)
    stored = pricing.get("/v1/policies/2099.cli")
    assert stored.status_code == 200
    assert stored.json()["yaml"] == file.read_text(encoding="utf-8")
    assert stored.json()["effective_from"] == takes_effect.isoformat()
    # Until then the shipped policy stays in effect, and stays readable afterwards.
    assert pricing.get("/v1/policies/active").json()["version"] == "2025.1"
    assert pricing.get("/v1/policies/2025.1").status_code == 200

    events = asyncio.run(
        read_topic(stack.tansu.bootstrap_servers, PolicyActivated.topic, key="2099.cli", until=1)
    )
    [(_, event)] = events
    announced = PolicyActivated.model_validate(event.data)
    assert (announced.effective_from, announced.sha256) == (takes_effect, stored.json()["sha256"])

    again_code, again = activate(stack, file, "--at", at)
    assert again_code == 0 and "was already active" in again


@pytest.mark.parametrize(
    ("replace", "named"),
    [
        ({"vat_rate: 0.10": "vat_rate: -0.10"}, "fees.vat_rate"),
        ({"platform: 0.10": "platform: 0.40"}, "fees.shares"),
    ],
)
def test_policy_activate_refuses_a_bad_policy_naming_the_field_and_activates_nothing(
    stack: EmbeddedStack, tmp_path: Path, replace: dict[str, str], named: str
) -> None:
    version = f"bad.{uuid.uuid4().hex[:6]}"
    code, output = activate(stack, policy_file(tmp_path, version, **replace))
    assert code == 2, output
    assert named in output
    pricing = httpx.Client(base_url=stack.url("pricing"), timeout=30)
    assert pricing.get(f"/v1/policies/{version}").status_code == 404
    assert version not in [p["version"] for p in pricing.get("/v1/policies").json()]


def test_price_explain_prints_the_lines_and_trace_of_a_live_quote(
    stack: EmbeddedStack,
) -> None:
    settings = stack.settings("pricing")
    listing = snapshot()
    publish(
        settings,
        wrap(
            OrganisationVerified(
                code="startup-cli",
                registered_name="Công ty CP Dữ liệu CLI",
                segment="startup",
                verified_by="vndx-operator",
                verified_at=datetime.now(UTC),
            )
        ),
        wrap(ListingPublished(listing=listing)),
    )
    buyer = {"Authorization": f"Bearer {token(stack, 'startup-cli', 'buyer')}"}
    pricing = httpx.Client(base_url=stack.url("pricing"), timeout=30)
    body = {
        "listing_id": listing.listing_id,
        "product": "sandbox",
        "duration_days": 90,
        "purpose": "statistics",
        "justification": "district-level visit counts",
    }

    def quoted() -> dict[str, object] | None:
        response = pricing.post("/v1/quotes", json=body, headers=buyer)
        return response.json() if response.status_code == 201 else None

    quote = wait_for(quoted, timeout_s=60)
    assert quote["segment"] == "startup"

    def explain(as_org: str) -> Result:
        arguments = ["price", "explain", str(quote["id"]), "--url", stack.url("pricing")]
        arguments += ["--token", token(stack, as_org, "buyer")]
        return runner.invoke(app, arguments, env={"COLUMNS": "200"})

    result = explain("startup-cli")
    assert result.exit_code == 0, result.output
    assert str(quote["id"]) in result.output
    assert "valuation.row_tiers" in result.output
    assert "incentives.segments.startup" in result.output
    assert "discount.segment" in result.output
    assert f"{quote['total']:,}".replace(",", ".") in result.output
    assert "purpose: statistics; justification: district-level visit counts" in result.output

    stranger = explain("someone-else")
    assert stranger.exit_code == 1
    assert "404" in stranger.output
