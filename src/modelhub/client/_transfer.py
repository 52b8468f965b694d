"""Moving bytes for downloads: the metadata ``HEAD`` of ``/resolve`` and the resumable, verified GET.

``fetch_to`` streams a URL into ``<dest>.incomplete`` (resuming with ``Range`` from what is already there), checks
the size and the content hash named by the ETag (sha256 for LFS files, git blob sha1 for the others) and only then
renames it into place. ``head_metadata`` reads commit, ETag, size and download location the way protocol 6.2-6.3
describes (same-origin redirects followed, other origins' Location used as the download URL).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .. import constants
from ..errors import (
    CorruptedFileError,
    DiskSpaceError,
    FileMetadataError,
    HfHubHTTPError,
    HubConnectionError,
    RemoteEntryNotFoundError,
)
from . import http, xet
from ._progress import progress_bar
from .cache_layout import is_sha256, is_xet_hash, normalize_etag, safe_blob_name, safe_commit
from .operations import git_blob_sha1

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024
WRITE_BLOCK = 4 * 1024 * 1024
MAX_STALLED_RETRIES = 5
HUB_HOSTS = {"huggingface.co", "hf.co", "hub-ci.huggingface.co"}


# --- the fetch itself ------------------------------------------------------------------------------------------------
def _new_hasher(etag: str, size: int) -> Any:
    if is_sha256(etag):
        return hashlib.sha256()
    if len(etag) == 40 and all(c in "0123456789abcdef" for c in etag):
        return git_blob_sha1(size)
    return None  # an ETag that is not a content hash (another server): size check only


def _hash_existing(hasher: Any, path: Path, length: int) -> None:
    with open(path, "rb") as fh:
        remaining = length
        while remaining > 0:
            data = fh.read(min(8 * CHUNK, remaining))
            if not data:
                break
            hasher.update(data)
            remaining -= len(data)


class _BlockWriter:
    """Collects network pieces in one reused buffer and writes + hashes it in large blocks.

    Reusing a preallocated buffer (instead of growing and freeing one per block) avoids a page fault storm in the
    kernel; writing large blocks keeps syscalls few. ``flush`` runs even when the connection drops mid-block, so
    a resume starts exactly where the data on disk stops.
    """

    def __init__(self, fh: Any, hasher: Any, bar: Any, size: int = 4 * 1024 * 1024) -> None:
        self.fh, self.hasher, self.bar = fh, hasher, bar
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)
        self.fill = 0

    def add(self, piece: bytes) -> int:
        """Buffer ``piece``; returns the bytes written to disk by this call (0 while the block fills)."""
        n = len(piece)
        if self.fill + n > len(self.buf):
            written = self.flush()
            if n > len(self.buf):
                self._emit(piece)
                return written + n
            self.view[:n] = piece
            self.fill = n
            return written
        self.view[self.fill : self.fill + n] = piece
        self.fill += n
        return 0

    def flush(self) -> int:
        n = self.fill
        if n:
            self._emit(self.view[:n])
            self.fill = 0
        return n

    def _emit(self, data: Any) -> None:
        self.fh.write(data)
        if self.hasher is not None:
            self.hasher.update(data)
        self.bar.update(len(data))


def _is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _auth_for(url: str, endpoint: str, headers: dict[str, str]) -> dict[str, str]:
    """Keep ``Authorization`` only for the endpoint's origin and the Hub's own hosts."""
    host = httpx.URL(url).host
    if http.same_origin(url, endpoint) or host in HUB_HOSTS:
        return dict(headers)
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


def fetch_to(
    url: str,
    *,
    dest: Path,
    incomplete: Path,
    expected_size: int | None,
    etag: str,
    headers: dict[str, str],
    proxies: http.ProxiesT,
    endpoint: str,
    label: str,
    xet_source: tuple[str, str] | None = None,
) -> None:
    """Download ``url`` to ``dest`` through ``incomplete``, resuming from what it holds; verify, then rename.

    The caller holds the blob's file lock. Connection drops mid-body are retried with ``Range`` while progress is
    made; a content mismatch deletes the partial file and raises CorruptedFileError. With ``xet_source`` (the
    file's Xet hash and the hub's read-token route) and ``hf_xet`` usable, the bytes come through Xet instead
    (verified the same way; any failure there falls back to the HTTP download).
    """
    incomplete.parent.mkdir(parents=True, exist_ok=True)
    if (
        xet_source is not None
        and expected_size
        and is_sha256(etag)
        and xet.usable()
        and _fetch_xet(xet_source, dest, incomplete, expected_size, etag, headers, proxies, endpoint, label)
    ):
        return
    if expected_size is not None:
        free = shutil.disk_usage(incomplete.parent).free
        have = incomplete.stat().st_size if incomplete.exists() else 0
        if expected_size - have > free:
            raise DiskSpaceError(
                f"Not enough disk space for {label}: {expected_size - have} bytes needed, {free} free in "
                f"{incomplete.parent}. Free some space (e.g. `modelhub cache prune`) or set HF_HUB_CACHE elsewhere."
            )
    offset = incomplete.stat().st_size if incomplete.exists() else 0
    if expected_size is not None and offset > expected_size:
        incomplete.unlink()
        offset = 0
    hasher = _new_hasher(etag, expected_size) if expected_size is not None else None
    resumed_from = offset if hasher is not None else 0
    if offset and hasher is not None:
        _hash_existing(hasher, incomplete, offset)
        logger.info("resuming %s from byte %d", label, offset)
    headers = _auth_for(url, endpoint, headers)
    timeout = httpx.Timeout(constants.download_timeout(), connect=10.0)
    stalled = 0
    with progress_bar(expected_size, label, initial=offset) as bar:
        while True:
            if expected_size is not None and offset >= expected_size:
                break
            req_headers = dict(headers)
            if offset:
                # offsets count decoded bytes: ask for the plain encoding so the range means the same bytes
                req_headers["range"] = f"bytes={offset}-"
                req_headers["accept-encoding"] = "identity"
            progressed = False
            try:
                with http.stream(
                    "GET",
                    url,
                    headers=req_headers,
                    proxies=proxies,
                    timeout=timeout,
                    ctx=http.Context(endpoint=endpoint, filename=label),
                ) as response:
                    if offset and response.status_code != 206:
                        # the server ignored Range: start over
                        logger.info("server ignored Range for %s; restarting from 0", label)
                        offset = 0
                        hasher = _new_hasher(etag, expected_size) if expected_size is not None else None
                        bar.reset(total=expected_size)
                        mode = "wb"
                    elif offset:
                        start = response.headers.get("content-range", "").split(" ")[-1].split("-")[0]
                        if start.strip() != str(offset):
                            raise HfHubHTTPError(
                                f"Bad Content-Range {response.headers.get('content-range')!r} for {label}",
                                response,
                            )
                        mode = "ab"
                    else:
                        mode = "wb"
                    if expected_size is None:
                        total = response.headers.get("content-length")
                        expected_size = int(total) if total and total.isdigit() else None
                        hasher = _new_hasher(etag, expected_size) if expected_size is not None else None
                    with open(incomplete, mode) as fh:
                        # network pieces are small; write in large blocks, and flush what arrived even if the
                        # connection drops mid-block, so a resume starts exactly where the data stops
                        writer = _BlockWriter(fh, hasher, bar, WRITE_BLOCK)
                        try:
                            for piece in response.iter_bytes():
                                if writer.add(piece):
                                    offset = fh.tell()
                                    progressed = True
                        finally:
                            if writer.flush() or fh.tell() != offset:
                                offset = fh.tell()
                                progressed = True
                if expected_size is None or offset >= expected_size:
                    break
                raise httpx.RemoteProtocolError(f"body ended at byte {offset} of {expected_size}")
            except (httpx.TransportError, HubConnectionError) as exc:
                stalled = 0 if progressed else stalled + 1
                if stalled > MAX_STALLED_RETRIES:
                    raise HubConnectionError(
                        f"Download of {label} interrupted at byte {offset} of {expected_size} ({exc}). The partial "
                        f"file is kept in {incomplete.name} and the next attempt resumes from there."
                    ) from exc
                logger.warning("download of %s interrupted at byte %d (%s); resuming", label, offset, exc)
                time.sleep(min(0.2 * stalled, 2.0))
            except OSError as exc:
                if _is_disk_full(exc):
                    incomplete.unlink(missing_ok=True)
                    raise DiskSpaceError(
                        f"Disk full while downloading {label} to {incomplete.parent} ({exc}); the partial file was "
                        "removed. Free some space (e.g. `modelhub cache prune`) or set HF_HUB_CACHE elsewhere."
                    ) from exc
                raise
    size = incomplete.stat().st_size
    if expected_size is not None and size != expected_size:
        incomplete.unlink(missing_ok=True)
        raise CorruptedFileError(
            f"Downloaded {label} has {size} bytes, {expected_size} expected; removed it. Retry the download."
        )
    if hasher is not None and hasher.hexdigest() != etag:
        incomplete.unlink(missing_ok=True)
        if resumed_from:
            # the bytes kept from an earlier attempt were bad (another writer, a changed file): start over once
            logger.warning(
                "%s resumed from byte %d did not match its hash; downloading it again", label, resumed_from
            )
            return fetch_to(
                url,
                dest=dest,
                incomplete=incomplete,
                expected_size=expected_size,
                etag=etag,
                headers=headers,
                proxies=proxies,
                endpoint=endpoint,
                label=label,
            )
        raise CorruptedFileError(
            f"Downloaded {label} does not match its hash (expected {etag}, got {hasher.hexdigest()}); nothing was "
            "cached. Retry; if it persists the hub's copy is damaged."
        )
    os.replace(incomplete, dest)


def _fetch_xet(
    source: tuple[str, str],
    dest: Path,
    incomplete: Path,
    size: int,
    sha256: str,
    headers: dict[str, str],
    proxies: http.ProxiesT,
    endpoint: str,
    label: str,
) -> bool:
    """Reconstruct the file through Xet into ``incomplete``, check size and SHA-256, rename; False (nothing kept)
    when Xet fails, so that the caller downloads over HTTP."""
    incomplete.unlink(missing_ok=True)
    try:
        xet.download(
            source[0],
            size,
            incomplete,
            refresh_url=source[1],
            headers=_auth_for(source[1], endpoint, headers),
            proxies=proxies,
            label=label,
        )
    except Exception as exc:  # hf_xet raises its own types (and RuntimeError); HTTP is the safe fallback
        logger.warning("Xet download of %s failed (%s); downloading it over HTTP", label, exc)
        incomplete.unlink(missing_ok=True)
        return False
    hasher = hashlib.sha256()
    _hash_existing(hasher, incomplete, size)
    if incomplete.stat().st_size != size or hasher.hexdigest() != sha256:
        incomplete.unlink(missing_ok=True)
        logger.warning("Xet download of %s does not match its SHA-256; downloading it over HTTP", label)
        return False
    os.replace(incomplete, dest)
    return True


# --- metadata ------------------------------------------------------------------------------------------------------
@dataclass
class FileMetadata:
    commit: str
    etag: str
    size: int | None
    location: str
    xet_hash: str | None = None  # X-Xet-Hash: the hub serves it through Xet too


def head_metadata(
    url: str,
    *,
    headers: dict[str, str],
    proxies: http.ProxiesT,
    timeout: float,
    ctx: http.Context,
    retry: bool = True,
) -> FileMetadata:
    """HEAD ``/resolve``: follow same-origin redirects, stop at other origins (their Location is the download URL).

    ``retry=False`` when a cached copy can answer if the hub is down: fail fast instead of backing off.
    """
    current = url
    for _ in range(10):
        response = http.request(
            "HEAD",
            current,
            headers={**headers, "accept-encoding": "identity"},
            proxies=proxies,
            timeout=timeout,
            follow_redirects=False,
            raise_errors=False,
            ctx=ctx,
            max_retries=None if retry else 0,
        )
        if response.is_redirect:
            target = str(response.url.join(response.headers["location"]))
            if http.same_origin(target, current) or httpx.URL(target).host in HUB_HOSTS:
                current = target
                continue
            return _metadata_from(response, location=target, ctx=ctx)
        if response.status_code == 404 and response.headers.get("x-error-code") == "EntryNotFound":
            try:
                http.raise_for_status(response, ctx)
            except RemoteEntryNotFoundError as exc:
                exc.commit = response.headers.get("x-repo-commit")
                raise
        http.raise_for_status(response, ctx)
        return _metadata_from(response, location=current, ctx=ctx)
    raise HfHubHTTPError(f"Too many redirects resolving {url}")


def _metadata_from(response: httpx.Response, *, location: str, ctx: http.Context) -> FileMetadata:
    commit = response.headers.get("x-repo-commit")
    etag = normalize_etag(response.headers.get("x-linked-etag") or response.headers.get("etag"))
    if not commit or not etag:
        raise FileMetadataError(
            f"The hub's answer for {ctx.filename!r} in {ctx.repo_id!r} lacks "
            f"{'X-Repo-Commit' if not commit else 'an ETag'}: cannot cache it safely. Is HF_ENDPOINT a hub?"
        )
    safe_commit(commit)
    safe_blob_name(etag)
    size_header = response.headers.get("x-linked-size") or (
        None if response.is_redirect else response.headers.get("content-length")
    )
    xet_hash = response.headers.get("x-xet-hash")
    return FileMetadata(
        commit=commit,
        etag=etag,
        size=int(size_header) if size_header else None,
        location=location,
        xet_hash=xet_hash if xet_hash and is_xet_hash(xet_hash) else None,
    )
