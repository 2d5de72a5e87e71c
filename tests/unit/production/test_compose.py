"""docker-compose.yml against the Compose Specification and the stack's own rules.

`compose_spec.json` is the Compose Specification's JSON schema as shipped in the
`docker-compose` 1.29.2 wheel on PyPI (compose/config/compose_spec.json,
Apache-2.0). It is the 2021 schema, so the file keeps to what it knows (no
top-level `name`, no `depends_on.required`); later schemas accept all of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema_rs
import pytest

from services.common.keep_alive import SERVER_IDLE_S
from services.common.settings import Settings
from tests.unit.production.compose import (
    APP_PORTS,
    COMPOSE_FILE,
    INFRA,
    INTERPOLATION,
    ONE_SHOTS,
    PRODUCTION_DOC,
    PUBLISHABLE,
    compose,
    env_example,
    environment,
    interpolate,
    services,
)

SCHEMA = Path(__file__).with_name("compose_spec.json")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEY$|MASTER_KEY|TOKEN)")
LONG_RUNNING = sorted(set(services()) - ONE_SHOTS)


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    validator = jsonschema_rs.Draft201909Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_the_schema_check_catches_a_misspelt_key() -> None:
    validator = jsonschema_rs.Draft201909Validator(json.loads(SCHEMA.read_text()))
    broken = {"services": {"catalog": {"image": "vndx:0.1.0", "helthcheck": {}}}}
    assert not validator.is_valid(broken)


def test_every_part_of_the_stack_is_there() -> None:
    assert set(services()) >= {*APP_PORTS, *ONE_SHOTS, *INFRA}


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_each_long_running_service_has_a_healthcheck_and_restarts(name: str) -> None:
    service = services()[name]
    assert service.get("restart") == "unless-stopped"
    test = service["healthcheck"]["test"]
    assert test and test[0] in ("CMD", "CMD-SHELL")


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_app_healthchecks_use_python_not_curl(name: str) -> None:
    test = " ".join(services()[name]["healthcheck"]["test"])
    assert "urllib.request" in test and "curl" not in test
    assert f"127.0.0.1:{APP_PORTS[name]}/" in test


@pytest.mark.parametrize("name", sorted(APP_PORTS))
def test_apps_keep_idle_connections_as_long_as_the_embedded_stack(name: str) -> None:
    command = services()[name]["command"]
    assert command[command.index("--timeout-keep-alive") + 1] == str(SERVER_IDLE_S)


@pytest.mark.parametrize("name", sorted(ONE_SHOTS))
def test_one_shots_run_once_and_are_awaited(name: str) -> None:
    assert services()[name].get("restart") == "no"
    waiting = [
        other
        for other, service in services().items()
        if service.get("depends_on", {}).get(name, {}).get("condition")
        == "service_completed_successfully"
    ]
    assert waiting, f"nothing waits for {name} to complete"


def test_every_dependency_waits_for_health_or_completion() -> None:
    for name, service in services().items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        for other, rule in depends.items():
            expected = "service_completed_successfully" if other in ONE_SHOTS else "service_healthy"
            assert rule["condition"] == expected, f"{name} -> {other}"


def test_only_documented_parts_publish_ports_and_only_on_loopback_by_default() -> None:
    doc = PRODUCTION_DOC.read_text(encoding="utf-8")
    for name, service in services().items():
        ports = service.get("ports", [])
        if name not in PUBLISHABLE:
            assert ports == [], f"{name} must not be published"
            continue
        for port in ports:
            host = interpolate(str(port), {}).rsplit(":", 1)[0]
            assert host.startswith("127.0.0.1:"), f"{name} publishes {host} by default"
            assert host.split(":")[1] in doc, f"{name}'s port is not in docs/production.md"


def test_stateful_parts_keep_their_data_in_named_volumes() -> None:
    declared = set(compose()["volumes"])
    for name, path in {
        "postgres": "/var/lib/postgresql/data",
        "kafka": "/var/lib/kafka/data",
        "minio": "/data",
    }.items():
        mounts = [str(v) for v in services()[name]["volumes"]]
        named = [m.split(":")[0] for m in mounts if m.split(":")[1] == path]
        assert named and named[0] in declared, f"{name} keeps {path} outside a named volume"


def test_images_are_pinned() -> None:
    for name, service in services().items():
        image = interpolate(service["image"], {})
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def _secret_values() -> list[tuple[str, str, str]]:
    return [
        (name, key, value)
        for name in services()
        for key, value in environment(name).items()
        if SECRET_NAME.search(key) and not key.endswith("_PATH")
    ]


@pytest.mark.parametrize(("service", "key", "value"), _secret_values())
def test_no_secret_is_written_inline(service: str, key: str, value: str) -> None:
    assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]*\}", value), f"{service}.{key} = {value!r}"


@pytest.mark.parametrize("service", sorted(set(APP_PORTS) | {"init"}))
def test_database_passwords_come_from_the_environment(service: str) -> None:
    url = environment(service).get("VNDX_DATABASE_URL", "")
    if url:
        assert re.search(r":\$\{[A-Z]+_DB_PASSWORD:\?\}@", url), url


def test_every_interpolated_variable_is_in_env_example() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    names = {m.group(1) for m in INTERPOLATION.finditer(text)}
    missing = names - set(env_example())
    assert missing == set()


def _vndx_variables() -> set[str]:
    names = {key for name in services() for key in environment(name) if key.startswith("VNDX_")}
    names |= {key for key in env_example() if key.startswith("VNDX_")}
    return names


def test_every_vndx_variable_is_a_setting() -> None:
    fields = {f"VNDX_{name.upper()}" for name in Settings.model_fields}
    unknown = {name for name in _vndx_variables() if name not in fields}
    assert unknown == set()


def _strong_values() -> dict[str, str]:
    values = {
        name: value or f"{name.lower()}-0123456789abcdef0123456789abcdef"
        for name, value in env_example().items()
    }
    values["STRIPE_SECRET_KEY"] = "sk_live_0123456789abcdef"
    return values


@pytest.mark.parametrize("service", sorted(set(APP_PORTS)))
def test_each_service_gets_every_setting_production_requires(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("jwt-public", "quote-private", "quote-public", "ledger-private"):
        (tmp_path / f"{key}.pem").write_text("-----BEGIN PUBLIC KEY-----\n")
    env = {
        key: interpolate(value, _strong_values()).replace("/run/secrets/", f"{tmp_path}/")
        for key, value in environment(service).items()
    }
    for name in list(env):
        assert name.startswith("VNDX_")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.service_name == service
    assert settings.kafka_idempotence is True
    assert settings.kafka_bootstrap and settings.database_url
    assert settings.production_problems() == []


def test_each_service_has_its_own_logins() -> None:
    for key in ("VNDX_KAFKA_SASL_USERNAME", "VNDX_S3_ACCESS_KEY", "VNDX_DATABASE_URL"):
        values = [environment(name)[key] for name in APP_PORTS]
        assert len(set(values)) == len(values), f"{key} is shared between services"


def test_the_ledger_topic_is_kept_forever_and_acls_follow_ownership() -> None:
    script = (COMPOSE_FILE.parent / "infra" / "kafka" / "init.sh").read_text()
    assert re.search(r"topic audit\.ledger .*retention\.ms=-1", script)
    writes = dict(
        (line.split()[1], set(line.split()[2:]))
        for line in script.splitlines()
        if line.startswith("writes ")
    )
    assert writes == {
        "catalog": {"catalog.listings", "catalog.organisations"},
        "pricing": {"pricing.policies", "pricing.quotes"},
        "orders": {"orders.orders"},
        "access": {"access.grants"},
        "audit": {"audit.ledger"},
    }
    regulator = [line for line in script.splitlines() if "User:regulator" in line]
    following = script.split("User:regulator")[1:]
    assert len(regulator) == 2
    assert "--topic audit.ledger" in following[0] and "Write" not in "".join(following)
