"""The catalog with production-shaped settings: its own PostgreSQL login and S3 identity.

The databases and logins come from infra/postgres/init-databases.sh, run as the
compose init does; SeaweedFS stands in for MinIO with one limited identity per
service. The test broker (Tansu) has no SASL, so Kafka stays PLAINTEXT here and
that is the only production check this configuration fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from minio.error import S3Error

from services.catalog.api.app import create_app
from services.common.auth import TokenIssuer
from services.common.observability import JsonLogFormatter, trace_id_of
from tests.integration.conftest import service_login_url, service_settings
from tests.log_records import records_of
from vndx.embedded import ADMIN_ACTIONS, Postgres, S3Identity, SeaweedS3, Tansu

BUCKET = "vndx-prod-test"
CATALOG = S3Identity(
    "catalog",
    "catalog-key",
    "catalog-secret-0123456789",
    [f"Read:{BUCKET}", f"List:{BUCKET}", f"Write:{BUCKET}/raw/*"],
)
ORDERS = S3Identity("orders", "orders-key", "orders-secret-0123456789", [f"List:{BUCKET}"])
INCOMING = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    folder = tmp_path_factory.mktemp("prod-s3")
    admin = S3Identity("admin", "admin-key", "admin-secret-0123456789", ADMIN_ACTIONS)
    s3 = SeaweedS3(folder / "data", folder / "weed.log", [admin, CATALOG, ORDERS])
    s3.start()
    s3.client(admin).make_bucket(BUCKET)
    yield s3
    s3.stop()


@pytest.fixture(scope="module")
def catalog(
    keys_dir: Path, tansu: Tansu, store: SeaweedS3, service_databases: Postgres
) -> Iterator[TestClient]:
    url = service_login_url(service_databases, "catalog")
    settings = service_settings(
        "catalog",
        keys_dir=keys_dir,
        tansu=tansu,
        seaweed=store,
        database_url=url,
        bucket=BUCKET,
        s3_access_key=CATALOG.access_key,
        s3_secret_key=CATALOG.secret_key,
        log_format="json",
        jwt_public_key_path=keys_dir / "keys" / "jwt-public.pem",
    )
    assert settings.production_problems() == [
        "VNDX_KAFKA_SECURITY_PROTOCOL (SASL or SSL, not PLAINTEXT)"
    ]
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_catalog_publishes_with_its_own_login_and_identity(
    catalog: TestClient, issuer: TokenIssuer, store: SeaweedS3
) -> None:
    org = f"so-{uuid.uuid4().hex[:8]}"
    auth = {"Authorization": f"Bearer {issuer.issue(org, 'provider')}"}
    body = {
        "title_vi": "Diện tích đất",
        "title_en": "Land area",
        "theme": "land",
        "provinces": ["da-nang"],
        "columns": [
            {"name": "parcel", "type": "string", "classification": "attribute"},
            {"name": "area_m2", "type": "number", "classification": "attribute"},
        ],
    }
    created = catalog.post("/v1/listings", json=body, headers=auth)
    assert created.status_code == 201, created.text
    listing = created.json()["id"]
    upload = catalog.post(
        f"/v1/listings/{listing}/versions",
        content=b"parcel,area_m2\nA-1,120.5\nA-2,98\n",
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert upload.status_code in (200, 201), upload.text
    keys = [
        o.object_name
        for o in store.client(CATALOG).list_objects(BUCKET, prefix=f"raw/{org}/", recursive=True)
    ]
    assert len(keys) == 1
    ready = catalog.get("/readyz")
    assert ready.status_code == 200, ready.text


def test_the_wrong_identity_is_refused(store: SeaweedS3) -> None:
    with pytest.raises(S3Error):
        store.client(ORDERS).put_object(BUCKET, "raw/x/y.csv", BytesIO(b"a"), 1)
    with pytest.raises(S3Error):
        store.client(CATALOG).put_object(BUCKET, "sandbox/g/x.csv", BytesIO(b"a"), 1)


def test_a_service_login_cannot_open_another_services_database(service_databases: Postgres) -> None:
    conninfo = (
        f"host={service_databases.host} port={service_databases.port} user=catalog dbname=orders"
    )
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(conninfo, connect_timeout=5).close()


def test_metrics_and_json_logs_carry_the_request(catalog: TestClient) -> None:
    with records_of("vndx.http") as records:
        answer = catalog.get("/v1/listings", headers={"traceparent": INCOMING})
    assert answer.status_code == 200
    assert trace_id_of(answer.headers["traceparent"]) == trace_id_of(INCOMING)
    lines = [json.loads(JsonLogFormatter("catalog").format(r)) for r in records]
    assert any(
        line["trace_id"] == trace_id_of(INCOMING) and line["route"] == "/v1/listings"
        for line in lines
    )
    metrics = catalog.get("/metrics").text
    assert 'route="/v1/listings",service="catalog",status="200"' in metrics
    assert 'vndx_outbox_backlog{service="catalog"}' in metrics
