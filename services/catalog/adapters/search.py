"""Full-text search over published listings: SQLite FTS5 or PostgreSQL tsvector.

Both index the accent-folded title (weighted higher) and body, and take the
folded query's whole terms joined by AND, ranked by relevance. (Prefix terms were
dropped: a one-syllable Vietnamese prefix matches most of a catalog.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from services.catalog.domain.search_text import tokens

_PG_VECTOR = (
    "(setweight(to_tsvector('simple', search_title), 'A') || "
    "setweight(to_tsvector('simple', search_body), 'B'))"
)


@dataclass(frozen=True)
class SearchFilters:
    q: str = ""
    theme: str | None = None
    publisher: str | None = None
    province: str | None = None
    product: str | None = None
    purpose: str | None = None
    approval: str | None = None


@dataclass(frozen=True)
class SearchPage:
    ids: list[str]
    total: int


def install_search_index(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE VIRTUAL TABLE IF NOT EXISTS listing_fts USING fts5("
                "title, body, tokenize = 'unicode61 remove_diacritics 2')"
            )
        else:
            connection.exec_driver_sql(
                f"CREATE INDEX IF NOT EXISTS ix_listings_search ON listings USING gin ({_PG_VECTOR})"
            )


def index_listing(session: Session, listing_id: str, title: str, body: str) -> None:
    """Keep the SQLite FTS table in step with a listing (PostgreSQL indexes by expression).

    The FTS row shares the listing row's SQLite ``rowid``, so an update is an
    indexed delete and insert rather than a scan; the listing row must be flushed.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    session.flush()
    rowid = session.execute(
        text("SELECT rowid FROM listings WHERE id = :id"), {"id": listing_id}
    ).scalar_one()
    session.execute(text("DELETE FROM listing_fts WHERE rowid = :rowid"), {"rowid": rowid})
    session.execute(
        text("INSERT INTO listing_fts (rowid, title, body) VALUES (:rowid, :title, :body)"),
        {"rowid": rowid, "title": title, "body": body},
    )


def _filters_sql(filters: SearchFilters, params: dict[str, object]) -> str:
    clauses = ["l.status = 'published'"]
    if filters.theme:
        clauses.append("l.theme = :theme")
        params["theme"] = filters.theme
    if filters.publisher:
        clauses.append("l.org = :publisher")
        params["publisher"] = filters.publisher
    if filters.province:
        # A national listing (no provinces) covers every province.
        clauses.append("(l.provinces = '[]' OR l.provinces LIKE :province)")
        params["province"] = f"%{json.dumps(filters.province)}%"
    if filters.product:
        clauses.append("l.products LIKE :product")
        params["product"] = f"%{json.dumps(filters.product)}%"
    if filters.purpose:
        clauses.append("l.allowed_purposes LIKE :purpose")
        params["purpose"] = f"%{json.dumps(filters.purpose)}%"
    if filters.approval:
        clauses.append("l.approval = :approval")
        params["approval"] = filters.approval
    return " AND ".join(clauses)


def search(connection: Connection, filters: SearchFilters, offset: int, limit: int) -> SearchPage:
    params: dict[str, object] = {"limit": limit, "offset": offset}
    where = _filters_sql(filters, params)
    terms = tokens(filters.q)
    if not terms:
        total = connection.execute(text(f"SELECT count(*) FROM listings l WHERE {where}"), params)
        rows = connection.execute(
            text(
                f"SELECT l.id FROM listings l WHERE {where} "
                "ORDER BY l.updated_at DESC, l.id LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        return SearchPage([r[0] for r in rows], int(total.scalar_one()))
    if connection.dialect.name == "sqlite":
        params["match"] = " AND ".join(f'"{t}"' for t in terms)
        base = (
            # CROSS JOIN keeps the FTS match as the outer loop (SQLite's planner
            # otherwise walks every published listing and probes the index per row).
            "FROM listing_fts f CROSS JOIN listings l ON l.rowid = f.rowid "
            f"WHERE listing_fts MATCH :match AND {where}"
        )
        order = "ORDER BY bm25(listing_fts, 4.0, 1.0), l.id"
    else:
        params["match"] = " & ".join(terms)
        base = f"FROM listings l WHERE {_PG_VECTOR} @@ to_tsquery('simple', :match) AND {where}"
        order = f"ORDER BY ts_rank({_PG_VECTOR}, to_tsquery('simple', :match)) DESC, l.id"
    total = connection.execute(text(f"SELECT count(*) {base}"), params).scalar_one()
    rows = connection.execute(
        text(f"SELECT l.id {base} {order} LIMIT :limit OFFSET :offset"), params
    )
    return SearchPage([r[0] for r in rows], int(total))
