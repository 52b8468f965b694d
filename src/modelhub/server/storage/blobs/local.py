"""Blobs on local disk: ``root/ab/cd/<sha256>``, uploads in a locked per-process folder under ``root/tmp``."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .base import IO_BLOCK, BlobStore, BlobWriter

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]  # no such module there: the name typed as the module is None


_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_sha(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"Invalid blob id {sha256!r}: expected 64 lowercase hex characters (a SHA-256).")
    return sha256


class _LocalWriter(BlobWriter):
    def __init__(self, store: LocalBlobStore, verified_name: str | None = None) -> None:
        super().__init__(verified_name)
        self._store = store
        fd, name = tempfile.mkstemp(dir=store.session_dir(), prefix="up-", suffix=f"-{uuid.uuid4().hex[:8]}")
        self._tmp = Path(name)
        self._fh = os.fdopen(fd, "wb", buffering=0)

    def _write(self, data: bytes) -> None:
        self._fh.write(data)

    def _publish(self, sha: str) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._store._install(self._tmp, sha)

    def _discard(self) -> None:
        try:
            self._fh.close()
        finally:
            self._tmp.unlink(missing_ok=True)


_DIRECT = getattr(os, "O_DIRECT", 0)


def _address(data: memoryview) -> int | None:
    """The address of a writable buffer's first byte (None for read-only ones, which cannot be told)."""
    if data.readonly or not data.contiguous or not data.nbytes:
        return None
    return ctypes.addressof(ctypes.c_char.from_buffer(data))


