"""How each part is configured: command lines, S3 identities, connection strings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vndx.embedded.postgres import libpq_conninfo, postgres_argv, sqlalchemy_dsn
from vndx.embedded.seaweed import (
    ADMIN_ACTIONS,
    S3Identity,
    SeaweedPorts,
    s3_config,
    weed_binary,
    weed_mini_argv,
)
from vndx.embedded.tansu import tansu_argv


def test_tansu_listens_and_advertises_loopback_with_memory_storage() -> None:
    argv = tansu_argv("/bin/tansu", 19092)
    assert argv[:2] == ["/bin/tansu", "broker"]
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    assert options["--listener-url"] == "tcp://127.0.0.1:19092"
    assert options["--advertised-listener-url"] == "tcp://127.0.0.1:19092"
    assert options["--storage-engine"] == "memory://tansu/"


def test_s3_config_lists_every_identity_with_its_actions() -> None:
    config = s3_config(
        [
            S3Identity("operator", "AK1", "SK1"),
            S3Identity("access", "AK2", "SK2", ["Read:extracts", "Write:extracts"]),
        ]
    )
    assert config == {
        "identities": [
            {
                "name": "operator",
                "credentials": [{"accessKey": "AK1", "secretKey": "SK1"}],
                "actions": list(ADMIN_ACTIONS),
            },
            {
                "name": "access",
                "credentials": [{"accessKey": "AK2", "secretKey": "SK2"}],
                "actions": ["Read:extracts", "Write:extracts"],
            },
        ]
    }


def test_s3_config_refuses_no_identity_and_duplicate_keys() -> None:
    with pytest.raises(ValueError, match="at least one"):
        s3_config([])
    with pytest.raises(ValueError, match="unique"):
        s3_config([S3Identity("a", "AK", "x"), S3Identity("b", "AK", "y")])


def test_an_identity_does_not_show_its_secret() -> None:
    assert "hunter2" not in repr(S3Identity("a", "AK", "hunter2"))


def test_weed_binds_every_port_it_is_given_to_loopback() -> None:
    ports = SeaweedPorts(
        s3=1001,
        s3_grpc=1002,
        master=1003,
        master_grpc=1004,
        volume=1005,
        volume_grpc=1006,
        filer=1007,
        filer_grpc=1008,
        admin=1009,
    )
    argv = weed_mini_argv(
        "/bin/weed",
        data_dir=Path("/data/s3"),
        runtime_dir=Path("/run/weed"),
        config_file=Path("/run/weed/s3.json"),
        ports=ports,
        volume_size_limit_mb=64,
        max_volumes=0,
    )
    options = dict(arg.removeprefix("-").split("=", 1) for arg in argv[4:])
    assert argv[3] == "mini"
    assert options["ip"] == options["ip.bind"] == "127.0.0.1"
    port_values = {int(value) for name, value in options.items() if re.search(r"port", name)}
    assert port_values == set(ports.all()) | {0}  # 0: Iceberg and Lance are off
    assert options["admin.port.grpc"] == "11009"
    assert options["master.dir"] == "/data/s3/master"
    assert options["s3.config"] == "/run/weed/s3.json"
    assert options["master.telemetry"] == "false"
    assert options["master.volumeSizeLimitMB"] == "64"


def test_chosen_weed_ports_are_distinct() -> None:
    ports = SeaweedPorts.choose()
    assert len(set(ports.all())) == len(ports.all())
    assert ports.admin_grpc == ports.admin + 10_000


def test_weed_comes_with_the_environment() -> None:
    assert Path(weed_binary()).name == "weed"


def test_postgres_listens_on_loopback_with_its_socket_in_the_data_dir() -> None:
    argv = postgres_argv(
        Path("/usr/lib/postgresql/15/bin"), Path("/d"), 5433, socket_dir="/d", durable=True
    )
    assert argv[:5] == ["/usr/lib/postgresql/15/bin/postgres", "-D", "/d", "-p", "5433"]
    assert "listen_addresses=127.0.0.1" in argv
    assert "unix_socket_directories=/d" in argv
    assert "fsync=off" not in argv
    throwaway = postgres_argv(Path("/b"), Path("/d"), 5433, socket_dir="", durable=False)
    assert "fsync=off" in throwaway


def test_connection_strings() -> None:
    assert sqlalchemy_dsn(5433, "orders") == "postgresql+psycopg://postgres@127.0.0.1:5433/orders"
    assert libpq_conninfo(5433, "orders").startswith(
        "host=127.0.0.1 port=5433 user=postgres dbname=orders"
    )
