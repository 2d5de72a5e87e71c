"""Session fixtures that start the real parts on free loopback ports.

Tansu (Kafka protocol), SeaweedFS (S3) and PostgreSQL start once per test
session and stop at its end; each test gets fresh databases and unique ids.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.auth import TokenIssuer, ensure_keypair
from services.common.kafka import ensure_topics
from services.common.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, Settings
from services.contracts.topics import all_topics_with_dlq
from vndx.embedded import Postgres, S3Identity, SeaweedS3, Tansu


@pytest.fixture(scope="session")
def infra_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def tansu(infra_dir: Path) -> Iterator[Tansu]:
    broker = Tansu(infra_dir / "logs" / "tansu.log")
    broker.start()
    asyncio.run(ensure_topics(broker.bootstrap_servers, all_topics_with_dlq()))
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def seaweed(infra_dir: Path) -> Iterator[SeaweedS3]:
    store = SeaweedS3(
        infra_dir / "seaweedfs",
        infra_dir / "logs" / "seaweedfs.log",
        [S3Identity("vndx", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY)],
    )
    store.start()
    yield store
    store.stop()


@pytest.fixture(scope="session")
def postgres(infra_dir: Path) -> Iterator[Postgres]:
    server = Postgres(infra_dir / "logs" / "postgres.log", durable=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keys_dir(infra_dir: Path) -> Path:
    settings = Settings(data_dir=infra_dir)
    ensure_keypair(settings.private_key_path, settings.public_key_path)
    return infra_dir


@pytest.fixture(scope="session")
def issuer(keys_dir: Path) -> TokenIssuer:
    settings = Settings(data_dir=keys_dir)
    return TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    return server.dsn(name)


def service_settings(
    service: str,
    *,
    keys_dir: Path,
    tansu: Tansu,
    seaweed: SeaweedS3,
    database_url: str,
    bucket: str | None = None,
    **extra: object,
) -> Settings:
    """Settings of a service wired to the session's real parts."""
    return Settings(  # type: ignore[arg-type]
        env="test",
        service_name=service,
        data_dir=keys_dir,
        database_url=database_url,
        kafka_bootstrap=tansu.bootstrap_servers,
        s3_endpoint=seaweed.endpoint,
        s3_bucket=bucket or f"t-{uuid.uuid4().hex[:10]}",
        outbox_poll_interval_s=0.1,
        **extra,
    )


#: Passwords of the per-service PostgreSQL logins made by the production init script.
SERVICE_DB_PASSWORDS = {
    name: uuid.uuid4().hex for name in ("catalog", "pricing", "orders", "access", "audit", "portal")
}


@pytest.fixture(scope="session")
def service_databases(postgres: Postgres) -> Postgres:
    """One database and one login per service, made by infra/postgres/init-databases.sh."""
    env = {
        **os.environ,
        "PGHOST": postgres.host,
        "PGPORT": str(postgres.port),
        "POSTGRES_USER": postgres.user,
        **{f"{name.upper()}_DB_PASSWORD": pw for name, pw in SERVICE_DB_PASSWORDS.items()},
    }
    script = Path(__file__).resolve().parents[2] / "infra/postgres/init-databases.sh"
    subprocess.run(["sh", str(script)], env=env, check=True)
    return postgres


def service_login_url(postgres: Postgres, service: str) -> str:
    """The service's own login on its own database, as production's compose sets it."""
    password = SERVICE_DB_PASSWORDS[service]
    return f"postgresql+psycopg://{service}:{password}@{postgres.host}:{postgres.port}/{service}"
