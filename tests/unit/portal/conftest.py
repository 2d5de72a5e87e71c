"""A portal app wired to fake APIs, with dev signing keys in a temporary directory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from services.common.auth import ensure_keypair
from services.common.settings import Settings
from services.portal.app import create_app
from services.portal.backends import Backends
from tests.unit.portal.fakes import FakeApis

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def apis() -> FakeApis:
    return FakeApis()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    values = Settings(data_dir=tmp_path, service_name="portal")
    ensure_keypair(values.key_path("jwt", "private"), values.key_path("jwt", "public"))
    return Settings(
        data_dir=tmp_path,
        service_name="portal",
        catalog_url="http://catalog.test",
        pricing_url="http://pricing.test",
        orders_url="http://orders.test",
        access_url="http://access.test",
        audit_url="http://audit.test",
        public_base_url="https://testserver",
    )


@pytest.fixture
def client(settings: Settings, apis: FakeApis) -> Iterator[TestClient]:
    app = create_app(settings)
    app.state.portal.backends = Backends.create(settings, transport=httpx.MockTransport(apis))
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, org: str, role: str) -> None:
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"org": org, "role": role, "csrf_token": token})
    assert response.status_code == 303, response.text
