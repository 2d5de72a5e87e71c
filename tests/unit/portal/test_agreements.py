"""Purposes, the usage policy, previews, approvals, termination, renewal and paging (fake APIs)."""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient

from services.common.usage_policy import policy_sha256
from tests.unit.portal.conftest import csrf_of, sign_in
from tests.unit.portal.fakes import LISTING_ID, NOW, FakeApis, listing, policy

GRANT_ID = "22222222-2222-2222-2222-222222222222"


def _quote(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": "q-1",
        "listing_id": LISTING_ID,
        "listing_version": 1,
        "product": "download",
        "duration_days": 30,
        "buyer_org": "startup-a",
        "purpose": "research",
        "justification": "Income research for a lending model",
        "lines": [
            {"code": "base", "label_vi": "Giá", "label_en": "Base", "amount": 1, "kind": "base"}
        ],
        "total": 1,
        "currency": "VND",
        "split": {"platform_fee": 0, "agency_share": 1, "budget_share": 0, "vat": 0},
        "trace": [],
        "policy_version": "2026.1",
        "issued_at": NOW,
        "expires_at": NOW,
        "signature": "sig",
        "key_id": "k",
    }
    value.update(overrides)
    return value


def _order(status: str, **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": "o-1",
        "status": status,
        "listing_id": LISTING_ID,
        "listing_version": 1,
        "purpose": "research",
        "total": 1_000_000,
        "placed_at": NOW,
        "payment": {"provider": "local", "reference": "INV-2026-0007", "deadline": NOW},
        "grant_id": None,
        "reason": None,
        "approval_mode": "provider",
        "approval": {
            "decide_by": NOW,
            "decision": None,
            "decided_at": None,
            "decided_by": None,
            "automatic": False,
            "note": None,
        },
        "refund": None,
    }
    value.update(overrides)
    return value


def _grant(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": GRANT_ID,
        "status": "issued",
        "product": "download",
        "listing_id": LISTING_ID,
        "listing_version": 1,
        "purpose": "research",
        "expires_at": "2099-01-01T00:00:00+00:00",
        "rows": 30000,
        "privacy": None,
        "reason": None,
    }
    value.update(overrides)
    return value


def test_the_listing_shows_purposes_approval_and_the_usage_policy_in_plain_words(
    client: TestClient, apis: FakeApis
) -> None:
    apis.answer(
        "GET",
        "catalog",
        f"/v1/listings/{LISTING_ID}",
        listing(allowed_purposes=["research", "statistics"], approval="provider"),
    )
    apis.answer("GET", "catalog", f"/v1/listings/{LISTING_ID}/policy", policy(approval="provider"))
    english = client.get(f"/listings/{LISTING_ID}?lang=en").text
    assert "Research, Official statistics" in english
    assert "The provider approves each request before payment" in english
    assert "Never try to find out who a row is about." in english
    assert "Delete the data and every copy when the access ends." in english
    assert f'href="/listings/{LISTING_ID}/policy.json"' in english
    assert policy_sha256(policy(approval="provider")) in english
    vietnamese = client.get(f"/listings/{LISTING_ID}?lang=vi").text
    assert "Never try to find out" not in vietnamese and "Nghiên cứu" in vietnamese


def test_the_policy_link_serves_the_catalogs_document_unchanged(
    client: TestClient, apis: FakeApis
) -> None:
    served = client.get(f"/listings/{LISTING_ID}/policy.json")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/ld+json")
    assert served.json() == policy()


def test_the_quote_form_offers_only_the_listings_purposes(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client, "startup-a", "buyer")
    page = client.get(f"/listings/{LISTING_ID}?lang=en").text
    form = page[
        page.index('<select id="purpose"') : page.index("</select>", page.index('id="purpose"'))
    ]
    assert 'value="research"' in form and 'value="statistics"' in form
    assert 'value="journalism"' not in form and 'value="commercial_analytics"' not in form
    assert 'id="justification"' in page


