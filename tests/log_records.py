"""The log records one logger emits while a test runs, for tests of what services log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def records_of(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """Every record ``logger_name`` handles inside the ``with`` block, in order."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keeper = Keep()
    logger = logging.getLogger(logger_name)
    logger.addHandler(keeper)
    try:
        yield records
    finally:
        logger.removeHandler(keeper)
