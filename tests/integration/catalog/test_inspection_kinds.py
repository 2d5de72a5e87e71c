"""Each kind of personal data, hidden in an ``attribute`` column, blocks publication over HTTP.

The same column declared ``direct_identifier`` passes, and realistic non-personal columns
(amounts, dates, province names, 12-digit product codes failing the CCCD province rule)
give no finding at all.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.catalog.domain.vn_identifiers import CCCD_PROVINCE_CODES
from tests.integration.kafka_probe import read_topic_sync
from tests.unit.catalog.test_inspection import GENERATORS, PROVINCES, gen_amount, gen_date
from vndx.embedded import Tansu

Auth = Callable[..., dict[str, str]]
ROWS = 400
HIDDEN = "ghi_chu"
NOT_A_PROVINCE = [f"{n:03d}" for n in range(1000) if f"{n:03d}" not in CCCD_PROVINCE_CODES]

BACKGROUND: dict[str, tuple[str, Callable[[random.Random], str]]] = {
    "so_tien": ("string", gen_amount),
    "gia_dat": ("integer", lambda rng: str(rng.randint(1_000_000, 980_000_000))),
    "ngay": ("string", gen_date),
    "tinh": ("string", lambda rng: rng.choice(PROVINCES)),
    "ma_san_pham": (
        "string",
        lambda rng: f"{rng.choice(NOT_A_PROVINCE)}{rng.randint(0, 999_999_999):09d}",
    ),
}


def _csv(rng: random.Random, hidden: Callable[[random.Random], str] | None) -> bytes:
    names = [*BACKGROUND, *([HIDDEN] if hidden else [])]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    for _ in range(ROWS):
        row = [gen(rng) for _, gen in BACKGROUND.values()]
        writer.writerow([*row, *([hidden(rng)] if hidden else [])])
    return out.getvalue().encode()


def _body(hidden_class: str | None) -> dict[str, Any]:
    columns = [
        {"name": name, "type": kind, "classification": "attribute"}
        for name, (kind, _) in BACKGROUND.items()
    ]
    if hidden_class:
        columns.append({"name": HIDDEN, "type": "string", "classification": hidden_class})
    return {
        "title_vi": "Hồ sơ hỗ trợ",
        "title_en": "Support files",
        "theme": "finance",
        "columns": columns,
    }


def _upload(catalog: TestClient, auth: Auth, org: str, body: dict[str, Any], data: bytes) -> str:
    created = catalog.post("/v1/listings", json=body, headers=auth(org))
    assert created.status_code == 201, created.text
    listing_id: str = created.json()["id"]
    uploaded = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=data,
        headers={**auth(org), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 201, uploaded.text
    return listing_id


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_each_hidden_kind_blocks_until_declared_direct_identifier(
    catalog: TestClient, auth: Auth, generator: str
) -> None:
    kind, gen = GENERATORS[generator]
    org = f"so-{uuid.uuid4().hex[:6]}"
    data = _csv(random.Random(generator), gen)
    listing_id = _upload(catalog, auth, org, _body("attribute"), data)

    refused = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "personal_data_found" and error["field"] == HIDDEN
    assert [(f["column"], f["pattern"]) for f in error["findings"]] == [(HIDDEN, kind.value)]
    hidden_values = {row[HIDDEN].strip() for row in csv.DictReader(io.StringIO(data.decode()))}
    examples = error["findings"][0]["examples"]
    assert 1 <= len(examples) <= 3
    assert not any(value in example for value in hidden_values for example in examples)
    report = catalog.get(f"/v1/listings/{listing_id}/versions/1/inspection", headers=auth(org))
    assert [f["column"] for f in report.json()["findings"]] == [HIDDEN]

    declared = catalog.put(
        f"/v1/listings/{listing_id}", json=_body("direct_identifier"), headers=auth(org)
    )
    assert declared.status_code == 200, declared.text
    published = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert published.status_code == 200, published.text


def test_realistic_non_personal_columns_publish_without_finding(
    catalog: TestClient, auth: Auth
) -> None:
    org = f"so-{uuid.uuid4().hex[:6]}"
    listing_id = _upload(catalog, auth, org, _body(None), _csv(random.Random(3), None))
    report = catalog.get(f"/v1/listings/{listing_id}/versions/1/inspection", headers=auth(org))
    assert report.status_code == 200
    assert report.json()["findings"] == []
    assert report.json()["columns_scanned"] == list(BACKGROUND)
    published = catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org))
    assert published.status_code == 200, published.text


def test_a_new_version_with_findings_is_not_released_from_a_published_listing(
    catalog: TestClient, auth: Auth, tansu: Tansu
) -> None:
    org = f"so-{uuid.uuid4().hex[:6]}"
    body = _body("attribute")
    clean = _csv(random.Random(5), lambda rng: rng.choice(["Có", "Không"]))
    listing_id = _upload(catalog, auth, org, body, clean)
    assert catalog.post(f"/v1/listings/{listing_id}/publish", headers=auth(org)).status_code == 200

    _, phone = GENERATORS["phone"]
    second = catalog.post(
        f"/v1/listings/{listing_id}/versions",
        content=_csv(random.Random(6), phone),
        headers={**auth(org), "Content-Type": "text/csv"},
    )
    assert second.status_code == 201, second.text
    shown = second.json()
    assert shown["latest_version"] == 2 and shown["released_version"] == 1
    assert [v["inspection_passed"] for v in shown["versions"]] == [True, False]
    policy = catalog.get(f"/v1/listings/{listing_id}/policy").json()
    assert policy["target"].endswith(f"/v1/listings/{listing_id}/versions/1")
    export = catalog.get("/v1/catalog.jsonld").json()
    dataset = next(d for d in export["dcat:dataset"] if d["dct:identifier"] == listing_id)
    offered = [d["@id"].rsplit("/", 1)[-1] for d in dataset["dcat:distribution"]]
    assert offered == ["1"]
    assert dataset["dcat:distribution"][0]["odrl:hasPolicy"]["@id"] == policy["uid"]

    declared = catalog.put(
        f"/v1/listings/{listing_id}", json=_body("direct_identifier"), headers=auth(org)
    )
    assert declared.json()["released_version"] == 2

    events = read_topic_sync(tansu.bootstrap_servers, "catalog.listings", key=listing_id, until=6)
    released = [
        (envelope.type.split(".")[-2], envelope.data["listing"]["latest_version"]["version"])
        for _, envelope in events
        if "listing" in envelope.data
    ]
    assert released == [
        ("version_added", 1),
        ("published", 1),
        ("version_added", 1),
        ("updated", 2),
    ]
