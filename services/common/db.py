"""Database engine and transactions, for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=NullPool if parsed.database in (None, "", ":memory:") else None,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level so that "begin" below controls transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


#: Execution option of the connections ``reading`` uses: their BEGIN takes no write lock.
READ_ONLY_OPTION = "vndx_read_only"


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN so that concurrent writers queue instead of
    # failing with "database is locked" on upgrade from a read lock. A read-only
    # transaction needs no lock: in WAL mode it reads a snapshot beside the writer.
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_tables(engine: Engine, tables: Sequence[Table]) -> None:
    """Create the given tables if missing (the embedded stack's migration)."""
    SQLModel.metadata.create_all(engine, tables=list(tables))


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_readers: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _reader(engine: Engine) -> Engine:
    reader = _readers.get(engine)
    if reader is None:
        reader = _readers[engine] = engine.execution_options(**{READ_ONLY_OPTION: True})
    return reader


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session that only reads: one consistent snapshot, rolled back at the end.

    On SQLite it does not queue for the write lock as ``transaction`` does, so a read
    never waits for a writer (nor makes one wait). Whatever it might stage is discarded.
    """
    # Closing (not rolling back) ends the transaction without expiring what was read.
    with Session(_reader(engine), expire_on_commit=False) as session:
        yield session


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """Like ``reading``, a plain connection for SQL that needs no ORM session."""
    with _reader(engine).connect() as connection:
        yield connection


@contextmanager
def exclusive_claim(engine: Engine, key: str) -> Iterator[bool]:
    """Whether this process holds ``key`` until the block ends (one worker among replicas).

    On PostgreSQL a session advisory lock, released at the end or when the process dies
    (its connection drops), so replicas of a service share slow work without doing it
    twice. An SQLite database belongs to a single process: the claim always succeeds.
    """
    if is_sqlite(engine):
        yield True
        return
    lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    with engine.connect() as connection:
        held = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}).scalar()
        )
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                connection.commit()
