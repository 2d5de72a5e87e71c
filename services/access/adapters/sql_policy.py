"""What a sandbox query may be, checked on DuckDB's own parse tree, and its rewrite.

A query is accepted only if it is exactly one ``SELECT`` over the table ``extract``
(no join, subquery, CTE, set operation, table function or window) that aggregates:
it has a ``GROUP BY`` or aggregates in its select list. Every function must be on
an allow-list; every aggregate call takes plain columns (or ``*``), with no
``FILTER`` or ``ORDER BY`` inside it, so that the rows that feed a cell are
exactly the non-null rows of those columns in the group.

The accepted query is rewritten to carry hidden companions: ``count(*)`` of each
output row's group and ``count(column)`` of each aggregate's argument. The runner
then drops every group with fewer than k rows (key cells included: a rare
combination's mere presence discloses it) and blanks every aggregate cell fed by
fewer than k rows, which a conditional such as ``count(col)`` over a ``CASE``
could otherwise isolate (hence the plain-column rule). Differencing two large
groups can still isolate one row: the extract behind the sandbox is itself
k-anonymous and ℓ-diverse, and every query is an audited event.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from services.access.anonymisation import duck

TABLE = "extract"
ROWS_COMPANION = "__vndx_rows"
COMPANION_PREFIX = "__vndx_n"
MAX_SQL_CHARS = 20_000

AGGREGATES = frozenset(
    {
        "count",
        "count_star",
        "sum",
        "avg",
        "mean",
        "median",
        "min",
        "max",
        "stddev",
        "stddev_samp",
        "stddev_pop",
        "variance",
        "var_samp",
        "var_pop",
    }
)
SCALARS = frozenset(
    {
        "+", "-", "*", "/", "//", "%", "**", "^", "||", "~~", "!~~", "~~*", "!~~*",
        "lower", "upper", "length", "substr", "substring", "trim", "concat", "replace",
        "left", "right", "contains", "starts_with", "ends_with", "prefix", "suffix",
        "abs", "round", "floor", "ceil", "ceiling", "greatest", "least", "sqrt", "ln",
        "log", "log10", "exp", "pow", "power", "sign", "year", "month", "day", "quarter",
        "week", "dayofweek", "date_trunc", "date_part", "datepart", "strftime",
        "make_date", "date_diff", "datediff", "coalesce", "ifnull", "nullif",
    }
)  # fmt: skip
EXPRESSION_CLASSES = frozenset(
    {
        "COLUMN_REF",
        "CONSTANT",
        "FUNCTION",
        "COMPARISON",
        "CONJUNCTION",
        "OPERATOR",
        "CASE",
        "CAST",
        "BETWEEN",
        "STAR",
        "POSITIONAL_REFERENCE",
    }
)


class QueryRefused(Exception):
    """A query the sandbox will not run; the message says why."""


@dataclass(frozen=True)
class CheckedQuery:
    """An accepted query rewritten with its companions.

    ``cell_companions[i]`` lists the companion columns whose counts feed output
    column ``i`` (empty for a group key).
    """

    sql: str
    visible_columns: int
    cell_companions: list[list[str]]


def check_query(sql: str) -> CheckedQuery:
    """Accept and rewrite ``sql``, or raise ``QueryRefused``."""
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_SQL_CHARS} characters")
    scratch = duck.cursor()
    try:
        try:
            statements = scratch.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryRefused(f"the query does not parse: {_first_line(exc)}") from exc
        if len(statements) != 1:
            raise QueryRefused(f"send exactly one statement, not {len(statements)}")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise QueryRefused(f"only SELECT is allowed, not {statements[0].type.name}")
        document = _serialize(scratch, sql)
        node = document["statements"][0]["node"]
        companions = _check_node(node)
        rewritten = _with_companions(scratch, document, companions)
        return CheckedQuery(
            sql=rewritten,
            visible_columns=len(node["select_list"]),
            cell_companions=[names for names, _ in companions.items_by_column],
        )
    finally:
        scratch.close()


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


def _serialize(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    row = con.execute("SELECT json_serialize_sql($1)", [sql]).fetchone()
    document: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if document.get("error"):
        message = document.get("error_message", "not a plain SELECT")
        raise QueryRefused(f"only a plain SELECT is allowed: {message}")
    if len(document["statements"]) != 1:
        raise QueryRefused("send exactly one statement")
    return document


@dataclass
class _Companions:
    items_by_column: list[tuple[list[str], list[dict[str, Any]]]]


def _check_node(node: dict[str, Any]) -> _Companions:
    if node.get("type") != "SELECT_NODE":
        raise QueryRefused("set operations (UNION, EXCEPT, INTERSECT) are not allowed")
    if node.get("cte_map", {}).get("map"):
        raise QueryRefused("WITH (common table expressions) is not allowed")
    source = node.get("from_table") or {}
    if (
        source.get("type") != "BASE_TABLE"
        or source.get("table_name", "").lower() != TABLE
        or source.get("schema_name")
        or source.get("catalog_name")
        or source.get("at_clause")
    ):
        raise QueryRefused(f"query only the table {TABLE!r} (no joins, files or functions)")
    for modifier in node.get("modifiers", []):
        if modifier.get("type") == "DISTINCT_MODIFIER" and not _grouped(node):
            raise QueryRefused("use GROUP BY instead of SELECT DISTINCT")
    if node.get("qualify") is not None:
        raise QueryRefused("QUALIFY is not allowed")
    for part in ("select_list", "where_clause", "group_expressions", "having", "modifiers"):
        _check_expressions(node.get(part))
    stars = [item for item in node["select_list"] if item.get("class") == "STAR"]
    if stars and len(node["select_list"]) > 1:
        raise QueryRefused("name the columns instead of mixing * with other expressions")
    if any(str(item.get("alias", "")).startswith("__vndx") for item in node["select_list"]):
        raise QueryRefused("aliases starting with __vndx are reserved")
    columns = []
    for index, item in enumerate(node["select_list"]):
        calls = list(_aggregate_calls(item))
        names = [f"{COMPANION_PREFIX}{index}_{n}" for n in range(len(calls))]
        columns.append((names, calls))
    if not _grouped(node) and not any(calls for _, calls in columns):
        raise QueryRefused(
            "row-level results are not allowed: aggregate with GROUP BY, e.g. "
            "SELECT sex, count(*) FROM extract GROUP BY sex"
        )
    return _Companions(columns)


def _grouped(node: dict[str, Any]) -> bool:
    return bool(node.get("group_expressions")) or node.get("aggregate_handling") == (
        "FORCE_AGGREGATES"
    )


def _check_expressions(tree: Any) -> None:
    if isinstance(tree, list):
        for item in tree:
            _check_expressions(item)
        return
    if not isinstance(tree, dict):
        return
    kind = tree.get("class")
    if kind is not None:
        if kind not in EXPRESSION_CLASSES:
            raise QueryRefused(f"{kind.lower().replace('_', ' ')} expressions are not allowed")
        if kind == "FUNCTION":
            _check_function(tree)
    for value in tree.values():
        _check_expressions(value)


def _check_function(call: dict[str, Any]) -> None:
    name = str(call.get("function_name", "")).lower()
    if call.get("schema") or call.get("catalog"):
        raise QueryRefused(f"function {name!r} is not allowed")
    if name in AGGREGATES:
        if call.get("filter") is not None or call.get("order_bys", {}).get("orders"):
            raise QueryRefused(f"{name}(): FILTER and ORDER BY inside an aggregate are not allowed")
        for argument in call.get("arguments", []):
            if argument.get("expression", {}).get("class") != "COLUMN_REF":
                raise QueryRefused(
                    f"{name}() takes plain columns only, so that small groups can be suppressed"
                )
    elif name not in SCALARS:
        raise QueryRefused(f"function {name!r} is not allowed in the sandbox")


def _aggregate_calls(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(tree, list):
        for item in tree:
            found += _aggregate_calls(item)
    elif isinstance(tree, dict):
        if tree.get("class") == "FUNCTION" and tree.get("function_name") in AGGREGATES:
            return [tree]
        for value in tree.values():
            found += _aggregate_calls(value)
    return found


def _with_companions(
    con: duckdb.DuckDBPyConnection, document: dict[str, Any], companions: _Companions
) -> str:
    template = _serialize(con, "SELECT count(x), count(*) FROM t")["statements"][0]["node"]
    count_column, count_rows = template["select_list"]
    rewritten = copy.deepcopy(document)
    select_list = rewritten["statements"][0]["node"]["select_list"]
    for names, calls in companions.items_by_column:
        for name, call in zip(names, calls, strict=True):
            arguments = [a["expression"] for a in call.get("arguments", [])]
            select_list.append(_count_of(count_column, count_rows, arguments, name))
    extra = copy.deepcopy(count_rows)
    extra["alias"] = ROWS_COMPANION
    select_list.append(extra)
    row = con.execute("SELECT json_deserialize_sql($1)", [json.dumps(rewritten)]).fetchone()
    if row is None:
        raise QueryRefused("the query could not be prepared")
    return str(row[0])


def _count_of(
    count_column: dict[str, Any],
    count_rows: dict[str, Any],
    arguments: list[dict[str, Any]],
    alias: str,
) -> dict[str, Any]:
    """``count(col)`` of the first argument (rows where it is not null), else ``count(*)``."""
    if not arguments:
        companion = copy.deepcopy(count_rows)
    else:
        companion = copy.deepcopy(count_column)
        companion["arguments"][0]["expression"] = copy.deepcopy(arguments[0])
    companion["alias"] = alias
    return companion
