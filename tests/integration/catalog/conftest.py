"""A catalog app wired to the real parts, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.catalog.api.app import create_app
from services.common.auth import TokenIssuer
from tests.integration.conftest import service_settings
from vndx.embedded import SeaweedS3, Tansu


@pytest.fixture
def catalog(
    keys_dir: Path, tansu: Tansu, seaweed: SeaweedS3, database_url: str
) -> Iterator[TestClient]:
    settings = service_settings(
        "catalog", keys_dir=keys_dir, tansu=tansu, seaweed=seaweed, database_url=database_url
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    # Close the pool: every test has its own database, and PostgreSQL's connection slots
    # would otherwise run out over a session.
    app.state.runtime.engine.dispose()


@pytest.fixture
def auth(issuer: TokenIssuer) -> Callable[..., dict[str, str]]:
    def headers(org: str, role: str = "provider") -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(org, role)}"}  # type: ignore[arg-type]

    return headers
