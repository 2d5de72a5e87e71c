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

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEV_S3_ACCESS_KEY = "vndx-dev"
DEV_S3_SECRET_KEY = "vndx-dev-secret-key"  # noqa: S105 - the embedded stack's known default
DEV_SECRET_PLACEHOLDER = "dev-only-change-me"  # noqa: S105
#: Values that are never a secret, whatever the variable (checked in production mode).
WEAK_SECRETS = frozenset(
    {
        "change-me",
        "changeme",
        "password",
        "secret",
        "minioadmin",
        "postgres",
        DEV_SECRET_PLACEHOLDER,
    }
)
#: What each service needs besides the common secrets; an unknown name needs them all.
SERVICE_SECRETS: dict[str, frozenset[str]] = {
    "catalog": frozenset(),
    "portal": frozenset(),
    "pricing": frozenset({"quote_private"}),
    "orders": frozenset({"quote_public", "payments"}),
    "access": frozenset({"pseudonym"}),
    "audit": frozenset({"ledger_private"}),
}
ALL_SERVICE_SECRETS = frozenset().union(*SERVICE_SECRETS.values())


#: Kafka's own default: it answers a fetch as soon as a record arrives.
PRODUCTION_FETCH_MAX_WAIT_MS = 500
#: aiokafka's default, above Kafka's smallest allowed session (6 s).
PRODUCTION_SESSION_TIMEOUT_MS = 10_000
_PRODUCTION_KAFKA_DEFAULTS = {
    "kafka_fetch_max_wait_ms": PRODUCTION_FETCH_MAX_WAIT_MS,
    "kafka_background_fetch_max_wait_ms": PRODUCTION_FETCH_MAX_WAIT_MS,
    "kafka_session_timeout_ms": PRODUCTION_SESSION_TIMEOUT_MS,
}


class InsecureProductionSettings(RuntimeError):
    """Production mode with a default or missing secret."""


