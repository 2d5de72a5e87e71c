"""A published listing's preview: what a buyer would get, without any row of it.

The preview is computed from the anonymised form of the listing's latest version:
the raw file is read exactly as an extract build reads it and anonymised by the
same engine under the listing's targets (k raised by ``min_k``), with a throwaway
pseudonym key; the column profiles are then measured on that extract with the
masking rules of ``domain.preview_profile`` and the files are deleted. Nothing
of a direct identifier is shown. The result is computed once per listing version
and k target and cached in the database; a version whose targets cannot be met
is cached as unavailable. Computations run one at a time on a worker thread; a
request waits for its preview up to ``PREVIEW_WAIT_S`` and is otherwise told to
come back (the computation goes on and fills the cache).
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy.exc import IntegrityError

from services.access import listing_terms
from services.access.adapters.orm import ListingVersionRow
from services.access.adapters.terms_orm import PreviewRow
from services.access.anonymisation import build_extract
from services.access.domain import AnonymisationFailed, ColumnRule, PrivacyTargets
from services.access.domain.listing_rules import plan_from_columns
from services.access.domain.preview_profile import (
    TOP_VALUES,
    categorical_profile,
    fine_origin,
    histogram_profile,
    merge_bins,
    nice_step,
    synthetic_rows,
    withheld_profile,
)
from services.access.handlers import AccessContext
from services.common.db import reading, transaction
from services.common.objectstore import ObjectStore

PREVIEW_WAIT_S = 20.0
PREVIEW_RETRY_AFTER_S = 10
# One preview at a time per process: each is a whole extract build.
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
_running: dict[tuple[str, int, int], Future[dict[str, Any]]] = {}
_running_guard = threading.Lock()


class ListingNotFound(Exception):
    """No such listing, or not published (or without a data version)."""


class PreviewPending(Exception):
    """The preview is being computed; ask again after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the preview is being computed; try again in {retry_after_s} s")
        self.message = str(self)
        self.retry_after_s = retry_after_s


