"""vndx backup / restore bring a service's database back as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from services.common.db import make_engine
from vndx.cli import app


def _rows(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = [
            row[0] for row in connection.execute(text("SELECT name FROM ledger ORDER BY name"))
        ]
    engine.dispose()
    return found


def _write(url: str, statement: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


def test_a_backup_restores_what_was_deleted_since(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VNDX_DATABASE_URL", database_url)
    _write(database_url, "CREATE TABLE ledger (name VARCHAR(20) PRIMARY KEY)")
    _write(database_url, "INSERT INTO ledger VALUES ('leaf-0'), ('leaf-1')")
    runner = CliRunner()
    made = runner.invoke(app, ["backup", "--service", "audit", "--to", str(tmp_path / "b")])
    assert made.exit_code == 0, made.output
    (backup,) = [p for p in (tmp_path / "b").iterdir() if p.suffix != ".json"]
    manifest = json.loads(backup.with_suffix(backup.suffix + ".json").read_text())
    assert manifest["service"] == "audit" and manifest["bytes"] == backup.stat().st_size

    _write(database_url, "DELETE FROM ledger WHERE name = 'leaf-1'")
    wrong = runner.invoke(app, ["restore", "--service", "orders", "--from", str(backup)])
    assert wrong.exit_code != 0
    restored = runner.invoke(app, ["restore", "--service", "audit", "--from", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert _rows(database_url) == ["leaf-0", "leaf-1"]
