"""``vndx policy validate`` and ``vndx price explain``'s tables, without a running stack."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from typer.testing import CliRunner

from services.pricing.domain import (
    DEFAULT_POLICY_PATH,
    BuyerProfile,
    DatasetFacts,
    QuoteSigner,
    load_default_policy,
    make_quote,
    price,
)
from vndx.cli import app
from vndx.commands.price import render

runner = CliRunner()


def test_validate_prints_a_summary_of_a_good_policy() -> None:
    result = runner.invoke(app, ["policy", "validate", str(DEFAULT_POLICY_PATH)])
    assert result.exit_code == 0, result.output
    assert "policy 2025.1" in result.output
    assert "download" in result.output


def test_validate_names_each_field_and_line_of_a_bad_policy(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    bad = text.replace("vat_rate: 0.10", "vat_rate: 1.5").replace("alpha: 0.6", "alpha: -1")
    file = tmp_path / "bad.yaml"
    file.write_text(bad, encoding="utf-8")
    lines = bad.splitlines()
    vat_line = next(n for n, line in enumerate(lines, 1) if "vat_rate:" in line)
    alpha_line = next(n for n, line in enumerate(lines, 1) if "alpha:" in line)

    result = runner.invoke(app, ["policy", "validate", str(file)])
    assert result.exit_code == 2
    assert f"fees.vat_rate (line {vat_line}):" in result.output
    assert f"duration_curve.alpha (line {alpha_line}):" in result.output


def test_validate_refuses_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["policy", "validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2


def test_explain_shows_every_line_and_rule_of_a_quote() -> None:
    now = datetime(2025, 10, 15, 3, tzinfo=UTC)
    facts = DatasetFacts.model_validate(
        {
            "listing_id": "l-1",
            "version": 1,
            "org": "so-y-te",
            "theme": "health",
            "row_count": 250_000,
            "column_count": 4,
            "classification": {"quasi_identifier": 2, "sensitive": 1, "attribute": 1},
            "quality_score": "0.8",
            "update_frequency": "monthly",
            "last_updated": now,
        }
    )
    priced = price(load_default_policy(), facts, "download", 30, BuyerProfile(org="b"), now)
    quote = QuoteSigner(Ed25519PrivateKey.generate()).sign(make_quote(priced))
    console = Console(record=True, width=200)
    for table in render(quote.model_dump(mode="json")):
        console.print(table)
    shown = console.export_text()
    for line in quote.lines:
        assert line.label_en in shown
    for step in quote.trace:
        assert step.rule in shown