def _write_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def _write_new_file(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to a new file and fsync it. A page-aligned buffer (the CAS's, which holds each xorb whole)
    goes to the disk with O_DIRECT, as object stores write: no copy into the page cache and no dirty pages for
    the fsync to flush (64 MiB: ~3 ms of CPU instead of ~200 ms where page-cache memory is costly, as in a VM
    that returns freed memory to its host); the unaligned tail, and any buffer or file system that cannot do
    direct I/O, are written the ordinary way."""
    view = memoryview(data).cast("B")
    head = len(view) - len(view) % IO_BLOCK
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        address = _address(view) if _DIRECT and head else None
        if address is not None and address % IO_BLOCK == 0:
            try:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | _DIRECT)
                _write_all(fd, view[:head], 0)
            except OSError as exc:  # EINVAL: this file system or device does not take it
                if exc.errno != errno.EINVAL:
                    raise
                head = 0
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_DIRECT)
        else:
            head = 0
        _write_all(fd, view[head:], head)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class LocalBlobStore(BlobStore):
    """Blobs under ``root/ab/cd/<sha256>``; uploads go to ``root/tmp/<process>/`` first, are fsync'd and renamed."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self._root_str = str(self.root)
        self._session: Path | None = None
        self._session_fh: BinaryIO | None = None
        self._session_lock = threading.Lock()

    def _path(self, sha256: str) -> Path:
        return Path(self._spath(sha256))

    def _spath(self, sha256: str) -> str:
        _check_sha(sha256)
        return os.path.join(self._root_str, sha256[:2], sha256[2:4], sha256)

    def writer(self, expected_sha256: str | None = None, *, verified: bool = False) -> BlobWriter:
        if verified:
            if expected_sha256 is None:
                raise ValueError("a verified blob needs its name")
            return _LocalWriter(self, _check_sha(expected_sha256))
        return _LocalWriter(self)

    def _install(self, tmp: Path, name: str) -> None:
        """Publish the fsync'd file ``tmp`` as blob ``name``, or drop it if that blob is stored already."""
        final = self._path(name)
        if final.exists():
            tmp.unlink(missing_ok=True)  # same content already stored: keep the one copy
            self.touch(name)
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            _fsync_dir(final.parent)

    def put_bytes(self, data: bytes, verified_name: str | None = None) -> str:
        if verified_name is None or fcntl is None:
            return super().put_bytes(data, verified_name)
        if self.exists(verified_name):  # stored already: not even written again
            self.touch(verified_name)
            return verified_name
        tmp = self.session_dir() / f"up-{uuid.uuid4().hex}"
        try:
            _write_new_file(tmp, data)
            self._install(tmp, verified_name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return verified_name

    def read_range(self, sha256: str, start: int, end: int, buf: mmap.mmap | None = None) -> memoryview:
        lo, hi = start - start % IO_BLOCK, -(-end // IO_BLOCK) * IO_BLOCK
        if buf is None or not _DIRECT or hi - lo > len(buf) or end <= start:
            return super().read_range(sha256, start, end, buf)
        try:
            fd = os.open(self._spath(sha256), os.O_RDONLY | _DIRECT)
        except OSError as exc:  # EINVAL: this file system does not take direct I/O
            if exc.errno != errno.EINVAL:
                raise
            return super().read_range(sha256, start, end, buf)
        view = memoryview(buf)[: hi - lo]
        got = 0
        try:
            while got < end - lo:
                n = os.preadv(fd, [view[got:]], lo + got)
                if n <= 0:
                    break
                got += n
        finally:
            os.close(fd)
        if got < end - lo:
            raise OSError(f"blob {sha256} ends before byte {end} (it has {lo + got})")
        return view[start - lo : end - lo]

    def exists(self, sha256: str) -> bool:
        return os.path.isfile(self._spath(sha256))

    def size(self, sha256: str) -> int:
        return os.stat(self._spath(sha256)).st_size

    def open(self, sha256: str) -> BinaryIO:
        return open(self._spath(sha256), "rb")

    def local_path(self, sha256: str) -> Path | None:
        return self._path(sha256)

    def iter_blobs(self) -> Iterator[tuple[str, float]]:
        for p in self.root.glob("??/??/*"):
            if _SHA256.fullmatch(p.name):
                try:
                    yield p.name, p.stat().st_mtime
                except FileNotFoundError:
                    continue

    def delete(self, sha256: str) -> None:
        try:
            os.unlink(self._spath(sha256))
        except FileNotFoundError:
            pass

    def touch(self, sha256: str) -> None:
        try:
            os.utime(self._spath(sha256))
        except FileNotFoundError:
            pass

    def session_dir(self) -> Path:
        """This process's folder for uploads in progress, ``tmp/<pid>-<random>/``, created on first use and
        locked (``flock`` on its ``.lock``) for as long as the process lives: a folder whose lock nobody holds
        belongs to a process that ended, however recently, and ``cleanup_tmp`` removes it."""
        with self._session_lock:
            if self._session is None:
                path = self.tmp_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
                path.mkdir(parents=True)
                fh = open(path / ".lock", "wb")  # noqa: SIM115 - held open for the life of the process
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._session, self._session_fh = path, fh
            return self._session

    def cleanup_tmp(self, min_age_s: float | None = None) -> tuple[int, int]:
        """Remove the upload folders of processes that are gone (their lock is free, whatever ``min_age_s``) and
        loose files left by versions before per-process folders. Called at start-up and by ``modelhub admin gc``."""
        count = size = 0
        if not self.tmp_dir.is_dir():
            return 0, 0
        for p in self.tmp_dir.iterdir():
            if p == self._session:
                continue
            try:
                if p.is_dir():
                    if not _abandoned(p):
                        continue
                    for f in p.iterdir():
                        if f.name != ".lock":
                            count += 1
                            size += f.stat().st_size
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    size += p.stat().st_size
                    p.unlink()
                    count += 1
            except FileNotFoundError:
                continue
        return count, size


def _abandoned(folder: Path) -> bool:
    """Whether no live process holds the lock of an upload folder (young folders without a lock are spared:
    their process may be between creating the folder and locking it)."""
    try:
        fh = open(folder / ".lock", "rb")  # noqa: SIM115
    except FileNotFoundError:
        try:
            return time.time() - folder.stat().st_mtime > 60
        except FileNotFoundError:
            return False
    with fh:
        if fcntl is None:  # no flock (Windows): fall back to age
            return time.time() - folder.stat().st_mtime > 86400
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return True