class Settings(BaseSettings):
    """Everything a vndx process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="VNDX_", extra="ignore")

    env: Literal["embedded", "production", "test"] = "embedded"
    service_name: str = "vndx"
    data_dir: Path = Path(".vndx")
    public_base_url: str = "http://127.0.0.1:8101"
    #: Base of the exchange's public IRIs (DCAT export, ODRL policies); the same in every
    #: service, because orders and access rebuild the policy catalog serves.
    iri_base: str = "http://127.0.0.1:8101"

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
    #: How long the broker may hold a consumer's fetch while it has nothing new. Kafka
    #: answers as soon as a record arrives, so production waits as long as Kafka's own
    #: default (500 ms) for free. Tansu, the embedded broker, holds a fetch until about
    #: half the wait has passed whatever arrives, so every idle consumer polls it and
    #: every event waits for the poll: short where a buyer waits on the event, longer
    #: for the consumers of ``background`` events (catalog news, fulfilment, refunds).
    kafka_fetch_max_wait_ms: int = Field(default=20, ge=1, le=10_000)
    kafka_background_fetch_max_wait_ms: int = Field(default=100, ge=1, le=10_000)
    kafka_consumer_batch_max: int = Field(
        default=200, ge=1, description="events a consumer applies in one transaction"
    )
    kafka_commit_interval_ms: int = Field(
        default=200,
        ge=0,
        le=60_000,
        description="while events keep coming, how often at most a consumer commits offsets",
    )
    #: How long the broker keeps a silent group member. Tansu makes a group's first
    #: join wait about half of it, and a member restarted after leaving wait about
    #: twice it (18 s at aiokafka's default 10 s); Kafka refuses less than 6 s.
    kafka_session_timeout_ms: int = Field(default=3000, ge=1000, le=300_000)
    consumer_max_attempts: int = 3
    outbox_poll_interval_s: float = 0.5
    max_event_bytes: int = 1_000_000

    s3_endpoint: str = "127.0.0.1:8333"
    s3_access_key: str = DEV_S3_ACCESS_KEY
    s3_secret_key: SecretStr = SecretStr(DEV_S3_SECRET_KEY)
    s3_secure: bool = False
    s3_bucket: str = "vndx-data"
    s3_region: str = "us-east-1"
    #: The object store as buyers outside the host reach it (``host:port`` or
    #: ``https://host``), used only to sign download URLs; none = ``s3_endpoint``.
    s3_public_endpoint: str | None = None

    jwt_issuer: str = "vndx"
    jwt_audience: str = "vndx-api"
    jwt_public_key_path: Path | None = None
    jwt_private_key_path: Path | None = None
    token_ttl_s: int = 8 * 3600

    pseudonym_master_key: SecretStr = SecretStr(DEV_SECRET_PLACEHOLDER)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    #: Where Stripe Checkout sends the buyer back (the portal); set: orders opens a Checkout
    #: Session (a page hosted by Stripe) for each order instead of a bare PaymentIntent.
    stripe_checkout_return_url: str | None = None
    payment_provider: Literal["local", "stripe"] = "local"

    quote_private_key_path: Path | None = None
    quote_public_key_path: Path | None = None
    ledger_private_key_path: Path | None = None
    ledger_public_key_path: Path | None = None

    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)

    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    order_payment_deadline_s: int = Field(default=3 * 24 * 3600, ge=60)
    orders_sweep_interval_s: float = Field(default=5.0, gt=0)
    order_approval_working_days: int = Field(
        default=5, ge=1, description="a publisher's time to approve a request (Mon-Fri)"
    )

    max_upload_bytes: int = 5 * 1024**3
    #: Access keeps built extracts of recipes without pseudonyms (identical for every
    #: grant) in memory, and raw files of listing versions on disk, up to these sizes.
    extract_cache_bytes: int = Field(default=64 * 1024**2, ge=0)
    extract_cache_entry_bytes: int = Field(default=8 * 1024**2, ge=0)
    raw_cache_bytes: int = Field(default=1024**3, ge=0)
    #: Catalog's personal-data scan: a kind in more than this share of a column's sampled
    #: non-empty values is a finding; the sample is this many rows drawn from the whole file.
    inspection_threshold: float = Field(default=0.2, gt=0, lt=1)
    inspection_sample_rows: int = Field(default=100_000, ge=1_000)
    max_request_bytes: int = Field(default=2 * 1024**2, ge=1024, description="non-file bodies")
    request_deadline_s: float = Field(default=60.0, gt=0, description="then 503 + Retry-After")
    rate_quotes_per_minute: int = Field(default=1200, ge=1, description="per organisation")
    rate_orders_per_minute: int = Field(default=600, ge=1, description="per organisation")
    rate_downloads_per_minute: int = Field(default=120, ge=1, description="per organisation")
    rate_queries_per_minute: int = Field(default=120, ge=1, description="per organisation")
    fault_injection: str = Field(default="", description="crash points to arm; off in production")

    audit_checkpoint_every: int = Field(default=1000, ge=1, description="sign after N records")
    audit_checkpoint_interval_s: float = Field(default=10.0, gt=0, description="or after T s")
    audit_watch_downloads_per_hour: int = Field(default=20, ge=1)
    audit_watch_refused_queries_per_hour: int = Field(default=5, ge=1)
    audit_watch_clients_per_hour: int = Field(default=3, ge=1)
    audit_batch_max: int = Field(default=200, ge=1, description="events per ledger transaction")
    audit_batch_within_s: float = Field(default=0.05, gt=0, description="wait to fill a batch")
    audit_session_timeout_s: float = Field(
        default=6.0, ge=1, description="faust group session; Tansu's first join takes half"
    )

    session_secret: SecretStr = SecretStr(DEV_SECRET_PLACEHOLDER)
    oidc_issuer: str | None = Field(default=None, description="portal sign-in; dev page if unset")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_org_claim: str = "org"
    oidc_role_claim: str = "role"

    grant_default_k: int = Field(default=5, ge=2, description="k-anonymity of extracts")
    grant_default_l: int = Field(default=2, ge=1, description="distinct ℓ of sensitive columns")
    max_suppression: float = Field(default=0.05, ge=0, lt=1, description="share of rows")
    download_urls_per_minute: int = Field(default=10, ge=1, description="per grant")
    sandbox_timeout_s: float = Field(default=10.0, gt=0)
    sandbox_max_rows: int = Field(default=10_000, ge=1)
    expiry_sweep_interval_s: float = Field(default=5.0, gt=0)
    grant_build_poll_interval_s: float = Field(
        default=1.0, gt=0, description="a fallback: consuming an order.paid wakes the builder"
    )
    grant_build_workers: int = Field(default=4, ge=1, description="extracts built at once")
    grant_listing_wait_s: float = Field(default=600.0, gt=0, description="for its schema")

    @model_validator(mode="after")
    def _kafka_defaults_in_production(self) -> Settings:
        # Only defaults change: a value the operator set is kept.
        if self.env == "production":
            for name, value in _PRODUCTION_KAFKA_DEFAULTS.items():
                if name not in self.model_fields_set:
                    setattr(self, name, value)
        return self

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
        configured = getattr(self, f"{name}_{part}_key_path", None)
        if isinstance(configured, Path):
            return configured
        override = os.environ.get(f"VNDX_{name.upper()}_{part.upper()}_KEY_PATH")
        return Path(override) if override else self.keys_dir / f"{name}-{part}.pem"

    def check_production_secrets(self) -> None:
        """Refuse production mode while a secret is missing or a known default."""
        if self.env != "production":
            return
        problems = self.production_problems()
        if problems:
            raise InsecureProductionSettings(
                "production mode refuses default or missing settings: " + ", ".join(problems)
            )

    def production_problems(self) -> list[str]:
        """Each setting this service needs that is missing or a known default, by variable."""
        needs = SERVICE_SECRETS.get(self.service_name, ALL_SERVICE_SECRETS)
        problems: list[str] = []
        if _is_weak(self.s3_access_key, DEV_S3_ACCESS_KEY):
            problems.append("VNDX_S3_ACCESS_KEY")
        if _is_weak(self.s3_secret_key.get_secret_value(), DEV_S3_SECRET_KEY):
            problems.append("VNDX_S3_SECRET_KEY")
        if not _is_file(self.jwt_public_key_path):
            problems.append("VNDX_JWT_PUBLIC_KEY_PATH")
        problems += self._database_problems()
        problems += self._kafka_problems()
        for need, key in (
            ("quote_private", self.quote_private_key_path),
            ("quote_public", self.quote_public_key_path),
            ("ledger_private", self.ledger_private_key_path),
        ):
            if need in needs and not _is_file(key):
                problems.append(f"VNDX_{need.upper()}_KEY_PATH")
        if "pseudonym" in needs:
            master = self.pseudonym_master_key.get_secret_value()
            if _is_weak(master) or len(master) < 32:
                problems.append("VNDX_PSEUDONYM_MASTER_KEY (32+ random characters)")
        if "payments" in needs and self.payment_provider == "stripe":
            for name, value in (
                ("VNDX_STRIPE_SECRET_KEY", self.stripe_secret_key),
                ("VNDX_STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
            ):
                if value is None or _is_weak(value.get_secret_value()):
                    problems.append(name)
        if self.fault_injection:
            problems.append("VNDX_FAULT_INJECTION (must be empty)")
        return problems

    def _database_problems(self) -> list[str]:
        if not self.database_url or self.database_url.startswith("sqlite"):
            return ["VNDX_DATABASE_URL (a PostgreSQL URL)"]
        password = make_url(self.database_url).password
        if password is None or _is_weak(str(password)):
            return ["VNDX_DATABASE_URL (password)"]
        return []

    def _kafka_problems(self) -> list[str]:
        if self.kafka_security_protocol == "PLAINTEXT":
            return ["VNDX_KAFKA_SECURITY_PROTOCOL (SASL or SSL, not PLAINTEXT)"]
        if not self.kafka_security_protocol.startswith("SASL"):
            return []
        problems = []
        if not self.kafka_sasl_username:
            problems.append("VNDX_KAFKA_SASL_USERNAME")
        password = self.kafka_sasl_password
        if password is None or _is_weak(password.get_secret_value()):
            problems.append("VNDX_KAFKA_SASL_PASSWORD")
        return problems


def _is_weak(value: str, *defaults: str) -> bool:
    return not value.strip() or value in defaults or value.lower() in WEAK_SECRETS


def _is_file(path: Path | None) -> bool:
    return path is not None and path.is_file()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides (for tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
