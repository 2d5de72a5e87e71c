"""Run one checked query over one grant's extract in a locked-down, in-process DuckDB.

The extract is copied into an in-memory table first; then every directory is
taken off the allowed list, external access is switched off and the configuration
is locked, in that order (a later ``SET`` cannot undo it). From then on no file
can be read, not even one beside the extract: should the checker in
``sql_policy`` ever let a reader through, it still finds nothing (the fuzz test in
``tests/reliability/test_sandbox_fuzz.py`` holds both lines). A timer interrupts a query that runs too
long; at most ``max_rows`` rows come back. Groups and cells fed by fewer than k
rows are suppressed as ``sql_policy`` explains.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from services.access.adapters.sql_policy import ROWS_COMPANION, TABLE, CheckedQuery, QueryRefused


class QueryTimedOut(Exception):
    """The query ran longer than the sandbox allows."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    suppressed_cells: int
    suppressed_groups: int
    truncated: bool


def locked_connection(parquet_path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the extract as table ``extract``, locked down."""
    con = duckdb.connect(":memory:", config={"threads": 2, "memory_limit": "1GB"})
    try:
        con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM read_parquet($1)", [str(parquet_path)])
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET allowed_directories = []")
        con.execute("SET allowed_paths = []")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def run_query(
    parquet_path: Path, query: CheckedQuery, *, k: int, timeout_s: float, max_rows: int
) -> QueryResult:
    con = locked_connection(parquet_path)
    timer = threading.Timer(timeout_s, con.interrupt)
    timer.start()
    try:
        cursor = con.execute(query.sql)
        names = [d[0] for d in cursor.description or []]
        fetched = cursor.fetchmany(max_rows + 1)
    except duckdb.InterruptException as exc:
        raise QueryTimedOut(f"the query ran longer than {timeout_s:g} s") from exc
    except duckdb.Error as exc:
        raise QueryRefused(str(exc).splitlines()[0][:300]) from exc
    finally:
        timer.cancel()
        con.close()
    return _suppress(query, names, fetched, k, max_rows)


def _suppress(
    query: CheckedQuery, names: list[str], fetched: list[tuple[Any, ...]], k: int, max_rows: int
) -> QueryResult:
    position = {name: i for i, name in enumerate(names)}
    visible = len(names) - sum(len(c) for c in query.cell_companions) - 1
    rows: list[list[Any]] = []
    suppressed_cells = suppressed_groups = 0
    for record in fetched[:max_rows]:
        if (record[position[ROWS_COMPANION]] or 0) < k:
            suppressed_groups += 1
            suppressed_cells += visible
            continue
        row = list(record[:visible])
        for index, companions in enumerate(query.cell_companions[:visible]):
            if any((record[position[c]] or 0) < k for c in companions):
                row[index] = None
                suppressed_cells += 1
        rows.append(row)
    return QueryResult(
        columns=names[:visible],
        rows=rows,
        suppressed_cells=suppressed_cells,
        suppressed_groups=suppressed_groups,
        truncated=len(fetched) > max_rows,
    )
