"""Object storage through the ``minio`` SDK (SeaweedFS embedded, MinIO in production).

Layout in one bucket: ``raw/<org>/<listing>/<version>/`` holds providers' files
and is never reachable by buyers; ``sandbox/<grant>/`` holds extracts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from services.common.settings import Settings

PART_SIZE = 16 * 1024 * 1024
MAX_PRESIGN = timedelta(minutes=15)


class ObjectStore:
    """The few object operations vndx needs, on one bucket."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        client = Minio(
            settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        return cls(client, settings.s3_bucket)

    def ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self.client.fput_object(
            self.bucket, key, str(path), content_type=content_type, part_size=PART_SIZE
        )

    def put_stream(self, key: str, stream: BinaryIO, length: int, content_type: str) -> None:
        self.client.put_object(
            self.bucket, key, stream, length, content_type=content_type, part_size=PART_SIZE
        )

    def get_file(self, key: str, path: Path) -> None:
        self.client.fget_object(self.bucket, key, str(path))

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "NotFound"):
                return False
            raise
        return True

    def list_keys(self, prefix: str) -> list[str]:
        return [
            obj.object_name
            for obj in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            if obj.object_name
        ]

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, key)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        if keys:
            errors = list(
                self.client.remove_objects(self.bucket, [DeleteObject(key) for key in keys])
            )
            if errors:
                raise RuntimeError(f"could not delete {len(errors)} objects under {prefix}")
        return len(keys)

    def presigned_get(self, key: str, expires: timedelta) -> str:
        """A GET URL for one object, never valid longer than 15 minutes."""
        return self.client.presigned_get_object(self.bucket, key, expires=min(expires, MAX_PRESIGN))

    def ping(self) -> None:
        self.client.bucket_exists(self.bucket)

    def deny_reads(self, prefixes: Sequence[str]) -> None:
        """Refuse every read under ``prefixes`` (403), whoever signed it; ``[]`` lifts all.

        Deleting an object alone turns a presigned URL's answer into 404; the bucket
        policy makes the refusal explicit, even before the deletion lands. The whole
        policy is replaced: this bucket has no other.
        """
        if not prefixes:
            try:
                self.client.delete_bucket_policy(self.bucket)
            except S3Error as exc:
                if exc.code != "NoSuchBucketPolicy":
                    raise
            return
        statement = {
            "Sid": "ClosedGrants",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{self.bucket}/{prefix}*" for prefix in prefixes],
        }
        policy = {"Version": "2012-10-17", "Statement": [statement]}
        self.client.set_bucket_policy(self.bucket, json.dumps(policy))
