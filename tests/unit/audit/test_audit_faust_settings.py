"""The faust app's configuration: broker list, security, the session that sets Tansu's join time."""

from __future__ import annotations

from pathlib import Path

from faust import SASLCredentials, SSLCredentials
from pydantic import SecretStr

from services.common.settings import Settings
from streams.audit.faust_app import broker_credentials, broker_urls, faust_settings


def test_bootstrap_list_becomes_faust_urls() -> None:
    assert broker_urls("k1:9092, k2:9093") == "kafka://k1:9092;kafka://k2:9093"


def test_plaintext_has_no_credentials_and_a_short_session(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, audit_session_timeout_s=6)
    options = faust_settings(settings, "audit")
    assert "broker_credentials" not in options
    assert options["broker_session_timeout"] == 6
    assert options["broker_heartbeat_interval"] == 1
    assert options["broker_request_timeout"] >= options["broker_session_timeout"]
    assert options["topic_disable_leader"] is True  # faust creates no topic of its own
    assert options["web_enabled"] is False
    assert options["datadir"] == tmp_path / "faust" / "audit"


def test_sasl_scram_over_tls_is_passed_on(tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="audit",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    credentials = broker_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert (credentials.username, credentials.password) == ("audit", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"


def test_tls_alone(tmp_path: Path) -> None:
    settings = Settings(env="test", data_dir=tmp_path, kafka_security_protocol="SSL")
    assert isinstance(broker_credentials(settings), SSLCredentials)
