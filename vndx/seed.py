"""``vndx seed --demo``: demo agencies, verified buyers and listings, through the catalog API.

Every listing goes the way a real one does: upload, inspection, operator review when it has
sensitive columns, publication. The population registry is offered with ``approval:
provider`` (each request decided by the agency) and the hospital visits with a minimum
sandbox group size; the demo buyers are verified, so their segment discounts apply.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress

from services.catalog.handlers import register_organisation
from services.common.auth import TokenIssuer, ensure_keypair
from services.common.db import make_engine
from services.common.settings import Settings
from vndx.demo_data import DEMO_BUYERS, adult_listing, demo_datasets
from vndx.schema import migrate_database


class SeedError(RuntimeError):
    """The running stack refused a demo listing; the message says why."""


def _issuer(settings: Settings) -> TokenIssuer:
    ensure_keypair(settings.private_key_path, settings.public_key_path)
    return TokenIssuer(
        settings.private_key_path.read_bytes(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )


def publish(
    client: httpx.Client,
    token: str,
    body: dict[str, Any],
    data: Path,
    content_type: str = "text/csv",
    reviewer_token: str | None = None,
) -> dict[str, Any]:
    """Create, upload, get reviewed when sensitive, and publish one listing."""
    headers = {"Authorization": f"Bearer {token}"}
    created = client.post("/v1/listings", json=body, headers=headers)
    created.raise_for_status()
    listing_id = created.json()["id"]
    with data.open("rb") as handle:
        uploaded = client.post(
            f"/v1/listings/{listing_id}/versions",
            content=handle,
            headers={**headers, "Content-Type": content_type},
        )
    uploaded.raise_for_status()
    version = uploaded.json()["latest_version"]
    if uploaded.json()["versions"][-1]["inspection_passed"] is False:
        report = client.get(
            f"/v1/listings/{listing_id}/versions/{version}/inspection", headers=headers
        )
        raise SeedError(f"{body['title_en']}: the inspection found personal data: {report.text}")
    if uploaded.json()["review_status"] == "pending" and reviewer_token:
        reviewer = {"Authorization": f"Bearer {reviewer_token}"}
        # The operator decides with the inspection report in view.
        report = client.get(
            f"/v1/listings/{listing_id}/versions/{version}/inspection", headers=reviewer
        )
        report.raise_for_status()
        scanned = ", ".join(report.json()["columns_scanned"])
        reviewed = client.post(
            f"/v1/listings/{listing_id}/review",
            json={
                "decision": "approve",
                "note": f"demo data, synthetic; inspected clean ({scanned})",
            },
            headers=reviewer,
        )
        reviewed.raise_for_status()
    published = client.post(f"/v1/listings/{listing_id}/publish", headers=headers)
    published.raise_for_status()
    result: dict[str, Any] = published.json()
    return result


def verify_buyers(client: httpx.Client, operator_token: str) -> list[dict[str, Any]]:
    """The operator verifies the demo buyers: pricing grants segment discounts only to these."""
    verified: list[dict[str, Any]] = []
    for buyer in DEMO_BUYERS:
        response = client.post(
            f"/v1/organisations/{buyer.code}/verification",
            json={
                "tax_code": buyer.tax_code,
                "registered_name": buyer.registered_name,
                "segment": buyer.segment,
            },
            headers={"Authorization": f"Bearer {operator_token}"},
        )
        response.raise_for_status()
        verified.append(response.json())
    return verified


def _terms_line(listing: dict[str, Any]) -> str:
    review = listing["review_status"].replace("_", " ")
    return (
        f"{listing['title_en']}: inspected clean, review {review}, "
        f"approval {listing['approval']}, purposes {', '.join(listing['allowed_purposes'])}"
    )


def seed_demo(settings: Settings, adult_dir: Path, console: Console) -> list[tuple[str, str, int]]:
    issuer = _issuer(settings)
    engine = make_engine(
        settings.model_copy(
            update={"service_name": "catalog", "database_url": None}
        ).resolved_database_url
    )
    migrate_database(engine, "catalog")
    rng = random.Random(20251125)
    register_organisation(engine, "vndx-ops", "Vận hành sàn giao dịch dữ liệu")
    operator = issuer.issue("vndx-ops", "operator")
    datasets = demo_datasets()
    created: list[tuple[str, str, int]] = []
    with (
        httpx.Client(base_url=settings.catalog_url, timeout=120) as client,
        tempfile.TemporaryDirectory() as tmp,
        Progress(console=console) as progress,
    ):
        task = progress.add_task("seeding", total=len(datasets) + 2)
        for buyer in verify_buyers(client, operator):
            console.print(f"verified buyer {buyer['code']} ({buyer['segment']})")
        progress.advance(task)
        for dataset in datasets:
            register_organisation(engine, dataset.org, dataset.org_name)
            path = Path(tmp) / f"{dataset.org}.csv"
            dataset.write_csv(path, dataset.rows, rng)
            token = issuer.issue(dataset.org, "provider")
            listing = publish(client, token, dataset.listing, path, reviewer_token=operator)
            created.append((dataset.org, listing["title_vi"], listing["row_count"]))
            console.print(_terms_line(listing))
            progress.advance(task)
        adult_csv = adult_dir / "adult.csv"
        if adult_csv.exists():
            register_organisation(engine, "gso", "Tổng cục Thống kê")
            token = issuer.issue("gso", "provider")
            listing = publish(
                client, token, adult_listing(adult_dir), adult_csv, reviewer_token=operator
            )
            created.append(("gso", listing["title_vi"], listing["row_count"]))
            console.print(_terms_line(listing))
        else:
            console.print(f"[yellow]{adult_csv} not found; the Adult listing was skipped[/yellow]")
        progress.advance(task)
    return created
