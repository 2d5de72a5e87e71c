"""Sandbox SQL fuzz: nothing outside the grant's extract is ever read, no query outlives its limit.

Generated SQL (a grammar of file, HTTP and S3 readers, COPY, EXPORT, ATTACH,
INSTALL/LOAD, SET, PRAGMA, stacked statements, recursive CTEs, subqueries and joins
around legal aggregates), raw text, and a list of known escapes go through the
sandbox exactly as ``POST /v1/grants/{id}/query`` runs them: ``check_query`` then
``run_query`` over a grant's extract. Canaries are planted where an escape would
look: a file next to the extract (inside the folder DuckDB is allowed), files in
the folder above, and an HTTP server on loopback that doubles as an S3 endpoint.
Their content must never come back (in rows, column names or error messages), the
HTTP server must never be asked anything, and every query must end within its
time limit plus a margin (a bound for a loaded machine, not a performance goal).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.access.adapters.sandbox import QueryTimedOut, run_query
from services.access.adapters.sql_policy import CheckedQuery, QueryRefused, check_query

K = 5
TIME_LIMIT_S = 1.0
MARGIN_S = 9.0  # CPU starvation on a shared 2-core machine; a runaway query takes minutes
PASSWD_LINE = "root:x:0:0"
TOKEN = f"CANARY{uuid.uuid4().hex}"


@dataclass
class Canaries:
    extract: Path
    beside: Path  # in the extract's own folder, which DuckDB is allowed to read
    above: Path
    above_parquet: Path
    http_url: str
    http_requests: list[str]

    def paths(self) -> list[str]:
        return [
            str(self.beside),
            str(self.above),
            str(self.above_parquet),
            str(self.above.parent / "*"),
            str(self.extract.parent / "*"),
            "/etc/passwd",
            f"{self.http_url}/canary.csv",
            "s3://vndx-data/raw/gso/listing/1/data.csv",
            "s3://vndx-data/sandbox/another-grant/extract.parquet",
        ]


class _CanaryHandler(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = f"secret\n{TOKEN}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaries]:
    root = tmp_path_factory.mktemp("sandbox-fuzz")
    grant_dir = root / "query-grant"
    grant_dir.mkdir()
    extract = grant_dir / "extract.parquet"
    rows = 400
    pq.write_table(
        pa.table(
            {
                "sex": ["Nam", "Nữ"] * (rows // 2),
                "province": [f"P{n % 4}" for n in range(rows)],
                "age": [f"{20 + 10 * (n % 5)}-{29 + 10 * (n % 5)}" for n in range(rows)],
                "monthly_income": [1_000_000 * (1 + n % 13) for n in range(rows)],
                "diagnosis": [f"ICD-{n % 7}" for n in range(rows)],
            }
        ),
        extract,
    )
    beside = grant_dir / "beside.csv"
    beside.write_text(f"secret\n{TOKEN}\n", encoding="utf-8")
    above = root / "raw.csv"
    above.write_text(f"secret\n{TOKEN}\n", encoding="utf-8")
    above_parquet = root / "other-extract.parquet"
    pq.write_table(pa.table({"secret": [TOKEN]}), above_parquet)

    requests: list[str] = []
    handler = type("Handler", (_CanaryHandler,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Canaries(
            extract=extract,
            beside=beside,
            above=above,
            above_parquet=above_parquet,
            http_url=f"http://127.0.0.1:{server.server_address[1]}",
            http_requests=requests,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert requests == [], f"the sandbox reached the network: {requests}"


def attempt(canaries: Canaries, sql: str) -> str:
    """Run ``sql`` as the sandbox would; return what the buyer would see, checked."""
    started = time.monotonic()
    try:
        checked = check_query(sql)
        result = run_query(canaries.extract, checked, k=K, timeout_s=TIME_LIMIT_S, max_rows=1000)
        seen = f"{result.columns!r} {result.rows!r}"
    except (QueryRefused, QueryTimedOut) as refusal:
        seen = str(refusal)
    elapsed = time.monotonic() - started
    assert TOKEN not in seen, sql
    assert PASSWD_LINE not in seen, sql
    assert elapsed < TIME_LIMIT_S + MARGIN_S, (sql, elapsed)
    assert canaries.http_requests == [], (sql, canaries.http_requests)
    return seen


# --- the grammar -----------------------------------------------------------------

COLUMNS = ["sex", "province", "age", "monthly_income", "diagnosis", "*", "secret", "column0"]
READERS = [
    "read_csv('{p}')",
    "read_csv_auto('{p}')",
    "read_csv('{p}', header = false)",
    "read_text('{p}')",
    "read_blob('{p}')",
    "read_parquet('{p}')",
    "parquet_scan('{p}')",
    "read_json_auto('{p}')",
    "glob('{p}')",
    "sniff_csv('{p}')",
    "parquet_metadata('{p}')",
    "'{p}'",
]
STATEMENTS = [
    "COPY extract TO '{p}'",
    "COPY (SELECT * FROM read_csv('{p}')) TO '{p}.out'",
    "COPY extract FROM '{p}'",
    "EXPORT DATABASE '{p}.dir'",
    "IMPORT DATABASE '{p}.dir'",
    "ATTACH '{p}' AS other",
    "ATTACH ':memory:' AS other",
    "DETACH extract",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL httpfs FROM '{p}'",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "SET lock_configuration = false",
    "RESET lock_configuration",
    "SET s3_endpoint = '{p}'",
    "PRAGMA enable_external_access",
    "PRAGMA show_tables",
    "CALL pragma_table_info('extract')",
    "CREATE TABLE t AS SELECT * FROM read_csv('{p}')",
    "CREATE MACRO m(x) AS x",
    "CREATE VIEW v AS SELECT * FROM '{p}'",
    "INSERT INTO extract SELECT * FROM '{p}'",
    "DROP TABLE extract",
    "UPDATE extract SET sex = 'x'",
    "CHECKPOINT",
    "USE other",
    "SELECT * FROM extract",
    "SELECT getenv('HOME')",
    "SELECT current_setting('allowed_directories')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_extensions()",
]
SCALAR_CALLS = [
    "lower({c})",
    "length({c})",
    "coalesce({c}, {r})",
    "getenv('HOME')",
    "current_setting('temp_directory')",
    "file_exists('{p}')",
    "{r}",
    "(SELECT count(*) FROM {r})",
    "(SELECT max(column0) FROM {r})",
    "list({c})",
    "string_agg({c}, ',')",
    *["count(*)", "count({c})", "sum(monthly_income)", "avg(monthly_income)", "max({c})"] * 3,
    "{c}",
    "sex",
    "province",
]
SOURCES = [
    *["extract"] * 6,
    "{r}",
    "extract, {r}",
    "extract JOIN {r} ON true",
    "extract e",
    "main.extract",
    "(SELECT * FROM {r})",
    "extract USING SAMPLE 10",
    "information_schema.tables",
    "duckdb_settings()",
    "range(100000000)",
]
PREFIXES = [
    *[""] * 6,
    "EXPLAIN ",
    "EXPLAIN ANALYZE ",
    "/* comment */ ",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) ",
    "WITH s AS (SELECT * FROM {r}) ",
]


@st.composite
def sandbox_sql(draw: st.DrawFn, paths: list[str]) -> str:
    def path() -> str:
        return draw(st.sampled_from(paths))

    def reader() -> str:
        return draw(st.sampled_from(READERS)).format(p=path())

    def column() -> str:
        return draw(st.sampled_from(COLUMNS))

    def item() -> str:
        template = draw(st.sampled_from(SCALAR_CALLS))
        return template.format(c=column(), r=reader(), p=path())

    items = ", ".join(item() for _ in range(draw(st.integers(1, 3))))
    source = draw(st.sampled_from(SOURCES)).format(r=reader())
    sql = draw(st.sampled_from(PREFIXES)).format(r=reader()) + f"SELECT {items} FROM {source}"
    if draw(st.integers(0, 3)) == 3:
        sql += f" WHERE {column()} IN (SELECT column0 FROM {reader()})"
    if draw(st.integers(0, 3)) < 3:
        sql += f" GROUP BY {draw(st.sampled_from(['ALL', 'sex', 'province, sex', '1']))}"
    if draw(st.booleans()):
        sql += draw(st.sampled_from([" HAVING count(*) > 0", " ORDER BY 1", " LIMIT 5"]))
    if draw(st.integers(0, 4)) == 4:
        sql += "; " + draw(st.sampled_from(STATEMENTS)).format(p=path())
    return sql


KNOWN_ESCAPES = [
    "SELECT * FROM read_csv('{beside}')",
    "SELECT count(*) FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM '{above}'",
    "SELECT * FROM read_text('{beside}')",
    "SELECT * FROM read_blob('{above}')",
    "SELECT * FROM glob('{folder}/*')",
    "SELECT * FROM read_parquet('{above_parquet}')",
    "SELECT * FROM read_csv('{http}/canary.csv')",
    "SELECT * FROM read_parquet('s3://vndx-data/raw/x/data.parquet')",
    "COPY extract TO '{above}.copy'",
    "COPY (SELECT * FROM read_csv('{beside}')) TO '{above}.copy'",
    "EXPORT DATABASE '{folder}/export'",
    "ATTACH '{above}.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET allowed_directories = ['/']",
    "PRAGMA enable_profiling",
    "SELECT sex, count(*) FROM extract GROUP BY sex; SELECT * FROM read_csv('{beside}')",
    "SELECT sex, count(*) FROM extract GROUP BY sex; COPY extract TO '{above}.copy'",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n FROM t, t AS u) SELECT count(*) FROM t",
    "SELECT count(*) FROM range(1000000000000) a",
    "SELECT sex, count(*) FROM extract, range(100000000) GROUP BY sex",
    "SELECT sex, (SELECT count(*) FROM read_csv('{beside}')) FROM extract GROUP BY sex",
    "SELECT sex, count(*) FROM extract WHERE sex IN (SELECT * FROM read_csv('{beside}')) "
    "GROUP BY sex",
    "SELECT sex, getenv('HOME'), count(*) FROM extract GROUP BY sex",
    "SELECT sex, current_setting('allowed_directories'), count(*) FROM extract GROUP BY sex",
    "SELECT sex, list(province) FROM extract GROUP BY sex",
    "SELECT sex, count(*) FROM extract GROUP BY sex UNION ALL SELECT * FROM '{beside}'",
    "CALL duckdb_settings()",
    "SELECT * FROM duckdb_settings()",
    "EXPLAIN ANALYZE SELECT * FROM read_csv('{beside}')",
]


@pytest.mark.parametrize("template", KNOWN_ESCAPES)
def test_every_known_escape_is_refused_and_reads_nothing(canaries: Canaries, template: str) -> None:
    sql = template.format(
        beside=canaries.beside,
        above=canaries.above,
        above_parquet=canaries.above_parquet,
        folder=canaries.extract.parent,
        http=canaries.http_url,
    )
    with pytest.raises(QueryRefused):
        check_query(sql)
    attempt(canaries, sql)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_generated_sql_never_reads_outside_the_extract(
    canaries: Canaries, data: st.DataObject
) -> None:
    attempt(canaries, data.draw(sandbox_sql(canaries.paths())))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(text=st.text(max_size=200))
def test_arbitrary_text_is_refused_or_answered_never_a_crash(canaries: Canaries, text: str) -> None:
    attempt(canaries, text)


def test_legal_aggregates_still_answer(canaries: Canaries) -> None:
    seen = attempt(canaries, "SELECT sex, count(*) AS n FROM extract GROUP BY sex ORDER BY sex")
    assert seen == "['sex', 'n'] [['Nam', 200], ['Nữ', 200]]"


def test_a_runaway_query_is_stopped_at_its_time_limit(canaries: Canaries) -> None:
    # Behind the checker, the timer is the last line: give it a recursive CTE bomb
    # that the checker would refuse, as if the checker had a hole.
    bomb = CheckedQuery(
        sql="WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) "
        "SELECT count(*) AS n, count(*) AS __vndx_rows FROM t",
        visible_columns=1,
        cell_companions=[[]],
    )
    started = time.monotonic()
    with pytest.raises(QueryTimedOut):
        run_query(canaries.extract, bomb, k=K, timeout_s=TIME_LIMIT_S, max_rows=10)
    assert time.monotonic() - started < TIME_LIMIT_S + MARGIN_S


@pytest.mark.parametrize("reader", ["read_csv('{beside}')", "read_text('{beside}')", "'{above}'"])
def test_behind_the_checker_no_file_can_be_read_even_beside_the_extract(
    canaries: Canaries, reader: str
) -> None:
    # As if the checker had a hole: the locked connection itself reads no file.
    source = reader.format(beside=canaries.beside, above=canaries.above)
    leak = CheckedQuery(
        sql=f"SELECT count(*) AS n, count(*) AS __vndx_rows FROM {source}",
        visible_columns=1,
        cell_companions=[[]],
    )
    with pytest.raises(QueryRefused, match="disabled by configuration"):
        run_query(canaries.extract, leak, k=0, timeout_s=TIME_LIMIT_S, max_rows=10)
