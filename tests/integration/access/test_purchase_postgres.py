"""A whole purchase with every service on PostgreSQL, and downloads through a public host.

Twice: with a database per service, and in the production profile (issue 9): the
production init script's per-service PostgreSQL logins and a limited S3 key per service
on SeaweedFS, as compose gives them on MinIO.

The five services run as real processes (uvicorn) on the real Tansu broker and
SeaweedFS, each with its own PostgreSQL database. Buyers reach the object store
through another address than the services do (``s3_public_endpoint``): a plain
TCP relay stands in for the exchange's public front, which forwards the buyer's
request, Host header and all. Download URLs must be signed for that public host.

publish -> quote -> accept the usage policy and order (local invoice) -> settle
-> paid -> grant -> download through the public host -> revoke -> the URL is dead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from services.common.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
from tests import purchase_steps as steps
from tests.integration.conftest import service_login_url
from vndx.embedded import ADMIN_ACTIONS, Postgres, S3Identity, SeaweedS3
from vndx.stack import EmbeddedStack, StackConfig

SERVICES = ("catalog", "pricing", "orders", "access", "audit")


class TcpRelay:
    """Forwards every connection on a loopback port to ``target``, bytes unchanged."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


#: What each service's S3 key may do, as infra/minio/init.sh gives it on MinIO: only the
#: catalog writes raw/, only access writes sandbox/ (and reads raw/ to build extracts).
S3_ACTIONS = {
    "catalog": ["List:vndx-data", "Read:vndx-data/raw/*", "Write:vndx-data/raw/*"],
    "access": [
        "Admin:vndx-data",  # the bucket policy that denies closed grants' objects
        "List:vndx-data",
        "Read:vndx-data/raw/*",
        "Read:vndx-data/sandbox/*",
        "Write:vndx-data/sandbox/*",
    ],
    "audit": ["List:vndx-data", "Read:vndx-data/ledger/*", "Write:vndx-data/ledger/*"],
    "pricing": ["List:vndx-data"],
    "orders": ["List:vndx-data"],
}


class PostgresStack(EmbeddedStack):
    """The embedded stack with each service on its own database (and, in the production
    profile, its own PostgreSQL login and S3 key)."""

    def __init__(
        self,
        config: StackConfig,
        databases: dict[str, str],
        s3: SeaweedS3 | None = None,
        identities: dict[str, S3Identity] | None = None,
    ) -> None:
        super().__init__(config, s3=s3)
        self.databases = databases
        self.identities = identities or {}

    def service_env(self, service: str) -> dict[str, str]:
        env = super().service_env(service)
        if service in self.databases:
            env["VNDX_DATABASE_URL"] = self.databases[service]
        if service in self.identities:
            env["VNDX_S3_ACCESS_KEY"] = self.identities[service].access_key
            env["VNDX_S3_SECRET_KEY"] = self.identities[service].secret_key
        return env


