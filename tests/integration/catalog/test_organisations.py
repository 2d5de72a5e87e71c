"""Operators verify organisations; the verification is public, the tax code is not."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.integration.kafka_probe import read_topic_sync
from vndx.embedded import Tansu

Auth = Callable[..., dict[str, str]]
TAX_CODE = "0100109106"  # a valid check digit (weights 31,29,23,19,17,13,7,5,3 mod 11)


def test_operator_verifies_a_startup(catalog: TestClient, auth: Auth, tansu: Tansu) -> None:
    code = f"startup-{uuid.uuid4().hex[:6]}"
    body = {"tax_code": TAX_CODE, "registered_name": "Công ty CP Dữ liệu Mở", "segment": "startup"}
    for role in ("buyer", "provider", "regulator"):
        refused = catalog.post(
            f"/v1/organisations/{code}/verification", json=body, headers=auth(code, role)
        )
        assert refused.status_code == 403, role
    bad = catalog.post(
        f"/v1/organisations/{code}/verification",
        json={**body, "tax_code": "0100109107"},
        headers=auth("ops", "operator"),
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "tax_code"
    odd = catalog.post(
        f"/v1/organisations/{code}/verification",
        json={**body, "segment": "unicorn"},
        headers=auth("ops", "operator"),
    )
    assert odd.status_code == 422 and odd.json()["error"]["field"] == "segment"

    verified = catalog.post(
        f"/v1/organisations/{code}/verification", json=body, headers=auth("ops", "operator")
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True and verified.json()["segment"] == "startup"

    public = catalog.get(f"/v1/organisations/{code}").json()
    assert public["verified"] is True and public["tax_code"] is None
    own = catalog.get(f"/v1/organisations/{code}", headers=auth(code, "buyer")).json()
    assert own["tax_code"] == TAX_CODE
    assert catalog.get("/v1/organisations/nobody-at-all").status_code == 404

    events = read_topic_sync(tansu.bootstrap_servers, "catalog.organisations", key=code, until=1)
    assert [e.data["segment"] for _, e in events] == ["startup"]
