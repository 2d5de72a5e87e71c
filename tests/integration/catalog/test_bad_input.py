"""Every refusal names what is wrong and leaves nothing behind: no row, no object, no event."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.catalog.adapters.orm import ListingRow
from services.common.objectstore import ObjectStore
from services.common.outbox import OutboxRow

Auth = Callable[..., dict[str, str]]

GOOD_CSV = b"name,age,region,income\nAn,30,ha-noi,100\nBinh,41,hue,200\n"


def listing_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title_vi": "Thu nhập hộ gia đình",
        "title_en": "Household income",
        "theme": "population",
        "provinces": ["ha-noi"],
        "columns": [
            {"name": "name", "type": "string", "classification": "direct_identifier"},
            {"name": "age", "type": "integer", "classification": "quasi_identifier"},
            {"name": "region", "type": "string", "classification": "quasi_identifier"},
            {"name": "income", "type": "integer", "classification": "sensitive"},
        ],
    }
    body.update(overrides)
    return body


def _state(catalog: TestClient, org: str) -> tuple[int, int, int]:
    engine = catalog.app.state.runtime.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        listings = len(session.exec(select(ListingRow).where(ListingRow.org == org)).all())
        outbox = len(session.exec(select(OutboxRow)).all())
    store = ObjectStore.from_settings(catalog.app.state.settings)  # type: ignore[attr-defined]
    return listings, outbox, len(store.list_keys(f"raw/{org}/"))


def _draft(catalog: TestClient, auth: Auth, org: str) -> str:
    created = catalog.post("/v1/listings", json=listing_body(), headers=auth(org))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"theme": "astrology"}, "theme"),
        ({"provinces": ["atlantis"]}, "provinces"),
        ({"title_vi": "x" * 201}, "title_vi"),
        ({"keywords": ["k"] * 31}, "keywords"),
        ({"description_en": "d" * 10_001}, "description_en"),
        ({"list_price": -5}, "list_price"),
        ({"products": ["download", "download"]}, "products"),
        ({"columns": []}, "columns"),
        (
            {"columns": [{"name": "a", "type": "string"}]},
            "columns.0.classification",
        ),
        (
            {
                "columns": [
                    {"name": "a", "type": "string", "classification": "attribute"},
                    {"name": "A", "type": "string", "classification": "attribute"},
                ]
            },
            "columns",
        ),
        (
            {"columns": [{"name": "a", "type": "string", "classification": "secretish"}]},
            "columns.0.classification",
        ),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_metadata_is_refused_naming_the_field(
    catalog: TestClient, auth: Auth, overrides: dict[str, Any], field: str
) -> None:
    org = f"org-{uuid.uuid4().hex[:6]}"
    response = catalog.post("/v1/listings", json=listing_body(**overrides), headers=auth(org))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert _state(catalog, org) == (0, 0, 0)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (b"", "empty", None),
        (b"name,age,region\nAn,30,ha-noi\n", "income", 1),
        (b"name,age,region,income,extra\nAn,30,ha-noi,1,x\n", "extra", 1),
        (b"name,age,age,income\nAn,30,31,1\n", "twice", 1),
        (b"name,age,region,income\n", "no data rows", 2),
        (b"name,age,region,income\nAn,30,ha-noi,100\nBinh,41\n", "fields", 3),
        (b"name,age,region,income\nAn,30,h\xe0-noi,100\n", "UTF-8", 2),
        (b"PAR1 this is not parquet at all", "Parquet", None),
        (_parquet(pa.table({"name": ["a"], "age": [1]})), "missing", 1),
    ],
)
def test_bad_file_is_refused_naming_the_line(
    catalog: TestClient, auth: Auth, content: bytes, message: str, line: int | None
) -> None:
    org = f"org-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, org)
    before = _state(catalog, org)
    response = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=content,
        headers={**auth(org), "Content-Type": "text/csv"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert message.lower() in error["message"].lower(), error
    assert error.get("line") == line, error
    assert _state(catalog, org) == before
    assert catalog.get(f"/v1/listings/{listing_id}", headers=auth(org)).json()["versions"] == []


def test_good_parquet_is_accepted(catalog: TestClient, auth: Auth) -> None:
    org = f"org-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, org)
    table = pa.table(
        {"name": ["a", "b", None], "age": [1, 2, 3], "region": ["x", "y", "z"], "income": [5, 6, 7]}
    )
    response = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=_parquet(table),
        headers={**auth(org), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert response.status_code == 201, response.text
    version = response.json()["versions"][0]
    assert version["format"] == "parquet" and version["row_count"] == 3
    name = next(c for c in version["columns"] if c["name"] == "name")
    assert name["null_ratio"] == pytest.approx(1 / 3, abs=1e-3)


def test_multipart_upload_is_accepted(catalog: TestClient, auth: Auth) -> None:
    org = f"org-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, org)
    response = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        files={"file": ("data.csv", GOOD_CSV, "text/csv")},
        headers=auth(org),
    )
    assert response.status_code == 201, response.text
    assert response.json()["row_count"] == 2


def test_other_organisation_gets_404_everywhere(catalog: TestClient, auth: Auth) -> None:
    owner = f"org-{uuid.uuid4().hex[:6]}"
    intruder = f"org-{uuid.uuid4().hex[:6]}"
    listing_id = _draft(catalog, auth, owner)
    before = _state(catalog, owner)
    calls = [
        ("GET", f"/v1/listings/{listing_id}", None),
        ("PUT", f"/v1/listings/{listing_id}", listing_body()),
        ("POST", f"/v1/listings/{listing_id}/publish", None),
        ("POST", f"/v1/listings/{listing_id}/retire", None),
    ]
    for method, path, body in calls:
        response = catalog.request(method, path, json=body, headers=auth(intruder))
        assert response.status_code == 404, (method, path, response.text)
    upload = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=GOOD_CSV,
        headers={**auth(intruder), "Content-Type": "text/csv"},
    )
    assert upload.status_code == 404
    assert catalog.get(f"/v1/listings/{listing_id}").status_code == 404  # drafts are private
    assert _state(catalog, owner) == before


@pytest.mark.parametrize("role", ["buyer", "regulator"])
def test_readers_may_not_write(catalog: TestClient, auth: Auth, role: str) -> None:
    org = f"org-{uuid.uuid4().hex[:6]}"
    response = catalog.post("/v1/listings", json=listing_body(), headers=auth(org, role))
    assert response.status_code == 403
    assert role in response.json()["error"]["message"]
    assert _state(catalog, org) == (0, 0, 0)


def _token(key: Any, **claims: Any) -> str:
    now = datetime.now(UTC)
    base = {
        "iss": "vndx",
        "aud": "vndx-api",
        "sub": "x",
        "org": "org-x",
        "role": "provider",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
    }
    base.update(claims)
    return jwt.encode(base, key, algorithm="EdDSA")


def test_bad_tokens_get_401(catalog: TestClient) -> None:
    stranger = Ed25519PrivateKey.generate()
    settings = catalog.app.state.settings  # type: ignore[attr-defined]
    from cryptography.hazmat.primitives import serialization

    ours = serialization.load_pem_private_key(settings.private_key_path.read_bytes(), None)
    past = datetime.now(UTC) - timedelta(hours=2)
    tokens = {
        "missing": None,
        "garbage": "not-a-token",
        "wrong key": _token(stranger),
        "expired": _token(ours, iat=past, nbf=past, exp=past + timedelta(minutes=5)),
        "wrong audience": _token(ours, aud="someone-else"),
        "wrong issuer": _token(ours, iss="evil"),
        "unknown role": _token(ours, role="king"),
        "alg none": jwt.encode({"org": "x", "role": "provider"}, None, algorithm="none"),
    }
    for name, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = catalog.post("/v1/listings", json=listing_body(), headers=headers)
        assert response.status_code == 401, name
        assert response.json()["error"]["code"] == "unauthorized"