def test_a_quote_without_a_purpose_is_refused_next_to_the_field(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client, "startup-a", "buyer")
    token = csrf_of(client.get(f"/listings/{LISTING_ID}").text)
    page = client.post(
        "/quotes?lang=en",
        data={
            "csrf_token": token,
            "listing_id": LISTING_ID,
            "product": "download",
            "duration_days": "30",
        },
    )
    assert page.status_code == 422
    assert 'id="purpose-error"' in page.text
    assert not [r for r in apis.sent if r.url.path == "/v1/quotes"]


def test_the_quote_sends_purpose_and_justification(client: TestClient, apis: FakeApis) -> None:
    apis.answer("POST", "pricing", "/v1/quotes", {"id": "q-1"}, status=201)
    sign_in(client, "startup-a", "buyer")
    token = csrf_of(client.get(f"/listings/{LISTING_ID}").text)
    client.post(
        "/quotes",
        data={
            "csrf_token": token,
            "listing_id": LISTING_ID,
            "product": "download",
            "duration_days": "30",
            "purpose": "statistics",
            "justification": "Regional income tables",
        },
    )
    sent = apis.last_json("/v1/quotes")
    assert sent["purpose"] == "statistics" and sent["justification"] == "Regional income tables"


def test_the_preview_marks_hidden_counts_and_shows_no_identifier(
    client: TestClient, apis: FakeApis
) -> None:
    anonymous = client.get(f"/listings/{LISTING_ID}?lang=en").text
    assert "to see an anonymised preview" in anonymous
    assert not [r for r in apis.sent if r.url.path.endswith("/preview")]
    sign_in(client, "startup-a", "buyer")
    listing_page = client.get(f"/listings/{LISTING_ID}?lang=en").text
    assert f'hx-get="/listings/{LISTING_ID}/preview" hx-trigger="load"' in listing_page
    assert not [r for r in apis.sent if r.url.path.endswith("/preview")]
    page = client.get(
        f"/listings/{LISTING_ID}/preview?lang=en", headers={"HX-Request": "true"}
    ).text
    assert "<html" not in page and "hx-trigger" not in page
    assert apis.last(f"/v1/listings/{LISTING_ID}/preview").url.params["synthetic_rows"] == "10"
    full = client.get(f"/listings/{LISTING_ID}/preview?lang=en").text
    assert "<html" in full and "Synthetic sample rows" in full
    hidden = page[page.index("data-hidden-count") :]
    assert html.escape("<5") in hidden[: hidden.index("</td>")]
    assert "Direct identifier: no value is shown." in page
    assert "Synthetic sample rows" in page and "United-States" in page


def test_the_order_carries_the_hash_of_the_policy_the_quote_page_showed(
    client: TestClient, apis: FakeApis
) -> None:
    apis.answer("GET", "pricing", "/v1/quotes/q-1", _quote())
    apis.answer("POST", "orders", "/v1/orders", _order("awaiting_approval"), status=201)
    sign_in(client, "startup-a", "buyer")
    page = client.get("/quotes/q-1?lang=en").text
    shown = policy_sha256(policy())
    assert f'name="policy_sha256" value="{shown}"' in page
    assert "Income research for a lending model" in page
    token = csrf_of(page)
    unticked = client.post(
        "/orders?lang=en", data={"csrf_token": token, "quote_id": "q-1", "policy_sha256": shown}
    )
    assert unticked.status_code == 422 and 'id="accept-error"' in unticked.text
    assert not [r for r in apis.sent if r.url.path == "/v1/orders"]
    placed = client.post(
        "/orders",
        data={
            "csrf_token": token,
            "quote_id": "q-1",
            "policy_sha256": shown,
            "accept_policy": "yes",
        },
    )
    assert placed.headers["location"] == "/orders/o-1"
    body = apis.last_json("/v1/orders")
    assert body == {"quote": _quote(), "accept_policy": shown}


