"""OpenID Connect sign-in against oidc-provider-mock: PKCE checked on the client side."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from oidc_provider_mock import User, run_server_in_thread  # type: ignore[import-untyped]

from services.common.auth import TokenVerifier, ensure_keypair
from services.common.settings import Settings
from services.portal.app import create_app
from services.portal.backends import Backends
from services.portal.oidc import FLOW_KEY
from services.portal.session import SESSION_COOKIE


class Recording(httpx.AsyncHTTPTransport):
    """The real transport, remembering each request the portal sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.sent.append(request)
        return await super().handle_async_request(request)


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    alice = User(sub="alice", claims={"org": "startup-x", "role": "buyer", "name": "Alice"})
    with run_server_in_thread(user_claims=[alice]) as server:
        yield f"http://localhost:{server.server_port}"


def test_sign_in_with_the_authorisation_code_flow_and_pkce(issuer: str, tmp_path: Path) -> None:
    keys = Settings(data_dir=tmp_path)
    ensure_keypair(keys.key_path("jwt", "private"), keys.key_path("jwt", "public"))
    settings = Settings(
        data_dir=tmp_path,
        service_name="portal",
        public_base_url="https://testserver",
        oidc_issuer=issuer,
        oidc_client_id="vndx-portal",
        oidc_client_secret="portal-secret-for-tests",
    )
    app = create_app(settings)
    recording = Recording()
    app.state.portal.backends = Backends.create(settings, transport=recording)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        start = client.get("/signin?next=/orders")
        assert start.status_code == 303
        assert client.post("/signin", data={"org": "x", "role": "operator"}).status_code == 403
        authorise = start.headers["location"]
        query = parse_qs(urlsplit(authorise).query)
        assert authorise.startswith(f"{issuer}/oauth2/authorize")
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == ["https://testserver/auth/callback"]
        session = app.state.portal.codec.loads(client.cookies[SESSION_COOKIE], 3600)
        verifier = session.data[FLOW_KEY]["verifier"]
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]

        consent = httpx.post(authorise, data={"sub": "alice"}, follow_redirects=False)
        callback = urlsplit(consent.headers["location"])
        assert callback.path == "/auth/callback"
        forged = client.get("/auth/callback?code=x&state=not-the-state")
        assert forged.status_code == 403 and "startup-x" not in forged.text

        start = client.get("/signin?next=/orders")
        consent = httpx.post(
            start.headers["location"], data={"sub": "alice"}, follow_redirects=False
        )
        finished = client.get(
            urlsplit(consent.headers["location"])._replace(scheme="", netloc="").geturl()
        )
        assert finished.status_code == 303 and finished.headers["location"] == "/orders"

    exchange = next(r for r in recording.sent if r.url.path.endswith("/token"))
    sent_form = parse_qs(exchange.content.decode())
    flow_verifiers = sent_form["code_verifier"]
    assert len(flow_verifiers) == 1 and len(flow_verifiers[0]) >= 43
    signed_in = app.state.portal.codec.loads(client.cookies[SESSION_COOKIE], 3600)
    verifier_key = TokenVerifier(
        settings.public_key_path.read_bytes(), issuer="vndx", audience="vndx-api"
    )
    principal = verifier_key.verify(signed_in.token)
    assert (principal.org, principal.role, principal.subject) == ("startup-x", "buyer", "alice")
