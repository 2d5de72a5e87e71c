"""Build a grant's extract from the raw file and keep it under ``sandbox/<grant>/``.

The raw file is downloaded to a private temporary folder, anonymised there by the
engine, and only the extract files are uploaded; the folder is always removed.

Download URLs are presigned for the host buyers use (``s3_public_endpoint``, e.g. the
exchange's public name in front of the object store) by a client that only signs:
signing is local, and a V4 signature covers the host, so a URL signed for the
internal address would fail behind a proxy that keeps the public Host header.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from minio import Minio

from services.access.anonymisation import CSV_NAME, PARQUET_NAME, ExtractResult, build_extract
from services.access.domain import PrivacyTargets
from services.access.domain.listing_rules import BuildPlan
from services.common.faults import EXTRACT_MID_UPLOAD, crash_point
from services.common.objectstore import ObjectStore
from services.common.settings import Settings

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


def public_url_signer(settings: Settings) -> ObjectStore | None:
    """A store client for ``s3_public_endpoint`` that is only ever used to sign URLs."""
    public = settings.s3_public_endpoint
    if not public:
        return None
    secure = settings.s3_secure
    if "://" in public:
        parts = urlsplit(public)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path.strip("/"):
            raise ValueError(
                f"s3_public_endpoint must be host[:port] or http(s)://host[:port]: {public}"
            )
        public, secure = parts.netloc, parts.scheme == "https"
    client = Minio(
        public,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=secure,
        region=settings.s3_region,  # a known region: signing makes no request
    )
    return ObjectStore(client, settings.s3_bucket)


class ExtractStore:
    """Extract files of grants in the object store."""

    def __init__(
        self, store: ObjectStore, work_root: Path | None = None, signer: ObjectStore | None = None
    ) -> None:
        self.store = store
        self.work_root = work_root
        self.signer = signer or store

    def download_url(self, grant_id: str, fmt: str, lifetime: timedelta) -> str:
        """A presigned GET URL of one format of the extract, for the buyers' host."""
        return self.signer.presigned_get(extract_key(grant_id, fmt), lifetime)

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
