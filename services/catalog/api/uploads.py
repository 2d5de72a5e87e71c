"""Receive an upload body onto local disk, streaming, hashing and bounded in size."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request

from services.common.api import ApiError

CHUNK_FLUSH = 4 * 1024 * 1024


async def _multipart_chunks(request: Request) -> AsyncIterator[bytes]:
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ApiError(400, "invalid_upload", "multipart upload needs a 'file' part", field="file")
    while chunk := await upload.read(1024 * 1024):
        yield chunk


async def receive_upload(request: Request, spool_dir: Path, max_bytes: int) -> tuple[Path, str]:
    """Write the request's file to ``spool_dir``; return its path and SHA-256."""
    content_type = request.headers.get("content-type", "")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ApiError(413, "too_large", f"the upload exceeds {max_bytes} bytes", field="file")
    chunks = (
        _multipart_chunks(request)
        if content_type.startswith("multipart/form-data")
        else request.stream()
    )
    spool_dir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - instant on a local disk
    fd, name = tempfile.mkstemp(prefix="upload-", dir=spool_dir)
    path = Path(name)
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb", buffering=CHUNK_FLUSH) as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ApiError(
                        413, "too_large", f"the upload exceeds {max_bytes} bytes", field="file"
                    )
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ApiError(400, "invalid_upload", "the file is empty", field="file")
    except BaseException:
        path.unlink(missing_ok=True)  # noqa: ASYNC240
        raise
    return path, digest.hexdigest()