def test_a_changed_policy_asks_the_buyer_to_read_it_again(
    client: TestClient, apis: FakeApis
) -> None:
    apis.answer("GET", "pricing", "/v1/quotes/q-1", _quote())
    apis.refuse("POST", "orders", "/v1/orders", 409, code="policy_not_accepted", message="x")
    sign_in(client, "startup-a", "buyer")
    token = csrf_of(client.get("/quotes/q-1").text)
    page = client.post(
        "/orders?lang=en",
        data={
            "csrf_token": token,
            "quote_id": "q-1",
            "policy_sha256": "a" * 64,
            "accept_policy": "yes",
        },
    )
    assert page.status_code == 409
    assert "The usage policy changed since this page was shown" in page.text


def test_an_order_awaiting_approval_shows_no_payment_then_the_rejection_note(
    client: TestClient, apis: FakeApis
) -> None:
    sign_in(client, "startup-a", "buyer")
    apis.answer("GET", "orders", "/v1/orders/o-1", _order("awaiting_approval"))
    waiting = client.get("/orders/o-1?lang=en").text
    assert "Awaiting the provider's approval" in waiting and 'id="awaiting-approval"' in waiting
    assert "INV-2026-0007" not in waiting and "hx-trigger" in waiting
    apis.answer(
        "GET",
        "orders",
        "/v1/orders/o-1",
        _order("rejected", approval={"decision": "rejected", "note": "Journalism is not covered"}),
    )
    rejected = client.get("/orders/o-1/status?lang=en").text
    assert "Journalism is not covered" in rejected and "hx-trigger" not in rejected
    apis.answer(
        "GET",
        "orders",
        "/v1/orders/o-1",
        _order("awaiting_payment", approval={"decision": "approved", "note": "Fine"}),
    )
    approved = client.get("/orders/o-1/status?lang=en").text
    assert "INV-2026-0007" in approved and "Fine" in approved


def test_a_stripe_order_links_to_the_checkout_page(client: TestClient, apis: FakeApis) -> None:
    sign_in(client, "startup-a", "buyer")
    payment = {
        "provider": "stripe",
        "reference": "cs_test_1",
        "checkout_url": "https://checkout.stripe.test/pay/cs_test_1",
        "deadline": NOW,
    }
    apis.answer(
        "GET",
        "orders",
        "/v1/orders/o-1",
        _order("awaiting_payment", approval_mode="automatic", approval=None, payment=payment),
    )
    page = client.get("/orders/o-1?lang=en").text
    assert (
        'id="pay-by-card"' in page and 'href="https://checkout.stripe.test/pay/cs_test_1"' in page
    )


def test_a_provider_approves_a_pending_request_with_a_note(
    client: TestClient, apis: FakeApis
) -> None:
    pending = _order("awaiting_approval", buyer_org="startup-a", justification="Lending model")
    apis.answer(
        "GET",
        "orders",
        "/v1/approvals",
        {"items": [pending], "page": 1, "page_size": 25, "total": 1},
    )
    apis.answer("POST", "orders", "/v1/orders/o-1/approval", _order("awaiting_payment"))
    sign_in(client, "gso", "provider")
    page = client.get("/provider/requests?lang=en").text
    assert "Lending model" in page and "startup-a" in page
    assert apis.last("/v1/approvals").url.params["state"] == "pending"
    decided = client.post(
        "/provider/requests/o-1",
        data={"csrf_token": csrf_of(page), "decision": "approve", "note": "Fine for research"},
    )
    assert decided.headers["location"] == "/provider/requests"
    assert apis.last_json("/v1/orders/o-1/approval") == {
        "decision": "approve",
        "note": "Fine for research",
    }
    apis.refuse(
        "POST", "orders", "/v1/orders/o-1/approval", 409, code="conflict", message="already decided"
    )
    client.post(
        "/provider/requests/o-1",
        data={"csrf_token": csrf_of(page), "decision": "reject", "note": "late"},
    )
    assert "already decided" in client.get("/provider/requests?lang=en").text