class PreviewUnavailable(Exception):
    """The listing's privacy targets cannot be met, so there is nothing to preview."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PreviewSource:
    """The listing version to preview and the targets its extracts are built to."""

    listing_id: str
    version: int
    object_key: str
    format: str
    columns: list[dict[str, Any]]
    targets: PrivacyTargets


def get_preview(
    ctx: AccessContext, listing_id: str, wait_s: float = PREVIEW_WAIT_S
) -> dict[str, Any]:
    """The cached preview of the listing's latest version, computing it the first time.

    Raises ``ListingNotFound``, ``PreviewUnavailable`` (targets out of reach) or
    ``PreviewPending`` (not ready within ``wait_s``).
    """
    source = _source(ctx, listing_id)
    cached = _cached(ctx, source)
    if cached is not None:
        return cached
    key = (source.listing_id, source.version, source.targets.k)
    with _running_guard:
        future = _running.get(key)
        if future is None:
            future = _pool.submit(_compute_and_store, ctx, source)
            _running[key] = future
            future.add_done_callback(lambda _done: _forget(key))
    try:
        return future.result(timeout=wait_s)
    except TimeoutError as exc:
        raise PreviewPending(PREVIEW_RETRY_AFTER_S) from exc


def _forget(key: tuple[str, int, int]) -> None:
    with _running_guard:
        _running.pop(key, None)


def _compute_and_store(ctx: AccessContext, source: PreviewSource) -> dict[str, Any]:
    cached = _cached(ctx, source)
    if cached is not None:
        return cached
    try:
        preview = compute_preview(ctx.extracts.store, source, ctx.extracts.work_root)
    except AnonymisationFailed as exc:
        _store(ctx, source, None, f"{exc.reason}: {exc.detail}")
        raise PreviewUnavailable(_unavailable(f"{exc.reason}: {exc.detail}")) from exc
    _store(ctx, source, preview, None)
    return preview


def _unavailable(error: str) -> str:
    return f"no preview: the listing's privacy targets cannot be met ({error[:300]})"


def _source(ctx: AccessContext, listing_id: str) -> PreviewSource:
    try:
        uuid.UUID(listing_id)
    except ValueError as exc:
        raise ListingNotFound(listing_id) from exc
    with reading(ctx.engine) as session:
        terms = listing_terms.listing_terms(session, listing_id)
        if terms is None or terms.status != "published" or terms.latest_version is None:
            raise ListingNotFound(listing_id)
        version = session.get(ListingVersionRow, (listing_id, terms.latest_version))
        if version is None:
            raise ListingNotFound(listing_id)
        return PreviewSource(
            listing_id=listing_id,
            version=version.version,
            object_key=version.object_key,
            format=version.format,
            columns=json.loads(version.columns_json),
            targets=listing_terms.targets_for(session, listing_id, ctx.targets()),
        )


def _cached(ctx: AccessContext, source: PreviewSource) -> dict[str, Any] | None:
    with reading(ctx.engine) as session:
        row = session.get(PreviewRow, (source.listing_id, source.version))
        if row is None or row.k != source.targets.k:
            return None
        if row.error is not None:
            raise PreviewUnavailable(_unavailable(row.error))
        assert row.preview_json is not None
        preview: dict[str, Any] = json.loads(row.preview_json)
        return preview


def _store(
    ctx: AccessContext, source: PreviewSource, preview: dict[str, Any] | None, error: str | None
) -> None:
    try:
        with transaction(ctx.engine) as session:
            row = session.get(PreviewRow, (source.listing_id, source.version)) or PreviewRow(
                listing_id=source.listing_id, version=source.version, k=source.targets.k
            )
            row.k = source.targets.k
            row.preview_json = json.dumps(preview, ensure_ascii=False) if preview else None
            row.error = error
            row.created_at = datetime.now(UTC)
            session.add(row)
    except IntegrityError:
        pass  # another replica stored the same version's preview first


def compute_preview(
    store: ObjectStore, source: PreviewSource, work_root: Path | None = None
) -> dict[str, Any]:
    """Anonymise the version as an extract build would, and profile the result."""
    if work_root is not None:
        work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"preview-{source.listing_id}-", dir=work_root))
    try:
        raw = work / f"raw.{source.format}"
        store.get_file(source.object_key, raw)
        plan = plan_from_columns(source.columns)
        result = build_extract(
            raw,
            "parquet" if source.format == "parquet" else "csv",
            plan.rules,
            source.targets,
            secrets.token_bytes(32),  # pseudonyms are never shown; the key is thrown away
            work / "out",
            plan.hierarchies,
        )
        raw.unlink()
        columns = profile_extract(
            result.parquet_path, plan.rules, result.figures.levels, source.targets.k, work
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures = result.figures
    return {
        "listing_id": source.listing_id,
        "version": source.version,
        "row_count": result.rows_in,
        "released_rows": result.rows_out,
        "k": source.targets.k,
        "privacy": {
            "k": figures.k,
            "l_diversity": figures.l,
            "suppression_share": figures.suppression_share,
        },
        "columns": columns,
        "synthetic_rows": synthetic_rows(columns, seed=f"{source.listing_id}:{source.version}"),
        "computed_at": datetime.now(UTC).isoformat(),
    }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def profile_extract(
    parquet: Path, rules: list[ColumnRule], levels: dict[str, int], k: int, spill: Path
) -> list[dict[str, Any]]:
    """Each listing column with its classification, treatment and masked profile."""
    schema = pq.read_schema(parquet)
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "512MB"})
    try:
        con.execute("SET temp_directory = $1", [str(spill)])
        path = str(parquet).replace("'", "''")
        con.execute(f"CREATE VIEW extract AS SELECT * FROM read_parquet('{path}')")
        return [_column(con, schema, rule, levels, k) for rule in rules]
    finally:
        con.close()


def _column(
    con: duckdb.DuckDBPyConnection,
    schema: pa.Schema,
    rule: ColumnRule,
    levels: dict[str, int],
    k: int,
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": rule.name,
        "type": rule.type,
        "classification": rule.classification,
    }
    if rule.classification == "direct_identifier":
        released = "pseudonymised" if rule.keep_as_pseudonym else "dropped"
        return described | {"released_as": released, "profile": withheld_profile()}
    if rule.classification == "quasi_identifier":
        described |= {"released_as": "generalised", "generalisation_level": levels[rule.name]}
    else:
        described |= {"released_as": "kept"}
    data_type = schema.field(rule.name).type
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    numeric = pa.types.is_integer(data_type) or pa.types.is_floating(data_type)
    if numeric:
        profile = _histogram(con, rule.name, k, integer=pa.types.is_integer(data_type))
    else:
        profile = _categorical(con, rule.name, k)
    return described | {"profile": profile}


def _categorical(con: duckdb.DuckDBPyConnection, name: str, k: int) -> dict[str, Any]:
    column = _quote(name)
    non_null, nulls = _one(
        con,
        f"SELECT count({column}), count(*) - count({column}) FROM extract",
    )
    top = con.execute(
        f"SELECT CAST({column} AS VARCHAR) AS v, count(*) AS n FROM extract "
        f"WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT {TOP_VALUES}"
    ).fetchall()
    return categorical_profile([(str(v), int(n)) for v, n in top], non_null, nulls, k)


def _histogram(
    con: duckdb.DuckDBPyConnection, name: str, k: int, *, integer: bool
) -> dict[str, Any]:
    value = f"CAST({_quote(name)} AS DOUBLE)"
    present = f"{value} IS NOT NULL AND isfinite({value})"
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE {present}), count(*), "
        f"min({value}) FILTER (WHERE {present}), max({value}) FILTER (WHERE {present}) "
        "FROM extract"
    ).fetchone()
    assert row is not None
    non_null, low, high = int(row[0]), row[2], row[3]
    nulls = int(row[1]) - non_null  # NaN and infinities count as missing
    if non_null == 0:
        return histogram_profile([], 0, nulls, k, integer=integer)
    step = nice_step(float(high) - float(low), integer=integer)
    origin = fine_origin(float(low), step)
    counts = con.execute(
        f"SELECT CAST(floor(({value} - $1) / $2) AS BIGINT), count(*) FROM extract "
        f"WHERE {present} GROUP BY 1",
        [origin, step],
    ).fetchall()
    bins = merge_bins({int(b): int(n) for b, n in counts}, origin, step, k)
    return histogram_profile(bins, non_null, nulls, k, integer=integer)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, int]:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
