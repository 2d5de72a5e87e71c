"""Raw files of listing versions kept on local disk, so that builds stop downloading them.

A listing version's raw object never changes, so its key names its content. A build
gets a hard link to the cached copy in its own work folder: evicting the cached name
(by this process or by another one sharing the folder) never pulls the file from
under a running build. The folder is bounded by total bytes, the least recently
used files going first; files are written under a temporary name and renamed, so a
crash leaves no half file behind a cached name.

Raw files hold personal data, so a copy stays only while it is in use: a file not
used for ``IDLE_S`` goes at the next eviction, and a process starting afresh empties
the folder (what a stopped process left behind is nobody's cache).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

from services.common.objectstore import ObjectStore
from services.common.observability import RAW_CACHE_HITS, RAW_CACHE_MISSES

PART_PREFIX = ".part-"
#: A partial download older than this belongs to a process that died while writing it.
STALE_PART_S = 3600.0
#: A cached raw file not used for this long is deleted at the next eviction.
IDLE_S = 900.0


class RawFileCache:
    """Raw objects of ``store`` under ``folder``, at most ``max_bytes`` (0: no cache)."""

    def __init__(self, store: ObjectStore, folder: Path, max_bytes: int) -> None:
        self.store = store
        self.folder = folder
        self.max_bytes = max_bytes
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        shutil.rmtree(folder, ignore_errors=True)

    def provide(self, key: str, dest: Path) -> None:
        """Put the raw object ``key`` at ``dest`` (a new path in the caller's work folder)."""
        if self.max_bytes <= 0:
            self.store.get_file(key, dest)
            return
        cached = self.folder / hashlib.sha256(f"{self.store.bucket}/{key}".encode()).hexdigest()
        with self._lock_for(key):
            if _link(cached, dest):
                RAW_CACHE_HITS.inc()
                return
            RAW_CACHE_MISSES.inc()
            self._download(key, cached)
            if not _link(cached, dest):  # another process evicted it already
                self.store.get_file(key, dest)
        self._evict()

    def _download(self, key: str, cached: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"{PART_PREFIX}{uuid.uuid4().hex}"
        try:
            self.store.get_file(key, part)
            part.replace(cached)
        finally:
            part.unlink(missing_ok=True)

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _evict(self) -> None:
        """Delete the least recently used files until the folder fits ``max_bytes``."""
        files: list[tuple[float, int, Path]] = []
        now = time.time()
        for entry in os.scandir(self.folder):
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            if entry.name.startswith(PART_PREFIX):
                if now - stat.st_mtime > STALE_PART_S:
                    Path(entry.path).unlink(missing_ok=True)
                continue
            if now - stat.st_mtime > IDLE_S:
                Path(entry.path).unlink(missing_ok=True)
                continue
            files.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    @property
    def total_bytes(self) -> int:
        if not self.folder.exists():
            return 0
        return sum(
            entry.stat().st_size
            for entry in os.scandir(self.folder)
            if not entry.name.startswith(PART_PREFIX)
        )


def _link(cached: Path, dest: Path) -> bool:
    """Link (or copy) ``cached`` to ``dest`` and mark it used; False if it is not there."""
    try:
        os.utime(cached)
        try:
            os.link(cached, dest)
        except FileNotFoundError:
            raise
        except OSError:  # no hard links here (another file system): a copy will do
            shutil.copyfile(cached, dest)
    except FileNotFoundError:
        return False
    return True
