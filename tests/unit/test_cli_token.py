"""`vndx token` prints only a verifiable token, and refuses production mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.common.auth import TokenVerifier
from services.common.settings import Settings
from vndx.cli import app


def test_token_is_printed_alone_and_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VNDX_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app, ["token", "--org", "so-y-te", "--role", "buyer", "--segment", "startup"]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    settings = Settings(data_dir=tmp_path)
    verifier = TokenVerifier(
        settings.public_key_path.read_bytes(), issuer="vndx", audience="vndx-api"
    )
    principal = verifier.verify(token)
    assert (principal.org, principal.role, principal.segment) == ("so-y-te", "buyer", "startup")
    assert (tmp_path / "catalog.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "x", "--role", "king"], "unknown role"),
        (["--org", "bad org!", "--role", "buyer"], "--org"),
    ],
)
def test_bad_arguments_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("VNDX_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["token", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_refused_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VNDX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VNDX_ENV", "production")
    result = CliRunner().invoke(app, ["token", "--org", "x", "--role", "operator"])
    assert result.exit_code == 2
    assert "embedded" in result.output
    assert not (tmp_path / "keys").exists()