def test_a_buyer_ends_its_grant_pro_rata_whatever_the_form_says(
    client: TestClient, apis: FakeApis
) -> None:
    page, sent = _terminate_with_full_refund(client, apis, "startup-a", "buyer", "Project ended")
    assert 'id="terminate"' in page and 'id="renew-link"' in page
    assert sent == {"reason": "Project ended", "refund": "pro_rata"}


def test_a_regulator_terminates_with_a_reason_and_a_refund_choice(
    client: TestClient, apis: FakeApis
) -> None:
    page, sent = _terminate_with_full_refund(
        client, apis, "ubgsnn", "regulator", "Court order 7/2026"
    )
    assert 'id="refund"' in page and 'id="renew-link"' not in page
    assert sent == {"reason": "Court order 7/2026", "refund": "full"}


def _terminate_with_full_refund(
    client: TestClient, apis: FakeApis, org: str, role: str, reason: str
) -> tuple[str, Any]:
    """``org`` opens the grant's page and sends its terminate form asking for a full
    refund: the page it saw, and what the portal sent to access."""
    apis.answer("GET", "access", f"/v1/grants/{GRANT_ID}", _grant())
    apis.answer("POST", "access", f"/v1/grants/{GRANT_ID}/terminate", _grant(status="terminated"))
    sign_in(client, org, role)
    page = client.get(f"/grants/{GRANT_ID}?lang=en").text
    client.post(
        f"/grants/{GRANT_ID}/terminate",
        data={"csrf_token": csrf_of(page), "reason": reason, "refund": "full"},
    )
    return page, apis.last_json(f"/v1/grants/{GRANT_ID}/terminate")


def test_a_renewal_is_a_quote_and_an_order_naming_the_grant(
    client: TestClient, apis: FakeApis
) -> None:
    apis.answer("GET", "access", f"/v1/grants/{GRANT_ID}", _grant())
    apis.answer(
        "GET",
        "pricing",
        "/v1/policies/active",
        {"summary": {"products": {"download": {"durations": [30, 90]}}}},
    )
    apis.refuse(
        "POST",
        "access",
        f"/v1/grants/{GRANT_ID}/renew",
        409,
        code="renew_by_order",
        message="order",
    )
    apis.answer("POST", "pricing", "/v1/quotes", {"id": "q-1"}, status=201)
    apis.answer("GET", "pricing", "/v1/quotes/q-1", _quote())
    apis.answer("POST", "orders", "/v1/orders", _order("awaiting_payment"), status=201)
    sign_in(client, "startup-a", "buyer")
    page = client.get(f"/grants/{GRANT_ID}/renew?lang=en").text
    assert f'name="renews" value="{GRANT_ID}"' in page
    asked = client.post(
        "/quotes",
        data={
            "csrf_token": csrf_of(page),
            "listing_id": LISTING_ID,
            "product": "download",
            "duration_days": "90",
            "purpose": "research",
            "renews": GRANT_ID,
        },
    )
    assert asked.headers["location"] == f"/quotes/q-1?renews={GRANT_ID}"
    assert apis.last(f"/v1/grants/{GRANT_ID}/renew").method == "POST"
    quote_page = client.get(asked.headers["location"]).text
    assert f'name="renews" value="{GRANT_ID}"' in quote_page
    shown = policy_sha256(policy())
    client.post(
        "/orders",
        data={
            "csrf_token": csrf_of(quote_page),
            "quote_id": "q-1",
            "policy_sha256": shown,
            "accept_policy": "yes",
            "renews": GRANT_ID,
        },
    )
    assert apis.last_json("/v1/orders")["renews_grant_id"] == GRANT_ID


