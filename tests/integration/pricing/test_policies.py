"""Operators activate policy versions; old versions stay readable; bad ones change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from services.pricing.domain import DEFAULT_POLICY_PATH, load_default_policy
from tests.integration.pricing.conftest import Headers, stored_counts

DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def renamed(version: str, text: str = DEFAULT_TEXT) -> str:
    return text.replace('version: "2025.1"', f'version: "{version}"')


def test_the_default_policy_is_active_after_first_start(pricing: TestClient) -> None:
    active = pricing.get("/v1/policies/active")
    assert active.status_code == 200
    assert active.json()["version"] == load_default_policy().version
    assert active.json()["yaml"] == DEFAULT_TEXT
    assert active.json()["summary"]["products"]["download"]["durations"] == [7, 30, 90, 365]


def test_an_operator_activates_a_new_version_once(pricing: TestClient, auth: Headers) -> None:
    operator = auth("vndx-operator", "operator")
    text = renamed("2025.2")
    start = stored_counts(pricing)
    first = pricing.post("/v1/policies", json={"policy_yaml": text}, headers=operator)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == "2025.2"
    assert first.json()["activated_by"] == "vndx-operator:operator"

    again = pricing.post("/v1/policies", json={"policy_yaml": text}, headers=operator)
    assert again.status_code == 200
    assert again.json()["sha256"] == first.json()["sha256"]
    assert stored_counts(pricing)["events"] == start["events"] + 1  # one PolicyActivated

    changed = text.replace("vat_rate: 0.10", "vat_rate: 0.08")
    before = stored_counts(pricing)
    conflict = pricing.post("/v1/policies", json={"policy_yaml": changed}, headers=operator)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["field"] == "version"
    assert stored_counts(pricing) == before

    stored = pricing.get("/v1/policies/2025.2").json()
    assert stored["yaml"] == text
    assert stored["summary"]["vat_rate"] == "0.10"
    assert pricing.get("/v1/policies/active").json()["version"] == "2025.2"
    old = pricing.get("/v1/policies/2025.1")
    assert old.status_code == 200 and old.json()["yaml"] == DEFAULT_TEXT
    listed = {p["version"]: p["in_effect"] for p in pricing.get("/v1/policies").json()}
    assert listed["2025.2"] is True and listed["2025.1"] is False


def test_a_bad_policy_is_refused_with_every_issue_and_line(
    pricing: TestClient, auth: Headers
) -> None:
    bad = renamed("2025.bad").replace("vat_rate: 0.10", "vat_rate: 1.5")
    bad = bad.replace("alpha: 0.6", "alpha: -1")
    before = stored_counts(pricing)
    response = pricing.post(
        "/v1/policies", json={"policy_yaml": bad}, headers=auth("vndx-operator", "operator")
    )
    assert response.status_code == 422
    issues = {i["field"]: i["line"] for i in response.json()["error"]["issues"]}
    lines = bad.splitlines()
    assert "vat_rate" in lines[issues["fees.vat_rate"] - 1]
    assert "alpha" in lines[issues["duration_curve.alpha"] - 1]
    assert pricing.get("/v1/policies/2025.bad").status_code == 404
    assert stored_counts(pricing) == before


def test_an_effective_time_before_the_policy_s_own_is_refused(
    pricing: TestClient, auth: Headers
) -> None:
    own = load_default_policy().effective_from
    response = pricing.post(
        "/v1/policies",
        json={
            "policy_yaml": renamed("2025.early"),
            "effective_from": (own - timedelta(days=1)).isoformat(),
        },
        headers=auth("vndx-operator", "operator"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "effective_from"


def test_a_policy_never_takes_effect_before_it_is_activated(
    pricing: TestClient, auth: Headers
) -> None:
    before = datetime.now(UTC)
    response = pricing.post(
        "/v1/policies",
        json={"policy_yaml": renamed("2025.3")},
        headers=auth("vndx-operator", "operator"),
    )
    assert response.status_code == 201
    assert datetime.fromisoformat(response.json()["effective_from"]) >= before


def test_only_operators_activate(pricing: TestClient, auth: Headers) -> None:
    body = {"policy_yaml": renamed("2025.x")}
    assert pricing.post("/v1/policies", json=body).status_code == 401
    assert pricing.post("/v1/policies", json=body, headers=auth("startup-a")).status_code == 403
