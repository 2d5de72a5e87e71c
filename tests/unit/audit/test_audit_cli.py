"""`vndx audit`: check-vectors over the shared RFC 6962 vectors, verify, republish."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from services.common.settings import Settings
from tests.unit.audit.conftest import Apply
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


def test_verify_names_the_first_record_that_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from streams.audit.sources import LedgerSnapshot
    from streams.ledger.checkpoint import generate_private_key, save_public_key
    from streams.ledger.log import AuditLog
    from tests.unit.ledger.conftest import make_record

    key = generate_private_key()
    log = AuditLog(key)
    records = [log.append(make_record(seq)) for seq in range(6)]
    checkpoints = [log.checkpoint(datetime(2026, 1, 1, tzinfo=UTC))]
    save_public_key(tmp_path / "ledger.pem", key.public_key())
    arguments = ["audit", "verify", "--url", "http://audit", "--token", "t"]
    arguments += ["--public-key", str(tmp_path / "ledger.pem")]

    def serve(snapshot: LedgerSnapshot) -> None:
        monkeypatch.setattr("vndx.commands.audit.from_api", lambda url, token: snapshot)

    serve(LedgerSnapshot(records=list(records), checkpoints=checkpoints))
    assert CliRunner().invoke(app, arguments).exit_code == 0

    tampered = list(records)
    tampered[2] = tampered[2].replace(b'"rows":', b'"rows":1')
    serve(LedgerSnapshot(records=tampered, checkpoints=checkpoints))
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert "first bad record index 2" in result.output

    serve(LedgerSnapshot(records=records[:2] + records[3:], checkpoints=checkpoints))
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 1
    assert "first bad record index 2" in result.output


def test_republish_queues_the_whole_ledger_again(
    engine: Engine, apply: Apply, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.common.outbox import backlog, mark_published, pending_rows
    from tests.unit.audit.audit_events import access_sequence, wrap

    for payload in access_sequence("lost-topic"):
        apply(wrap(payload))
    mark_published(engine, pending_rows(engine, 100))
    assert backlog(engine) == 0

    monkeypatch.setenv("VNDX_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["audit", "republish"])
    assert result.exit_code == 0, result.output
    assert backlog(engine) == 4