def test_a_closed_grant_cannot_be_renewed(client: TestClient, apis: FakeApis) -> None:
    apis.refuse(
        "POST",
        "access",
        f"/v1/grants/{GRANT_ID}/renew",
        410,
        code="gone",
        message="grant has expired",
    )
    sign_in(client, "startup-a", "buyer")
    token = csrf_of(client.get("/signin").text)
    page = client.post(
        "/quotes?lang=en",
        data={
            "csrf_token": token,
            "listing_id": LISTING_ID,
            "product": "download",
            "duration_days": "90",
            "purpose": "research",
            "renews": GRANT_ID,
        },
    )
    assert page.status_code == 410 and "This access has ended" in page.text
    assert not [r for r in apis.sent if r.url.path == "/v1/quotes"]


def test_long_lists_are_paged(client: TestClient, apis: FakeApis) -> None:
    orders = {"items": [_order("fulfilled")], "page": 2, "page_size": 25, "total": 60}
    apis.answer("GET", "orders", "/v1/orders", orders)
    grants = {"items": [_grant()], "page": 1, "page_size": 25, "total": 26}
    apis.answer("GET", "access", "/v1/grants", grants)
    records = {
        "items": [
            {
                "seq": 7,
                "event_type": "vn.vndx.access.grant.terminated.v1",
                "occurred_at": NOW,
                "grant_id": GRANT_ID,
            }
        ],
        "next_after": 7,
    }
    apis.answer("GET", "audit", "/v1/audit/records", records)
    apis.answer("GET", "access", f"/v1/grants/{GRANT_ID}", _grant())
    sign_in(client, "startup-a", "buyer")
    second = client.get("/orders?page=2&lang=en").text
    assert apis.last("/v1/orders").url.params["page"] == "2"
    assert 'href="/orders?page=1"' in second and 'href="/orders?page=3"' in second
    assert "Page 2 of 3" in second
    first = client.get("/grants?lang=en").text
    assert 'href="/grants?page=2"' in first and "Previous" not in first
    trail = client.get(f"/grants/{GRANT_ID}/audit?after=3&lang=en").text
    assert apis.last("/v1/audit/records").url.params["after"] == "3"
    assert f'href="/grants/{GRANT_ID}/audit?after=7"' in trail and "Access terminated" in trail


def test_a_provider_sees_the_personal_data_that_blocks_publication(
    client: TestClient, apis: FakeApis
) -> None:
    blocked = listing(org="gso", status="draft")
    blocked["versions"][0]["inspection_passed"] = False
    apis.answer("GET", "catalog", f"/v1/listings/{LISTING_ID}", blocked)
    apis.answer(
        "GET",
        "catalog",
        f"/v1/listings/{LISTING_ID}/versions/1/inspection",
        {
            "findings": [
                {
                    "column": "contact",
                    "pattern": "phone",
                    "share": 0.93,
                    "matched": 93,
                    "non_empty": 100,
                    "examples": ["09******12"],
                }
            ],
            "columns_scanned": ["contact"],
            "rows_sampled": 100,
            "threshold": 0.2,
            "inspected_at": NOW,
        },
    )
    sign_in(client, "gso", "provider")
    page = client.get(f"/provider/listings/{LISTING_ID}?lang=en").text
    findings = page[page.index('id="findings"') :]
    assert "<code>contact</code>" in findings and "phone numbers" in findings
    assert "09******12" in findings and "93" in findings


def test_a_preview_still_being_computed_is_asked_for_again(
    client: TestClient, apis: FakeApis
) -> None:
    apis.refuse(
        "GET", "access", f"/v1/listings/{LISTING_ID}/preview", 503, code="busy", message="x"
    )
    sign_in(client, "startup-a", "buyer")
    page = client.get(f"/listings/{LISTING_ID}/preview", headers={"HX-Request": "true"}).text
    assert 'hx-trigger="load delay:3s"' in page and "preview?attempt=1" in page
    last = client.get(
        f"/listings/{LISTING_ID}/preview?attempt=40", headers={"HX-Request": "true"}
    ).text
    assert "hx-trigger" not in last


