"""Build a grant's extract from the raw file and keep it under ``sandbox/<grant>/``.

The raw file is downloaded to a private temporary folder, anonymised there by the
engine, and only the extract files are uploaded; the folder is always removed.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from services.access.anonymisation import CSV_NAME, PARQUET_NAME, ExtractResult, build_extract
from services.access.domain import PrivacyTargets
from services.access.domain.listing_rules import BuildPlan
from services.common.faults import EXTRACT_MID_UPLOAD, crash_point
from services.common.objectstore import ObjectStore

FORMATS = {"parquet": PARQUET_NAME, "csv": CSV_NAME}
CONTENT_TYPES = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv; charset=utf-8"}


def extract_prefix(grant_id: str) -> str:
    return f"sandbox/{grant_id}/"


def extract_key(grant_id: str, fmt: str) -> str:
    """The object key of one format of a grant's extract (never under ``raw/``)."""
    return extract_prefix(grant_id) + FORMATS[fmt]


@dataclass(frozen=True)
class BuiltExtract:
    result: ExtractResult
    objects: list[str]


class ExtractStore:
    """Extract files of grants in the object store."""

    def __init__(self, store: ObjectStore, work_root: Path | None = None) -> None:
        self.store = store
        self.work_root = work_root

    def build(
        self,
        grant_id: str,
        raw_key: str,
        raw_format: str,
        plan: BuildPlan,
        targets: PrivacyTargets,
        pseudonym_key: bytes,
    ) -> BuiltExtract:
        """Anonymise the raw file and upload the extract; raises ``AnonymisationFailed``."""
        if self.work_root is not None:
            self.work_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"grant-{grant_id}-", dir=self.work_root))
        try:
            raw = work / f"raw.{raw_format}"
            self.store.get_file(raw_key, raw)
            result = build_extract(
                raw,
                "parquet" if raw_format == "parquet" else "csv",
                plan.rules,
                targets,
                pseudonym_key,
                work / "out",
                plan.hierarchies,
            )
            raw.unlink()
            objects = []
            for fmt, path in (("parquet", result.parquet_path), ("csv", result.csv_path)):
                key = extract_key(grant_id, fmt)
                self.store.put_file(key, path, CONTENT_TYPES[fmt])
                objects.append(key)
                crash_point(EXTRACT_MID_UPLOAD)
            return BuiltExtract(result, objects)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def fetch_parquet(self, grant_id: str, folder: Path) -> Path:
        """Download a grant's Parquet extract into ``folder`` (for sandbox queries)."""
        path = folder / PARQUET_NAME
        self.store.get_file(extract_key(grant_id, "parquet"), path)
        return path

    def purge(self, grant_id: str) -> int:
        """Delete every object of a grant's extract; return how many there were."""
        return self.store.delete_prefix(extract_prefix(grant_id))
