"""The real parts (Tansu, SeaweedFS S3, PostgreSQL) start on loopback, work, and stop cleanly."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import sqlalchemy
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from minio import Minio
from minio.error import S3Error

from vndx.embedded import (
    PortInUseError,
    Postgres,
    S3Identity,
    SeaweedS3,
    Tansu,
    create_topics,
    create_topics_sync,
)

pytestmark = pytest.mark.integration

OPERATOR = S3Identity("operator", "VNDXOPERATOR", "operator-secret-0123456789")
READER = S3Identity(
    "reader", "VNDXREADER", "reader-secret-0123456789", ["Read:shared", "List:shared"]
)


def _listening_addresses(pid: int) -> set[str]:
    """IP addresses the process listens on."""
    return {
        connection.laddr.ip
        for connection in psutil.Process(pid).net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }


def _process_gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def tansu(logs: Path) -> Iterator[Tansu]:
    with Tansu(logs / "tansu.log") as broker:
        yield broker


@pytest.fixture(scope="module")
def seaweed(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    data_dir = tmp_path_factory.mktemp("seaweed")
    with SeaweedS3(data_dir, logs / "seaweed.log", [OPERATOR, READER]) as store:
        yield store


@pytest.fixture(scope="module")
def postgres(logs: Path) -> Iterator[Postgres]:
    with Postgres(logs / "postgres.log", durable=False) as server:
        yield server


def _bucket() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


# --- Tansu -----------------------------------------------------------------


async def test_tansu_round_trips_a_record_on_topics_it_created(tansu: Tansu) -> None:
    await create_topics(tansu.bootstrap_servers, ["orders.orders", "access.grants"], partitions=3)
    await create_topics(tansu.bootstrap_servers, ["orders.orders"])  # exists already: fine

    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        sent = await producer.send_and_wait("orders.orders", b'{"paid": true}', key=b"order-1")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=tansu.bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
    )
    await consumer.start()
    try:
        assert consumer.partitions_for_topic("orders.orders") == {0, 1, 2}
        partition = TopicPartition("orders.orders", sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        batch = await consumer.getmany(partition, timeout_ms=5000)
    finally:
        await consumer.stop()
    [record] = batch[partition]
    assert (record.key, record.value) == (b"order-1", b'{"paid": true}')


async def test_topics_can_be_created_by_blocking_code_inside_a_running_loop(tansu: Tansu) -> None:
    create_topics_sync(tansu.bootstrap_servers, ["catalog.listings"], partitions=2)
    create_topics_sync(tansu.bootstrap_servers, ["catalog.listings"], partitions=2)

    # A producer, not a consumer: aiokafka 0.14's consumer raises CancelledError when
    # stopped right after start() without an assignment.
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        assert await producer.partitions_for("catalog.listings") == {0, 1}
    finally:
        await producer.stop()


def test_tansu_listens_on_loopback_only(tansu: Tansu) -> None:
    assert tansu.pid is not None
    assert _listening_addresses(tansu.pid) == {"127.0.0.1"}
    assert tansu.bootstrap_servers == f"127.0.0.1:{tansu.port}"


def test_a_second_broker_on_a_taken_port_is_refused(tansu: Tansu, logs: Path) -> None:
    with pytest.raises(PortInUseError, match=str(tansu.port)):
        Tansu(logs / "second-tansu.log", port=tansu.port).start()


def test_tansu_leaves_no_process_behind(logs: Path) -> None:
    with Tansu(logs / "short-tansu.log") as broker:
        pid = broker.pid
        assert pid is not None
    assert _process_gone(pid)


# --- SeaweedFS S3 ------------------------------------------------------------


def test_an_object_put_can_be_read_back(seaweed: SeaweedS3) -> None:
    client = seaweed.client(OPERATOR)
    bucket = _bucket()
    client.make_bucket(bucket)
    client.put_object(bucket, "raw/listing.csv", io.BytesIO(b"a,b\n1,2\n"), length=8)
    assert client.get_object(bucket, "raw/listing.csv").read() == b"a,b\n1,2\n"


def test_a_wrong_secret_or_unknown_key_is_refused(seaweed: SeaweedS3) -> None:
    wrong_secret = Minio(seaweed.endpoint, OPERATOR.access_key, "not-the-secret", secure=False)
    with pytest.raises(S3Error) as refused:
        wrong_secret.list_buckets()
    assert refused.value.code == "SignatureDoesNotMatch"

    unknown = Minio(seaweed.endpoint, "NOBODY", "whatever-secret", secure=False)
    with pytest.raises(S3Error) as refused:
        unknown.list_buckets()
    assert refused.value.code == "InvalidAccessKeyId"


def test_anonymous_requests_are_refused(seaweed: SeaweedS3) -> None:
    assert httpx.get(f"{seaweed.url}/").status_code == 403


def test_a_limited_identity_may_read_but_not_write(seaweed: SeaweedS3) -> None:
    operator = seaweed.client(OPERATOR)
    if not operator.bucket_exists("shared"):
        operator.make_bucket("shared")
    operator.put_object("shared", "notice.txt", io.BytesIO(b"hi"), length=2)

    reader = seaweed.client(READER)
    assert reader.get_object("shared", "notice.txt").read() == b"hi"
    with pytest.raises(S3Error) as refused:
        reader.put_object("shared", "graffiti.txt", io.BytesIO(b"x"), length=1)
    assert refused.value.code == "AccessDenied"
    with pytest.raises(S3Error):
        reader.make_bucket(_bucket())


def test_a_presigned_url_works_until_the_object_is_deleted(seaweed: SeaweedS3) -> None:
    client = seaweed.client(OPERATOR)
    bucket = _bucket()
    client.make_bucket(bucket)
    client.put_object(bucket, "sandbox/g1/extract.parquet", io.BytesIO(b"PAR1"), length=4)
    url = client.presigned_get_object(
        bucket, "sandbox/g1/extract.parquet", expires=timedelta(minutes=5)
    )

    response = httpx.get(url)
    assert (response.status_code, response.content) == (200, b"PAR1")

    client.remove_object(bucket, "sandbox/g1/extract.parquet")
    assert httpx.get(url).status_code in (403, 404)


def test_seaweed_listens_on_loopback_only(seaweed: SeaweedS3) -> None:
    assert seaweed.pid is not None
    assert _listening_addresses(seaweed.pid) == {"127.0.0.1"}


def test_objects_survive_a_restart_on_the_same_data_dir(seaweed: SeaweedS3) -> None:
    bucket = _bucket()
    client = seaweed.client(OPERATOR)
    client.make_bucket(bucket)
    client.put_object(bucket, "kept.txt", io.BytesIO(b"still here"), length=10)
    old_pid = seaweed.pid
    assert old_pid is not None

    seaweed.stop()
    assert _process_gone(old_pid)
    seaweed.start()

    client = seaweed.client(OPERATOR)
    assert client.get_object(bucket, "kept.txt").read() == b"still here"
    assert bucket in {found.name for found in client.list_buckets()}


# --- PostgreSQL --------------------------------------------------------------


def test_databases_are_created_idempotently_and_reachable_by_dsn(postgres: Postgres) -> None:
    postgres.create_database("orders")
    postgres.create_database("orders")

    engine = sqlalchemy.create_engine(postgres.dsn("orders"))
    try:
        with engine.connect() as connection:
            name = connection.execute(sqlalchemy.text("SELECT current_database()")).scalar()
    finally:
        engine.dispose()
    assert name == "orders"
    assert (
        postgres.dsn("orders") == f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/orders"
    )


def test_a_dropped_database_is_gone(postgres: Postgres) -> None:
    postgres.create_database("scratch")
    with psycopg.connect(postgres.conninfo("scratch")):
        pass
    postgres.drop_database("scratch")
    postgres.drop_database("scratch")
    assert not postgres.database_exists("scratch")
    with pytest.raises(psycopg.OperationalError, match="scratch"):
        psycopg.connect(postgres.conninfo("scratch"))


def test_postgres_listens_on_loopback_and_a_socket_in_its_data_dir(postgres: Postgres) -> None:
    assert postgres.pid is not None
    assert _listening_addresses(postgres.pid) == {"127.0.0.1"}
    assert (postgres.data_dir / f".s.PGSQL.{postgres.port}").is_socket()


def test_postgres_keeps_data_across_restarts_and_leaves_no_process(logs: Path) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="vndx-pg-test-"))
    try:
        server = Postgres(logs / "persistent-postgres.log", data_dir=data_dir, durable=False)
        with server:
            with psycopg.connect(server.conninfo(), autocommit=True) as connection:
                connection.execute("CREATE TABLE kept (n int)")
                connection.execute("INSERT INTO kept VALUES (42)")
            first_pid = server.pid
            assert first_pid is not None
            backends = psutil.Process(first_pid).children(recursive=True)
        assert _process_gone(first_pid)
        assert all(_process_gone(backend.pid) for backend in backends)

        with server, psycopg.connect(server.conninfo()) as connection:
            assert connection.execute("SELECT n FROM kept").fetchone() == (42,)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres user")
def test_a_data_dir_the_postgres_user_cannot_reach_is_refused_clearly(logs: Path) -> None:
    with tempfile.TemporaryDirectory() as private:  # 0700, owned by root
        server = Postgres(logs / "unreachable.log", data_dir=Path(private) / "pg")
        with pytest.raises(PermissionError, match="cannot reach"):
            server.start()