def test_a_regulator_pages_through_every_matching_record(
    client: TestClient, apis: FakeApis
) -> None:
    record = {
        "seq": 101,
        "event_type": "vn.vndx.orders.order.rejected.v1",
        "occurred_at": NOW,
        "buyer_org": "startup-a",
    }
    apis.answer("GET", "audit", "/v1/audit/records", {"items": [record], "next_after": 101})
    sign_in(client, "ubgsnn", "regulator")
    page = client.get("/regulator/records?type=order.rejected&after=100&lang=en").text
    sent = apis.last("/v1/audit/records").url.params
    assert sent["type"] == "order.rejected" and sent["after"] == "100"
    assert "Request rejected" in page
    assert 'type=order.rejected&amp;org=&amp;listing=&amp;grant=&after=101" rel="next"' in page


def test_an_operator_verifies_a_buyer_and_a_refusal_lands_on_its_field(
    client: TestClient, apis: FakeApis
) -> None:
    verified = {
        "code": "startup-a",
        "name": "startup-a",
        "verified": True,
        "segment": "sme",
        "registered_name": "Công ty A",
        "tax_code": "0100109106",
        "verified_at": NOW,
    }
    apis.answer("POST", "catalog", "/v1/organisations/startup-a/verification", verified)
    apis.answer("GET", "catalog", "/v1/organisations/startup-a", verified)
    sign_in(client, "vndx-ops", "operator")
    page = client.get("/operator/organisations?lang=en").text
    done = client.post(
        "/operator/organisations",
        data={
            "csrf_token": csrf_of(page),
            "code": "startup-a",
            "tax_code": "0100109106",
            "registered_name": "Công ty A",
            "segment": "sme",
        },
    )
    assert done.headers["location"] == "/operator/organisations?code=startup-a"
    assert apis.last_json("/v1/organisations/startup-a/verification") == {
        "tax_code": "0100109106",
        "registered_name": "Công ty A",
        "segment": "sme",
    }
    shown = client.get("/operator/organisations?code=startup-a&lang=en").text
    assert "Small or medium enterprise" in shown and "0100109106" in shown
    apis.refuse(
        "POST",
        "catalog",
        "/v1/organisations/startup-a/verification",
        422,
        code="invalid_request",
        message="tax_code: not a valid tax code",
        field="tax_code",
    )
    refused = client.post(
        "/operator/organisations",
        data={"csrf_token": csrf_of(page), "code": "startup-a", "tax_code": "12", "segment": "sme"},
    )
    assert refused.status_code == 422 and 'id="tax-error"' in refused.text
    sign_in(client, "startup-a", "buyer")
    assert client.get("/operator/organisations").status_code == 403


def test_a_provider_lists_the_grants_on_its_listings_and_terminates_one_for_breach(
    client: TestClient, apis: FakeApis
) -> None:
    held = _grant(buyer_org="startup-a")
    apis.answer(
        "GET",
        "access",
        "/v1/published-grants",
        {"items": [held], "page": 1, "page_size": 25, "total": 1},
    )
    apis.answer("POST", "access", f"/v1/grants/{GRANT_ID}/terminate", _grant(status="terminated"))
    sign_in(client, "gso", "provider")
    page = client.get("/provider/grants?lang=en").text
    assert f'data-grant="{GRANT_ID}"' in page and "startup-a" in page and "Research" in page
    done = client.post(
        f"/grants/{GRANT_ID}/terminate",
        data={"csrf_token": csrf_of(page), "reason": "Resold the extract", "refund": "full"},
    )
    assert done.headers["location"] == "/provider/grants"
    assert apis.last_json(f"/v1/grants/{GRANT_ID}/terminate") == {
        "reason": "Resold the extract",
        "refund": "none",
    }
