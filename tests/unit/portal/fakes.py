"""Canned answers of the catalog, pricing, orders, access and audit APIs for portal unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from services.common.usage_policy import offer
from tests.listing_snapshots import bare_snapshot

NOW = "2026-11-20T10:00:00+00:00"
LISTING_ID = "11111111-1111-1111-1111-111111111111"


def listing(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": LISTING_ID,
        "org": "gso",
        "status": "published",
        "title_vi": "Điều tra dân số Adult",
        "title_en": "Adult census",
        "description_vi": "Bộ dữ liệu điều tra dân số.",
        "description_en": "The census extract.",
        "keywords": ["census"],
        "theme": "population",
        "theme_label": {"vi": "Dân số", "en": "Population"},
        "provinces": [],
        "temporal": {"start": "1994-01-01", "end": "1994-12-31"},
        "update_frequency": "once",
        "licence": "cc-by-4.0",
        "products": ["download", "sandbox"],
        "list_price": None,
        "columns": [
            {"name": "age", "type": "integer", "classification": "quasi_identifier"},
            {"name": "salary-class", "type": "string", "classification": "sensitive"},
        ],
        "versions": [
            {
                "version": 1,
                "format": "csv",
                "size_bytes": 100,
                "sha256": "ab",
                "row_count": 30162,
                "columns": [],
                "completeness": 1.0,
                "validity": 0.99,
                "freshness": 0.5,
                "quality_score": 0.87,
                "created_at": NOW,
                "inspection_passed": True,
            }
        ],
        "latest_version": 1,
        "row_count": 30162,
        "quality_score": 0.87,
        "review_status": "approved",
        "created_at": NOW,
        "updated_at": NOW,
        "published_at": NOW,
    }
    value.update(overrides)
    return value


def policy(**overrides: Any) -> dict[str, Any]:
    """The catalog's ODRL offer for the fake listing (built as the catalog builds it)."""
    snapshot = bare_snapshot(
        LISTING_ID,
        title_vi="Điều tra dân số Adult",
        title_en="Adult census",
        products=["download", "sandbox"],
        allowed_purposes=["research", "statistics"],
        **overrides,
    )
    return offer(snapshot, "https://catalog.test")


def preview() -> dict[str, Any]:
    return {
        "listing_id": LISTING_ID,
        "version": 1,
        "row_count": 30162,
        "k": 5,
        "columns": [
            {
                "name": "age",
                "classification": "quasi_identifier",
                "profile": {
                    "kind": "histogram",
                    "bins": [{"from": 17, "to": 40, "count": 15000}],
                    "values": 30162,
                    "nulls": 0,
                },
            },
            {
                "name": "native-country",
                "classification": "quasi_identifier",
                "profile": {
                    "kind": "categorical",
                    "top": [
                        {"value": "United-States", "count": 27504},
                        {"value": "Holand-Netherlands", "count": "<5"},
                    ],
                    "other": 2657,
                    "nulls": 0,
                },
            },
            {
                "name": "name",
                "classification": "direct_identifier",
                "profile": {"kind": "withheld"},
            },
        ],
        "synthetic_rows": [
            {"synthetic": True, "values": {"age": 33, "native-country": "United-States"}}
        ],
    }


VOCABULARY = {
    "themes": {"population": {"vi": "Dân số", "en": "Population"}},
    "provinces": {"ha-noi": "Hà Nội", "da-nang": "Đà Nẵng"},
}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeApis:
    """Routes (method, host, path) to canned JSON and records what the portal sent."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str], Handler] = {}
        self.sent: list[httpx.Request] = []
        self.answer("GET", "catalog", "/v1/vocabulary", VOCABULARY)
        self.answer(
            "GET",
            "catalog",
            "/v1/listings",
            {"items": [listing()], "page": 1, "page_size": 20, "total": 1},
        )
        self.answer(
            "GET",
            "catalog",
            f"/v1/listings/{LISTING_ID}",
            listing(allowed_purposes=["research", "statistics"], approval="automatic"),
        )
        self.answer("GET", "catalog", f"/v1/listings/{LISTING_ID}/policy", policy())
        self.answer("GET", "access", f"/v1/listings/{LISTING_ID}/preview", preview())
        self.answer(
            "GET",
            "pricing",
            f"/v1/listings/{LISTING_ID}/valuations",
            [
                {
                    "version": 1,
                    "policy_version": "2026.1",
                    "reference": {"product": "download", "duration_days": 30, "total": 1_250_000},
                }
            ],
        )

    def answer(self, method: str, service: str, path: str, body: Any, status: int = 200) -> None:
        def handler(_: httpx.Request) -> httpx.Response:
            return httpx.Response(status, json=body)

        self.routes[(method, service, path)] = handler

    def refuse(self, method: str, service: str, path: str, status: int, **error: Any) -> None:
        self.answer(method, service, path, {"error": error}, status)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        service = request.url.host.split(".")[0]
        handler = self.routes.get((request.method, service, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no route"}})
        return handler(request)

    def last(self, path: str) -> httpx.Request:
        return [r for r in self.sent if r.url.path == path][-1]

    def last_json(self, path: str) -> Any:
        return json.loads(self.last(path).content)
