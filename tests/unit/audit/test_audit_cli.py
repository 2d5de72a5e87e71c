"""`vndx audit check-vectors` over the shared RFC 6962 vectors, and over a broken one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from vndx.cli import app

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "merkle-vectors"


def test_every_shared_vector_gives_the_expected_result() -> None:
    result = CliRunner().invoke(app, ["audit", "check-vectors", str(VECTORS)])
    total = len(list(VECTORS.rglob("*.json")))
    assert result.exit_code == 0, result.output
    assert f"{total} of {total} vectors as expected" in result.output


def test_a_vector_with_the_wrong_expectation_fails(tmp_path: Path) -> None:
    source = next(
        p for p in sorted(VECTORS.rglob("*.json")) if not json.loads(p.read_text())["wantErr"]
    )
    document = json.loads(source.read_text())
    document["wantErr"] = True
    (tmp_path / "flipped.json").write_text(json.dumps(document))
    shutil.copy(source, tmp_path / "good.json")
    result = CliRunner().invoke(app, ["audit", "check-vectors", str(tmp_path)])
    assert result.exit_code == 1
    assert "1 of 2 vectors as expected" in result.output


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "check-vectors", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
