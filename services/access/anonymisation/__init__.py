"""The anonymisation engine: build a buyer's extract from a listing's raw file."""

from services.access.anonymisation.engine import (
    CSV_NAME,
    PARQUET_NAME,
    ExtractResult,
    ProgressCallback,
    build_extract,
)
from services.access.anonymisation.hierarchy_tables import HierarchySource
from services.access.anonymisation.source import SourceFormat

__all__ = [
    "CSV_NAME",
    "PARQUET_NAME",
    "ExtractResult",
    "HierarchySource",
    "ProgressCallback",
    "SourceFormat",
    "build_extract",
]
