"""Build a grant's extract from the raw file and keep it under ``sandbox/<grant>/``.

The raw file is linked from the local raw-file cache (or downloaded) into a private
temporary folder, anonymised there by the engine, and only the extract files are
uploaded; the folder is always removed. An extract without pseudonyms is the same
for every grant of a recipe: it is built once, kept in memory, and each later grant
gets its own copy of the bytes under its own prefix, with no folder and no build.

Download URLs are presigned for the host buyers use (``s3_public_endpoint``, e.g. the
exchange's public name in front of the object store) by a client that only signs:
signing is local, and a V4 signature covers the host, so a URL signed for the
internal address would fail behind a proxy that keeps the public Host header.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from minio import Minio

from services.access.adapters.extract_cache import CachedExtract, ExtractCache, recipe_fingerprint
from services.access.adapters.raw_cache import RawFileCache
from services.access.anonymisation import CSV_NAME, PARQUET_NAME, build_extract
from services.access.domain import PrivacyTargets
from services.access.domain.listing_rules import BuildPlan
from services.access.domain.privacy import PrivacyFigures
from services.common.faults import EXTRACT_MID_UPLOAD, crash_point
from services.common.objectstore import ObjectStore
from services.common.observability import (
    EXTRACT_BUILD_SECONDS,
    EXTRACT_CACHE_HITS,
    EXTRACT_CACHE_MISSES,
)
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
    """A grant's uploaded extract and what it achieves."""

    rows_in: int
    rows_out: int
    figures: PrivacyFigures
    checked_by: tuple[str, ...]
    objects: list[str]
    #: Copied from an identical earlier build rather than built for this grant.
    from_cache: bool = False


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
    """Extract files of grants in the object store.

    ``cache`` keeps shareable builds in memory and ``raw_files`` keeps raw files on
    disk; without them every grant is built from a fresh download.
    """

    def __init__(
        self,
        store: ObjectStore,
        work_root: Path | None = None,
        signer: ObjectStore | None = None,
        *,
        cache: ExtractCache | None = None,
        raw_files: RawFileCache | None = None,
    ) -> None:
        self.store = store
        self.work_root = work_root
        self.signer = signer or store
        self.cache = cache if cache is not None else ExtractCache(0, 0)
        self.raw_files = raw_files

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
        """Anonymise the raw file (or reuse an identical build) and upload the extract.

        Raises ``AnonymisationFailed``.
        """
        fingerprint = None
        if self.cache.enabled:
            fingerprint = recipe_fingerprint(raw_key, raw_format, plan, targets)
        cached = self.cache.get(fingerprint) if fingerprint else None
        if cached is not None:
            EXTRACT_CACHE_HITS.inc()
            objects = self._upload(grant_id, {"parquet": cached.parquet, "csv": cached.csv})
            return BuiltExtract(
                cached.rows_in,
                cached.rows_out,
                cached.figures,
                cached.checked_by,
                objects,
                from_cache=True,
            )
        if fingerprint is not None:
            EXTRACT_CACHE_MISSES.inc()
        with EXTRACT_BUILD_SECONDS.time():
            return self._build(
                grant_id, raw_key, raw_format, plan, targets, pseudonym_key, fingerprint
            )

    def _build(
        self,
        grant_id: str,
        raw_key: str,
        raw_format: str,
        plan: BuildPlan,
        targets: PrivacyTargets,
        pseudonym_key: bytes,
        fingerprint: str | None,
    ) -> BuiltExtract:
        if self.work_root is not None:
            self.work_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"grant-{grant_id}-", dir=self.work_root))
        try:
            raw = work / f"raw.{raw_format}"
            if self.raw_files is not None:
                self.raw_files.provide(raw_key, raw)
            else:
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
            files: dict[str, Path | bytes] = {
                "parquet": result.parquet_path,
                "csv": result.csv_path,
            }
            size = result.parquet_path.stat().st_size + result.csv_path.stat().st_size
            if fingerprint is not None and self.cache.fits(size):
                kept = CachedExtract(
                    result.rows_in,
                    result.rows_out,
                    result.figures,
                    result.checked_by,
                    result.parquet_path.read_bytes(),
                    result.csv_path.read_bytes(),
                )
                self.cache.put(fingerprint, kept)
                files = {"parquet": kept.parquet, "csv": kept.csv}
            objects = self._upload(grant_id, files)
            return BuiltExtract(
                result.rows_in, result.rows_out, result.figures, result.checked_by, objects
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _upload(self, grant_id: str, files: Mapping[str, Path | bytes]) -> list[str]:
        """Put both formats under the grant's own prefix; return their keys."""
        objects = []
        for fmt in ("parquet", "csv"):
            key, data = extract_key(grant_id, fmt), files[fmt]
            if isinstance(data, bytes):
                self.store.put_stream(key, io.BytesIO(data), len(data), CONTENT_TYPES[fmt])
            else:
                self.store.put_file(key, data, CONTENT_TYPES[fmt])
            objects.append(key)
            crash_point(EXTRACT_MID_UPLOAD)
        return objects

    def fetch_parquet(self, grant_id: str, folder: Path) -> Path:
        """Download a grant's Parquet extract into ``folder`` (for sandbox queries)."""
        path = folder / PARQUET_NAME
        self.store.get_file(extract_key(grant_id, "parquet"), path)
        return path

    def purge(self, grant_id: str) -> int:
        """Delete every object of a grant's extract; return how many there were."""
        return self.store.delete_prefix(extract_prefix(grant_id))
