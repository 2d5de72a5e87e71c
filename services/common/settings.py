"""Settings from the environment (prefix ``VNDX_``), one model for every process.

The embedded stack and production differ only in these values. In production
mode a process refuses to start while any secret is missing or still the
development default, and names which one.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_S3_ACCESS_KEY = "vndx-dev"
DEV_S3_SECRET_KEY = "vndx-dev-secret-key"  # noqa: S105 - the embedded stack's known default
DEV_SECRET_PLACEHOLDER = "dev-only-change-me"  # noqa: S105


class InsecureProductionSettings(RuntimeError):
    """Production mode with a default or missing secret."""


class Settings(BaseSettings):
    """Everything a vndx process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="VNDX_", extra="ignore")

    env: Literal["embedded", "production", "test"] = "embedded"
    service_name: str = "vndx"
    data_dir: Path = Path(".vndx")
    public_base_url: str = "http://127.0.0.1:8101"

    host: str = "127.0.0.1"
    port: int = 8101
    catalog_url: str = "http://127.0.0.1:8101"
    pricing_url: str = "http://127.0.0.1:8102"
    orders_url: str = "http://127.0.0.1:8103"
    access_url: str = "http://127.0.0.1:8104"
    audit_url: str = "http://127.0.0.1:8105"
    portal_url: str = "http://127.0.0.1:8100"

    database_url: str | None = None

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_idempotence: bool = False
    kafka_fetch_max_wait_ms: int = 20
    consumer_max_attempts: int = 3
    outbox_poll_interval_s: float = 0.5
    max_event_bytes: int = 1_000_000

    s3_endpoint: str = "127.0.0.1:8333"
    s3_access_key: str = DEV_S3_ACCESS_KEY
    s3_secret_key: SecretStr = SecretStr(DEV_S3_SECRET_KEY)
    s3_secure: bool = False
    s3_bucket: str = "vndx-data"
    s3_region: str = "us-east-1"

    jwt_issuer: str = "vndx"
    jwt_audience: str = "vndx-api"
    jwt_public_key_path: Path | None = None
    jwt_private_key_path: Path | None = None
    token_ttl_s: int = 8 * 3600

    pseudonym_master_key: SecretStr = SecretStr(DEV_SECRET_PLACEHOLDER)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None

    max_upload_bytes: int = 5 * 1024**3
    fault_injection: str = Field(default="", description="crash points to arm; off in production")

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to one SQLite file per service."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / (self.service_name + '.db')}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def public_key_path(self) -> Path:
        """The token-verification key (JWT)."""
        return self.jwt_public_key_path or self.key_path("jwt", "public")

    @property
    def private_key_path(self) -> Path:
        """The token-signing key (embedded identity provider only)."""
        return self.jwt_private_key_path or self.key_path("jwt", "private")

    def key_path(self, name: str, part: Literal["private", "public"]) -> Path:
        """Where a named Ed25519 key pair lives (``jwt``, ``quote``, ``ledger``)."""
        override = os.environ.get(f"VNDX_{name.upper()}_{part.upper()}_KEY_PATH")
        return Path(override) if override else self.keys_dir / f"{name}-{part}.pem"

    def check_production_secrets(self) -> None:
        """Refuse production mode while a secret is missing or a known default."""
        if self.env != "production":
            return
        problems: list[str] = []
        secret = self.s3_secret_key.get_secret_value()
        if not secret or secret == DEV_S3_SECRET_KEY:
            problems.append("VNDX_S3_SECRET_KEY")
        if self.s3_access_key == DEV_S3_ACCESS_KEY:
            problems.append("VNDX_S3_ACCESS_KEY")
        if not self.jwt_public_key_path or not self.jwt_public_key_path.exists():
            problems.append("VNDX_JWT_PUBLIC_KEY_PATH")
        if self.pseudonym_master_key.get_secret_value() in ("", DEV_SECRET_PLACEHOLDER):
            problems.append("VNDX_PSEUDONYM_MASTER_KEY")
        if not self.database_url or "sqlite" in self.database_url:
            problems.append("VNDX_DATABASE_URL")
        if self.fault_injection:
            problems.append("VNDX_FAULT_INJECTION (must be empty)")
        if problems:
            raise InsecureProductionSettings(
                "production mode refuses default or missing settings: " + ", ".join(problems)
            )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (for tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
