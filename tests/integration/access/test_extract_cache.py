"""Grants of one recipe share a build, never its objects; pseudonymised extracts never share.

Access keeps extracts without pseudonyms in memory, keyed by raw object, plan and
targets, and copies them under each new grant's own prefix; the raw files of
versions stay on local disk for builds that cannot share. Counted on ``/metrics``.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from services.access.adapters import raw_cache
from services.access.adapters.raw_cache import RawFileCache
from tests.integration.access.conftest import Exchange, write_population

HITS = "vndx_extract_cache_hits_total"
MISSES = "vndx_extract_cache_misses_total"
BUILDS = "vndx_extract_build_seconds_count"
RAW_HITS = "vndx_raw_cache_hits_total"


def _buyer() -> str:
    return f"startup-{uuid.uuid4().hex[:6]}"


def _metrics(exchange: Exchange) -> dict[str, float]:
    text = exchange.client.get("/metrics").text
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def _growth(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in (HITS, MISSES, BUILDS)}


def _without_pseudonyms(columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "keep_as_pseudonym": False} for c in columns]


@pytest.fixture(scope="module")
def shared(exchange: Exchange) -> tuple[str, list[dict[str, Any]]]:
    """A listing whose extract is the same for every buyer (its identifiers are dropped)."""
    raw, columns = write_population(exchange.tmp / "shared.csv", 400, seed=11)
    columns = _without_pseudonyms(columns)
    return exchange.publish_listing("bca-c06", columns, raw), columns


def test_two_grants_of_one_recipe_share_one_build_but_not_their_objects(
    exchange: Exchange, shared: tuple[str, list[dict[str, Any]]]
) -> None:
    listing_id, _ = shared
    before = _metrics(exchange)
    first = exchange.buy(_buyer(), listing_id)
    after_first = _metrics(exchange)
    second = exchange.buy(_buyer(), listing_id)
    after_second = _metrics(exchange)

    assert first["status"] == second["status"] == "issued", (first, second)
    assert _growth(before, after_first) == {HITS: 0, MISSES: 1, BUILDS: 1}
    assert _growth(after_first, after_second) == {HITS: 1, MISSES: 0, BUILDS: 0}
    for grant in (first, second):
        keys = exchange.store.list_keys(f"sandbox/{grant['id']}/")
        assert sorted(keys) == [
            f"sandbox/{grant['id']}/extract.csv",
            f"sandbox/{grant['id']}/extract.parquet",
        ]
    for fmt in ("parquet", "csv"):
        files = [exchange.download(g, fmt) for g in (first, second)]
        assert [f.status_code for f in files] == [200, 200]
        assert files[0].content == files[1].content
    assert first["privacy"] == second["privacy"] and first["rows"] == second["rows"]


def test_revoking_one_of_two_grants_sharing_a_recipe_leaves_the_other_downloadable(
    exchange: Exchange, shared: tuple[str, list[dict[str, Any]]]
) -> None:
    listing_id, _ = shared
    kept, revoked = (exchange.buy(_buyer(), listing_id) for _ in range(2))
    kept_bytes = exchange.download(kept).content
    doomed = exchange.client.post(
        f"/v1/grants/{revoked['id']}/download", headers=exchange.auth(revoked["buyer_org"])
    ).json()["url"]
    answer = exchange.client.post(
        f"/v1/grants/{revoked['id']}/revoke",
        json={"reason": "purpose breached"},
        headers=exchange.auth("mic", "regulator"),
    )
    assert answer.status_code == 200, answer.text
    assert httpx.get(doomed).status_code == 403
    assert exchange.store.list_keys(f"sandbox/{revoked['id']}/") == []
    again = exchange.download(kept)
    assert again.status_code == 200 and again.content == kept_bytes


def test_pseudonymised_grants_are_each_built_with_their_own_pseudonyms(
    exchange: Exchange,
) -> None:
    raw, columns = write_population(exchange.tmp / "pseudonymised.csv", 400, seed=12)
    assert any(c.get("keep_as_pseudonym") for c in columns)
    listing_id = exchange.publish_listing("bca-c06", columns, raw)
    before = _metrics(exchange)
    first, second = (exchange.buy(_buyer(), listing_id) for _ in range(2))
    after = _metrics(exchange)

    assert first["status"] == second["status"] == "issued", (first, second)
    assert _growth(before, after) == {HITS: 0, MISSES: 0, BUILDS: 2}
    assert after[RAW_HITS] - before.get(RAW_HITS, 0.0) >= 1  # downloaded once, not per grant
    pseudonyms = [
        pq.read_table(io.BytesIO(exchange.download(g).content)).column("citizen_id").to_pylist()
        for g in (first, second)
    ]
    assert pseudonyms[0] and not set(pseudonyms[0]) & set(pseudonyms[1])


def test_a_new_version_of_a_listing_is_built_afresh(exchange: Exchange) -> None:
    raw, columns = write_population(exchange.tmp / "v1.csv", 400, seed=13)
    columns = _without_pseudonyms(columns)
    listing_id = exchange.publish_listing("bca-c06", columns, raw)
    first = exchange.buy(_buyer(), listing_id)
    raw_2, _ = write_population(exchange.tmp / "v2.csv", 600, seed=14)
    exchange.announce_listing("bca-c06", columns, raw_2, listing_id=listing_id, version=2)
    before = _metrics(exchange)
    order = exchange.paid(_buyer(), listing_id).model_copy(update={"listing_version": 2})
    exchange.emit(order)
    second = exchange.grant_for(order)
    after = _metrics(exchange)

    assert first["status"] == second["status"] == "issued", (first, second)
    assert _growth(before, after) == {HITS: 0, MISSES: 1, BUILDS: 1}
    rows = [len(pq.read_table(io.BytesIO(exchange.download(g).content))) for g in (first, second)]
    assert rows == [first["rows"], second["rows"]]
    assert rows[0] <= 400 < rows[1] <= 600


def test_the_raw_file_cache_keeps_to_its_bound(exchange: Exchange, tmp_path: Path) -> None:
    keys = []
    for n in range(3):
        raw, _ = write_population(tmp_path / f"raw-{n}.csv", 300, seed=20 + n)
        key = f"raw/test/{uuid.uuid4()}/1/data.csv"
        exchange.store.put_file(key, raw, "text/csv")
        keys.append((key, raw.read_bytes()))
    size = max(len(data) for _, data in keys)
    cache = RawFileCache(exchange.store, tmp_path / "cache", max_bytes=2 * size + 1)
    for n, (key, data) in enumerate(keys * 2):
        dest = tmp_path / f"build-{n}.csv"
        cache.provide(key, dest)
        assert dest.read_bytes() == data
        assert cache.total_bytes <= 2 * size + 1
    too_small = RawFileCache(exchange.store, tmp_path / "tiny", max_bytes=10)
    too_small.provide(keys[0][0], tmp_path / "big.csv")
    assert (tmp_path / "big.csv").read_bytes() == keys[0][1]
    assert too_small.total_bytes == 0


def test_raw_files_stay_only_while_in_use(exchange: Exchange, tmp_path: Path) -> None:
    """Raw files hold personal data: an idle copy goes, and a new process starts empty."""
    raw, _ = write_population(tmp_path / "raw.csv", 100, seed=31)
    keys = [f"raw/test/{uuid.uuid4()}/1/data.csv" for _ in range(2)]
    for key in keys:
        exchange.store.put_file(key, raw, "text/csv")
    folder = tmp_path / "cache"
    cache = RawFileCache(exchange.store, folder, max_bytes=10 * 1024**2)
    cache.provide(keys[0], tmp_path / "first.csv")
    (idle,) = list(folder.iterdir())
    long_ago = time.time() - raw_cache.IDLE_S - 60
    os.utime(idle, (long_ago, long_ago))
    cache.provide(keys[1], tmp_path / "second.csv")  # evicts on the way out
    assert not idle.exists()
    assert cache.total_bytes == raw.stat().st_size
    RawFileCache(exchange.store, folder, max_bytes=10 * 1024**2)
    assert not folder.exists() or not any(folder.iterdir())