@pytest.fixture(scope="module", params=["databases", "production-profile"])
def exchange(
    request: pytest.FixtureRequest, postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PostgresStack, TcpRelay, dict[str, str]]]:
    """``databases``: a database per service (superuser); ``production-profile``: the
    production init script's per-service logins and a limited S3 key per service."""
    folder = tmp_path_factory.mktemp("pg-purchase")
    config = StackConfig.on_free_ports(folder, services=SERVICES)
    config.extra_env.update(
        {"VNDX_OUTBOX_POLL_INTERVAL_S": "0.2", "VNDX_GRANT_BUILD_POLL_INTERVAL_S": "0.2"}
    )
    store: SeaweedS3 | None = None
    identities: dict[str, S3Identity] = {}
    if request.param == "production-profile":
        logins: Postgres = request.getfixturevalue("service_databases")
        databases = {service: service_login_url(logins, service) for service in SERVICES}
        identities = {
            service: S3Identity(service, f"{service}-key", uuid.uuid4().hex, actions)
            for service, actions in S3_ACTIONS.items()
        }
        admin = S3Identity("admin", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, ADMIN_ACTIONS)
        store = SeaweedS3(folder / "s3", folder / "s3.log", [admin, *identities.values()])
        store.start()
    else:
        databases = {}
        for service in SERVICES:
            name = f"{service}_{uuid.uuid4().hex[:8]}"
            postgres.create_database(name)
            databases[service] = postgres.dsn(name)
    stack = PostgresStack(config, databases, store, identities)
    relay: TcpRelay | None = None
    try:
        stack.start_infrastructure()
        host, port = stack.s3.endpoint.rsplit(":", 1)
        relay = TcpRelay((host, int(port)))
        config.extra_env["VNDX_S3_PUBLIC_ENDPOINT"] = f"http://localhost:{relay.port}"
        for service in SERVICES:
            stack.start_service(service)
        yield stack, relay, databases
    finally:
        stack.stop()
        if store is not None:
            store.stop()
        if relay is not None:
            relay.close()


def _grant_status(access_dsn: str, grant_id: str) -> str:
    conninfo = access_dsn.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("SELECT status FROM grants WHERE id = %s", (grant_id,)).fetchone()
    assert row is not None, "the grant is not in access's PostgreSQL database"
    return str(row[0])


def test_a_purchase_on_postgresql_downloads_through_the_public_host_until_revoked(
    exchange: tuple[PostgresStack, TcpRelay, dict[str, str]], adult_dir: Path
) -> None:
    stack, relay, databases = exchange
    as_ = steps.headers_for(stack)
    buyer_org = f"startup-{uuid.uuid4().hex[:6]}"
    provider, buyer = as_("gso", "provider"), as_(buyer_org, "buyer")
    operator, regulator = as_("vndx-ops", "operator"), as_("ubgsnn", "regulator")
    api = steps.Clients.of(stack)

    listing_id = steps.publish_adult(api.catalog, adult_dir, provider, operator)["id"]
    # Adult has sensitive columns: only a verified organisation may quote it.
    steps.verify(api.catalog, buyer_org, operator, "Công ty CP Khởi nghiệp", "startup")
    grant = steps.buy(
        api,
        listing_id,
        buyer,
        operator,
        justification="income inequality by occupation",
        segment="startup",
        grant_timeout=180,
    ).grant
    assert grant["privacy"]["k"] >= 5
    assert _grant_status(databases["access"], grant["id"]) == "issued"

    download = api.access.post(
        f"/v1/grants/{grant['id']}/download", json={"format": "csv"}, headers=buyer
    )
    assert download.status_code == 200, download.text
    url = download.json()["url"]
    assert urlsplit(url).netloc == f"localhost:{relay.port}"

    relayed_before = relay.connections
    fetched = httpx.get(url, timeout=30)
    assert fetched.status_code == 200, fetched.text[:300]
    assert relay.connections > relayed_before
    header = fetched.text.splitlines()[0]
    assert "age" in header and "salary-class" in header
    # The signature covers the public host: the same request sent to the internal
    # address (another Host header) is refused.
    internal = urlsplit(url)._replace(netloc=stack.s3.endpoint).geturl()
    assert httpx.get(internal, timeout=30).status_code == 403

    revoked = api.access.post(
        f"/v1/grants/{grant['id']}/revoke",
        json={"reason": "court order 12/2026"},
        headers=regulator,
    )
    assert revoked.status_code == 200, revoked.text
    assert _grant_status(databases["access"], grant["id"]) == "revoked"
    # The bucket policy denies the closed grant's objects, and they are deleted.
    dead = steps.until(
        "the URL to stop working",
        lambda: (r := httpx.get(url, timeout=10)).status_code != 200 and r,
        timeout=30,
    )
    assert dead.status_code == 403, dead.text[:300]
    assert b"salary-class" not in dead.content
