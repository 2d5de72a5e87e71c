"""Dev sign-in, the session cookie, CSRF on every form, and the buyer's quote form."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.common.auth import TokenVerifier
from services.common.settings import Settings
from services.portal.session import SESSION_COOKIE
from tests.unit.portal.conftest import csrf_of, sign_in
from tests.unit.portal.fakes import LISTING_ID, FakeApis


def test_dev_sign_in_mints_the_token_the_apis_verify(
    client: TestClient, settings: Settings
) -> None:
    sign_in(client, "startup-a", "buyer")
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    session = client.app.state.portal.codec.loads(cookie, 3600)  # type: ignore[attr-defined]
    verifier = TokenVerifier(
        settings.public_key_path.read_bytes(), issuer="vndx", audience="vndx-api"
    )
    principal = verifier.verify(session.token)
    assert (principal.org, principal.role) == ("startup-a", "buyer")


def test_the_session_cookie_is_secure_httponly_and_samesite(client: TestClient) -> None:
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"org": "gso", "role": "provider", "csrf_token": token})
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "secure" in set_cookie and "samesite=lax" in set_cookie
    assert response.headers["location"] == "/provider/listings"


def test_a_tampered_cookie_is_no_session(client: TestClient) -> None:
    sign_in(client, "startup-a", "buyer")
    cookie = client.cookies[SESSION_COOKIE]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie[:-4] + "AAAA")
    assert "startup-a" not in client.get("/").text


def test_forms_without_the_csrf_token_are_refused(client: TestClient) -> None:
    client.get("/signin")
    refused = client.post("/signin", data={"org": "gso", "role": "provider"})
    assert refused.status_code == 403
    wrong = client.post("/signin", data={"org": "gso", "role": "provider", "csrf_token": "x"})
    assert wrong.status_code == 403
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "") or "gso" not in wrong.text


def test_sign_in_names_the_field_at_fault(client: TestClient) -> None:
    token = csrf_of(client.get("/signin?lang=en").text)
    page = client.post("/signin", data={"org": "bad org!", "role": "emperor", "csrf_token": token})
    assert page.status_code == 422
    assert 'id="org-error"' in page.text and 'id="role-error"' in page.text


def test_sign_in_only_returns_to_a_path_on_this_site(client: TestClient) -> None:
    token = csrf_of(client.get("/signin").text)
    response = client.post(
        "/signin",
        data={"org": "a", "role": "buyer", "csrf_token": token, "next": "//evil.example/x"},
    )
    assert response.headers["location"] == "/grants"


def test_pages_for_a_role_send_others_to_sign_in_or_refuse(client: TestClient) -> None:
    assert client.get("/grants").headers["location"].startswith("/signin?next=/grants")
    sign_in(client, "startup-a", "buyer")
    assert client.get("/provider/listings").status_code == 403


def test_the_quote_form_sends_the_buyers_request_to_pricing(
    client: TestClient, apis: FakeApis
) -> None:
    apis.answer("POST", "pricing", "/v1/quotes", {"id": "q-1"}, status=201)
    sign_in(client, "startup-a", "buyer")
    token = csrf_of(client.get(f"/listings/{LISTING_ID}").text)
    response = client.post(
        "/quotes",
        data={
            "csrf_token": token,
            "listing_id": LISTING_ID,
            "product": "sandbox",
            "duration_days": "90",
            "purpose": "research",
        },
    )
    assert response.headers["location"] == "/quotes/q-1"
    assert apis.last_json("/v1/quotes") == {
        "listing_id": LISTING_ID,
        "product": "sandbox",
        "duration_days": 90,
        "purpose": "research",
    }
    assert apis.last("/v1/quotes").headers["authorization"].startswith("Bearer ")


def test_a_refused_quote_is_shown_next_to_its_field(client: TestClient, apis: FakeApis) -> None:
    apis.refuse(
        "POST",
        "pricing",
        "/v1/quotes",
        422,
        code="invalid",
        message="duration 45 not offered",
        field="duration_days",
    )
    sign_in(client, "startup-a", "buyer")
    token = csrf_of(client.get(f"/listings/{LISTING_ID}").text)
    page = client.post(
        "/quotes",
        data={
            "csrf_token": token,
            "listing_id": LISTING_ID,
            "product": "download",
            "duration_days": "45",
            "purpose": "research",
        },
    )
    assert page.status_code == 422
    assert (
        '<small id="duration-error" class="field-error">duration 45 not offered</small>'
        in page.text
    )
