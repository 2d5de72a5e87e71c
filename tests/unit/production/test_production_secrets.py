"""Production mode refuses each missing or default secret and names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.common.settings import (
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    DEV_SECRET_PLACEHOLDER,
    InsecureProductionSettings,
    Settings,
)

STRONG = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name in ("jwt_public", "quote_private", "quote_public", "ledger_private"):
        path = tmp_path / f"{name}.pem"
        path.write_text("-----BEGIN KEY-----\n")
        paths[name] = path
    return paths


def production(keys: dict[str, Path], service: str = "all", **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "production",
        "service_name": service,
        "database_url": f"postgresql+psycopg://{service}:{STRONG}@postgres:5432/{service}",
        "s3_access_key": "vndx-catalog-7f3a",
        "s3_secret_key": SecretStr(STRONG),
        "jwt_public_key_path": keys["jwt_public"],
        "quote_private_key_path": keys["quote_private"],
        "quote_public_key_path": keys["quote_public"],
        "ledger_private_key_path": keys["ledger_private"],
        "pseudonym_master_key": SecretStr(STRONG),
        "payment_provider": "stripe",
        "stripe_secret_key": SecretStr("sk_live_" + STRONG),
        "stripe_webhook_secret": SecretStr("whsec_" + STRONG),
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_username": service,
        "kafka_sasl_password": SecretStr(STRONG),
    }
    values.update(changes)
    return Settings(**values)


def test_a_complete_production_configuration_starts(keys: dict[str, Path]) -> None:
    production(keys).check_production_secrets()


CASES: list[tuple[str, dict[str, Any]]] = [
    ("VNDX_S3_ACCESS_KEY", {"s3_access_key": DEV_S3_ACCESS_KEY}),
    ("VNDX_S3_ACCESS_KEY", {"s3_access_key": ""}),
    ("VNDX_S3_SECRET_KEY", {"s3_secret_key": SecretStr(DEV_S3_SECRET_KEY)}),
    ("VNDX_S3_SECRET_KEY", {"s3_secret_key": SecretStr("minioadmin")}),
    ("VNDX_JWT_PUBLIC_KEY_PATH", {"jwt_public_key_path": None}),
    ("VNDX_JWT_PUBLIC_KEY_PATH", {"jwt_public_key_path": Path("/nonexistent/jwt.pem")}),
    ("VNDX_QUOTE_PRIVATE_KEY_PATH", {"quote_private_key_path": None}),
    ("VNDX_QUOTE_PUBLIC_KEY_PATH", {"quote_public_key_path": None}),
    ("VNDX_LEDGER_PRIVATE_KEY_PATH", {"ledger_private_key_path": Path("/nonexistent")}),
    ("VNDX_PSEUDONYM_MASTER_KEY", {"pseudonym_master_key": SecretStr(DEV_SECRET_PLACEHOLDER)}),
    ("VNDX_PSEUDONYM_MASTER_KEY", {"pseudonym_master_key": SecretStr("short")}),
    ("VNDX_STRIPE_SECRET_KEY", {"stripe_secret_key": None}),
    ("VNDX_STRIPE_WEBHOOK_SECRET", {"stripe_webhook_secret": SecretStr("")}),
    ("VNDX_DATABASE_URL", {"database_url": None}),
    ("VNDX_DATABASE_URL", {"database_url": "sqlite:///service.db"}),
    ("VNDX_DATABASE_URL (password)", {"database_url": "postgresql+psycopg://a@db/a"}),
    ("VNDX_DATABASE_URL (password)", {"database_url": "postgresql://a:postgres@db/a"}),
    ("VNDX_KAFKA_SECURITY_PROTOCOL", {"kafka_security_protocol": "PLAINTEXT"}),
    ("VNDX_KAFKA_SASL_USERNAME", {"kafka_sasl_username": None}),
    ("VNDX_KAFKA_SASL_PASSWORD", {"kafka_sasl_password": None}),
    ("VNDX_KAFKA_SASL_PASSWORD", {"kafka_sasl_password": SecretStr("change-me")}),
    ("VNDX_FAULT_INJECTION", {"fault_injection": "outbox_after_commit"}),
]


@pytest.mark.parametrize(
    ("variable", "change"), CASES, ids=[f"{v}-{i}" for i, (v, _) in enumerate(CASES)]
)
def test_each_missing_or_default_secret_is_refused_by_name(
    keys: dict[str, Path], variable: str, change: dict[str, Any]
) -> None:
    settings = production(keys, **change)
    with pytest.raises(
        InsecureProductionSettings, match=variable.replace("(", r"\(").replace(")", r"\)")
    ):
        settings.check_production_secrets()
    assert len(settings.production_problems()) == 1


def test_stripe_keys_are_needed_only_when_stripe_takes_the_payments(keys: dict[str, Path]) -> None:
    local = production(keys, payment_provider="local", stripe_secret_key=None)
    assert local.production_problems() == []


@pytest.mark.parametrize(
    ("service", "needless"),
    [
        ("catalog", {"quote_private_key_path": None, "pseudonym_master_key": SecretStr("")}),
        ("pricing", {"ledger_private_key_path": None, "stripe_secret_key": None}),
        ("audit", {"quote_private_key_path": None, "pseudonym_master_key": SecretStr("")}),
    ],
)
def test_a_service_is_not_asked_for_another_services_secrets(
    keys: dict[str, Path], service: str, needless: dict[str, Any]
) -> None:
    assert production(keys, service=service, **needless).production_problems() == []


@pytest.mark.parametrize(
    ("service", "variable", "change"),
    [
        ("pricing", "VNDX_QUOTE_PRIVATE_KEY_PATH", {"quote_private_key_path": None}),
        ("orders", "VNDX_QUOTE_PUBLIC_KEY_PATH", {"quote_public_key_path": None}),
        ("orders", "VNDX_STRIPE_SECRET_KEY", {"stripe_secret_key": None}),
        ("access", "VNDX_PSEUDONYM_MASTER_KEY", {"pseudonym_master_key": SecretStr("")}),
        ("audit", "VNDX_LEDGER_PRIVATE_KEY_PATH", {"ledger_private_key_path": None}),
    ],
)
def test_each_service_is_refused_without_its_own_secret(
    keys: dict[str, Path], service: str, variable: str, change: dict[str, Any]
) -> None:
    problems = production(keys, service=service, **change).production_problems()
    assert [p.split(" ")[0] for p in problems] == [variable]


def test_every_problem_is_named_at_once(keys: dict[str, Path]) -> None:
    settings = production(
        keys, s3_access_key=DEV_S3_ACCESS_KEY, database_url=None, jwt_public_key_path=None
    )
    with pytest.raises(InsecureProductionSettings) as refused:
        settings.check_production_secrets()
    for name in ("VNDX_S3_ACCESS_KEY", "VNDX_DATABASE_URL", "VNDX_JWT_PUBLIC_KEY_PATH"):
        assert name in str(refused.value)


def test_embedded_mode_keeps_its_development_defaults() -> None:
    Settings(env="embedded").check_production_secrets()
