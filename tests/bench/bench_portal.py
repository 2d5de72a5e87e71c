"""Portal benchmark: server time of the catalog and listing pages, and bytes per page.

Starts the embedded stack with catalog, pricing and the portal as real processes,
seeds the demo listings (Adult census included), then requests each page 200
times, one after another, over one keep-alive connection (``http.client``: a light
client). Prints the portal's own ``Server-Timing`` (time inside the app, API calls
included) and the client-side round trip, p50 and p95, beside the goal (p95 <
50 ms); and the bytes each page needs with its scripts and styles, as sent
(gzip) and uncompressed, beside the goal (< 150 kB).

    python -m tests.bench.bench_portal [--requests 200]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from tests.conftest import shared_dir
from vndx.seed import seed_demo
from vndx.stack import EmbeddedStack, StackConfig

console = Console(width=140)
GOAL_P95_MS = 50.0
GOAL_PAGE_KB = 150.0
ASSET = re.compile(r'<(?:script[^>]+src|link[^>]+rel="stylesheet"[^>]+href)="([^"]+)"')
SERVER_TIMING = re.compile(r"app;dur=([\d.]+)")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _get(connection: http.client.HTTPConnection, path: str) -> tuple[bytes, dict[str, str]]:
    connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status)
    return body, {k.lower(): v for k, v in response.getheaders()}


def measure_page(base: str, path: str, requests: int) -> dict[str, Any]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    _get(connection, path)
    server: list[float] = []
    round_trip: list[float] = []
    for _ in range(requests):
        began = time.perf_counter()
        _, headers = _get(connection, path)
        round_trip.append((time.perf_counter() - began) * 1000)
        found = SERVER_TIMING.search(headers.get("server-timing", ""))
        if found:
            server.append(float(found.group(1)))
    sent = raw = 0
    body, headers = _get(connection, path)
    html = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
    sent, raw = len(body), len(html)
    for asset in ASSET.findall(html.decode()):
        asset_body, asset_headers = _get(connection, asset)
        sent += len(asset_body)
        gzipped = asset_headers.get("content-encoding") == "gzip"
        raw += len(gzip.decompress(asset_body)) if gzipped else len(asset_body)
    connection.close()
    return {
        "page": path.split("?")[0] if "listings" in path else path,
        "server_p50_ms": statistics.median(server),
        "server_p95_ms": _percentile(server, 0.95),
        "round_trip_p95_ms": _percentile(round_trip, 0.95),
        "sent_kb": sent / 1024,
        "raw_kb": raw / 1024,
    }


def run(requests: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="bench-portal-") as workdir:
        stack = EmbeddedStack(
            StackConfig.on_free_ports(Path(workdir), services=["catalog", "pricing", "portal"])
        )
        stack.start()
        try:
            with console.status("seeding the demo listings…"):
                seed_demo(stack.settings("vndx"), shared_dir() / "datasets" / "adult", console)
            base = stack.url("portal")
            import httpx

            census = httpx.get(
                f"{stack.url('catalog')}/v1/listings", params={"q": "census"}, timeout=10
            ).json()["items"][0]
            pages = ["/privacy", "/", "/?q=dieu+tra+dan+so", f"/listings/{census['id']}"]
            return [measure_page(base, page, requests) for page in pages]
        finally:
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    rows = run(args.requests)
    table = Table(title=f"portal pages, {args.requests} sequential requests each (http.client)")
    for column in (
        "page",
        "server p50",
        "server p95",
        "goal",
        "round trip p95",
        "kB sent (gzip)",
        "kB raw",
        "goal",
    ):
        table.add_column(column, justify="left" if column == "page" else "right")
    for row in rows:
        table.add_row(
            row["page"],
            f"{row['server_p50_ms']:.1f} ms",
            f"{row['server_p95_ms']:.1f} ms",
            f"< {GOAL_P95_MS:.0f} ms",
            f"{row['round_trip_p95_ms']:.1f} ms",
            f"{row['sent_kb']:.1f}",
            f"{row['raw_kb']:.1f}",
            f"< {GOAL_PAGE_KB:.0f} kB",
        )
    console.print(table)


if __name__ == "__main__":
    main()
