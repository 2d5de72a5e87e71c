"""No token, key or password in any log the suite produced, nor in any error body.

Runs after the other reliability tests of the session (file order), so the logs
hold purchases, crashes, broker loss, poison, forged tokens and fuzzing.
"""

from __future__ import annotations

import re
import uuid

import httpx

from services.common.settings import DEV_S3_SECRET_KEY, Settings
from tests.reliability.harness import Market

SERVICES = ("catalog", "pricing", "orders", "access", "audit")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
SECRETS = {
    "a bearer token": JWT,
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "the S3 secret key": re.compile(re.escape(DEV_S3_SECRET_KEY)),
    "a presigned URL's signature": re.compile(r"X-Amz-Signature=[0-9a-f]{16,}"),
    "an S3 credential": re.compile(r"X-Amz-Credential=[^&\s]+"),
    "an Authorization header": re.compile(
        r"(?i)authorization['\"]?\s*[:=]\s*['\"]?bearer\s+\S{20,}"
    ),
    "a Stripe key": re.compile(r"\b(sk|rk)_(test|live)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{10,}"),
    "a database password": re.compile(r"postgresql(\+\w+)?://[^:/\s]+:[^@\s]+@"),
}


def test_no_log_holds_a_secret(market: Market) -> None:
    settings = Settings(data_dir=market.stack.data_dir)
    private_key = settings.private_key_path.read_text().splitlines()[1]
    logs = sorted(market.stack.log_dir.glob("*.log"))
    assert {log.stem for log in logs} >= set(SERVICES)
    found = []
    for log in logs:
        text = log.read_text(errors="replace")
        for what, pattern in SECRETS.items():
            match = pattern.search(text)
            if match:
                found.append(f"{log.name}: {what}: {match.group(0)[:40]}…")
        if private_key in text:
            found.append(f"{log.name}: the JWT signing key's material")
    assert found == []


def test_error_bodies_echo_no_credential(market: Market) -> None:
    genuine = market.issuer.issue(f"startup-{uuid.uuid4().hex[:8]}", "buyer")
    forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
    echoed = []
    for service in SERVICES:
        base = market.stack.url(service)
        for token, path in (
            (forged, "/v1/orders"),
            (genuine, f"/v1/grants/{uuid.uuid4()}"),
            (genuine, "/v1/no-such-route"),
        ):
            response = httpx.get(
                base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            assert response.status_code >= 400
            if token[-40:] in response.text or JWT.search(response.text):
                echoed.append(f"{service} {path}: {response.status_code}")
    assert echoed == []
