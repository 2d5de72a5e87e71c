"""Sandbox SQL: which queries run, how they are rewritten, and what is suppressed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from services.access.adapters.sandbox import QueryTimedOut, locked_connection, run_query
from services.access.adapters.sql_policy import QueryRefused, check_query


@pytest.fixture(scope="module")
def extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 rows: town 'rare' for 2 of them, 'common' for the rest."""
    path = tmp_path_factory.mktemp("extract") / "extract.parquet"
    duckdb.sql(
        "COPY (SELECT (i % 2)::VARCHAR AS sex, i % 7 AS age,"
        " CASE WHEN i < 2 THEN 'rare' ELSE 'common' END AS town,"
        " CASE WHEN i % 10 = 0 THEN NULL ELSE i END AS income"
        f" FROM range(100) t(i)) TO '{path}' (FORMAT parquet)"
    )
    return path


def _run(path: Path, sql: str, max_rows: int = 100) -> object:
    return run_query(path, check_query(sql), k=5, timeout_s=10, max_rows=max_rows)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "only the table"),
        ("COPY extract TO '/tmp/x.csv'", "only SELECT"),
        ("ATTACH '/tmp/x.db'", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("SET threads = 1", "only SELECT"),
        ("SELECT count(*) FROM extract; SELECT 1", "exactly one"),
        ("SELECT town FROM extract", "row-level"),
        ("SELECT DISTINCT town FROM extract", "GROUP BY"),
        ("WITH t AS (SELECT * FROM extract) SELECT count(*) FROM t", "WITH"),
        ("SELECT count(*) FROM extract a JOIN extract b USING (sex)", "only the table"),
        ("SELECT sex, count(*) FILTER (WHERE age = 1) FROM extract GROUP BY sex", "FILTER"),
        ("SELECT sex, sum(CASE WHEN age = 1 THEN income END) FROM extract GROUP BY sex", "plain"),
        ("SELECT sex, string_agg(town, ',') FROM extract GROUP BY sex", "not allowed"),
        ("SELECT sex, count(*) OVER () FROM extract", "window"),
        ("SELECT *, count(*) FROM extract GROUP BY ALL", "name the columns"),
        ("SELECT sex, count(*) AS __vndx_rows FROM extract GROUP BY sex", "reserved"),
        ("SELEC nothing", "does not parse"),
    ],
)
def test_unsafe_queries_are_refused_saying_why(sql: str, why: str) -> None:
    with pytest.raises(QueryRefused, match=why):
        check_query(sql)


def test_groups_under_k_are_dropped_whole(extract: Path) -> None:
    result = _run(extract, "SELECT town, count(*) AS n FROM extract GROUP BY town")
    assert result.columns == ["town", "n"]  # type: ignore[attr-defined]
    assert result.rows == [["common", 98]]  # type: ignore[attr-defined]
    assert result.suppressed_groups == 1 and result.suppressed_cells == 2  # type: ignore[attr-defined]


def test_a_cell_fed_by_fewer_than_k_rows_is_blanked(extract: Path) -> None:
    result = _run(
        extract,
        "SELECT sex, count(*) AS n, avg(income) AS mean FROM extract WHERE age < 7 GROUP BY sex",
    )
    assert {row[0] for row in result.rows} == {"0", "1"}  # type: ignore[attr-defined]
    sparse = _run(
        extract, "SELECT town, count(income) AS n FROM extract WHERE town = 'common' GROUP BY town"
    )
    assert sparse.rows == [["common", 89]]  # type: ignore[attr-defined]


def test_rows_past_the_limit_are_cut(extract: Path) -> None:
    result = _run(extract, "SELECT age, count(*) FROM extract GROUP BY age", max_rows=3)
    assert len(result.rows) == 3 and result.truncated  # type: ignore[attr-defined]


def test_the_engine_itself_refuses_files_after_lockdown(extract: Path) -> None:
    con = locked_connection(extract)
    try:
        for sql in (
            "SELECT * FROM read_csv('/etc/passwd')",
            "SET enable_external_access = true",
            "SET lock_configuration = false",
            "LOAD httpfs",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    finally:
        con.close()


def test_a_slow_query_is_interrupted(tmp_path: Path) -> None:
    big = tmp_path / "extract.parquet"
    duckdb.sql(
        "COPY (SELECT i % 1000 AS age, hash(i) AS income FROM range(3000000) t(i))"
        f" TO '{big}' (FORMAT parquet)"
    )
    slow = check_query(
        "SELECT age, count(DISTINCT income), median(income) FROM extract GROUP BY age"
    )
    with pytest.raises(QueryTimedOut):
        run_query(big, slow, k=5, timeout_s=0.02, max_rows=10)
