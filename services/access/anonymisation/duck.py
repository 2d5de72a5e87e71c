"""One in-memory DuckDB instance per process, handed out as cheap cursors.

Opening a DuckDB database costs 0.3–0.5 s on this class of machine (thread pool,
catalog, settings); a cursor on an open one costs microseconds. Extract builds and the
SQL checker only group, hash and parse data they are given, so they share this
instance; the sandbox keeps opening a locked-down instance of its own per query,
because it runs a buyer's SQL.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import duckdb

_lock = threading.Lock()
_instance: duckdb.DuckDBPyConnection | None = None


def cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's shared in-memory database (close it when done)."""
    global _instance
    with _lock:
        if _instance is None:
            spill = Path(tempfile.gettempdir()) / "vndx-duckdb-spill"
            spill.mkdir(parents=True, exist_ok=True)
            _instance = duckdb.connect(
                config={
                    "temp_directory": spill.as_posix(),
                    "memory_limit": "512MB",
                    "preserve_insertion_order": False,
                }
            )
        connection = _instance.cursor()
    connection.execute("SET enable_progress_bar = false")
    return connection
