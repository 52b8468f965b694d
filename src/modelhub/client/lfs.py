"""Git LFS batch API: upload large files by basic or multipart transfer (protocol section 5.5).

The batch answer says, per object, whether the hub already has it (no ``actions``: skipped, nothing sent) or where
to PUT it: one ``upload.href`` (basic) or, when ``upload.header.chunk_size`` is present, one URL per part followed
by a completion POST (multipart). Upload URLs are self-authorising: no ``Authorization`` header is sent to them;
a ``https://huggingface.co`` prefix in them is rewritten to the endpoint in use.
Bodies are streamed from disk; a file is never held in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from ..constants import REPO_TYPES_URL_PREFIXES
from ..errors import HfHubHTTPError, HubError
from . import http
from ._parallel import map_in_threads
from ._progress import progress_bar
from .operations import CommitOperationAdd
from .types import on_endpoint

logger = logging.getLogger(__name__)

LFS_HEADERS = {"accept": "application/vnd.git-lfs+json", "content-type": "application/vnd.git-lfs+json"}
BATCH_SIZE = 256
UPLOAD_TIMEOUT = http.httpx.Timeout(600.0, connect=10.0)


class LfsUploadError(HubError):
    """The LFS batch API refused an object (its ``error`` entry), or a transfer could not complete."""


def _streamed(op: CommitOperationAdd, offset: int, length: int, bar: Any) -> Any:
    """A content factory for http.request: each retry restarts the slice from its beginning."""

    def make() -> Iterator[bytes | memoryview]:
        sent = 0
        try:
            for chunk in op.iter_chunks(offset, length, reuse_buffer=True):
                sent += len(chunk)
                bar.update(len(chunk))
                yield chunk
        finally:
            if sent < length:  # a failed attempt: take its bytes back off the bar before the retry
                bar.update(-sent)

    return make


def upload_lfs_files(
    additions: list[CommitOperationAdd],
    *,
    endpoint: str,
    repo_id: str,
    repo_type: str,
    revision: str | None,
    headers: dict[str, str],
    proxies: http.ProxiesT = None,
    num_threads: int = 4,
) -> dict[str, int]:
    """Upload the LFS content of ``additions`` that the hub does not already have.

    Returns counters ``{"uploaded": n, "skipped": n, "bytes": n}`` (``bytes`` = content bytes sent).
    """
    unique: dict[str, CommitOperationAdd] = {}
    for op in additions:
        unique.setdefault(op.upload_info.sha256, op)
    todo: list[tuple[CommitOperationAdd, dict[str, Any]]] = []
    skipped = 0
    batch_url = f"{endpoint}/{REPO_TYPES_URL_PREFIXES[repo_type]}{repo_id}.git/info/lfs/objects/batch"
    ops = list(unique.values())
    for start in range(0, len(ops), BATCH_SIZE):
        chunk = ops[start : start + BATCH_SIZE]
        payload: dict[str, Any] = {
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "hash_algo": "sha256",
            "objects": [{"oid": op.upload_info.sha256, "size": op.upload_info.size} for op in chunk],
        }
        if revision is not None:
            payload["ref"] = {"name": revision}
        response = http.request(
            "POST",
            batch_url,
            headers={**headers, **LFS_HEADERS},
            json=payload,
            proxies=proxies,
            idempotent=True,
            ctx=http.Context(
                repo_id=repo_id,
                repo_type=repo_type,
                revision=revision,
                endpoint=endpoint,
                action="upload LFS files",
            ),
        )
        by_oid = {op.upload_info.sha256: op for op in chunk}
        for obj in response.json().get("objects", []):
            found = by_oid.get(obj.get("oid"))
            if found is None:
                continue
            op = found
            if obj.get("error"):
                err = obj["error"]
                raise LfsUploadError(
                    f"The hub refused the LFS upload of {op.path_in_repo!r} (sha256 {op.upload_info.sha256}, "
                    f"{op.upload_info.size} bytes): {err.get('code')} {err.get('message')}"
                )
            actions = obj.get("actions") or {}
            if not actions.get("upload"):
                skipped += 1
                op._is_uploaded = True
                continue
            todo.append((op, actions))

    total = sum(op.upload_info.size for op, _ in todo)
    if not todo:
        return {"uploaded": 0, "skipped": skipped, "bytes": 0}
    with progress_bar(total, f"Uploading {len(todo)} LFS file(s)") as bar:

        def run(item: tuple[CommitOperationAdd, dict[str, Any]]) -> None:
            op, actions = item
            upload = actions["upload"]
            header = {  # part URLs (numeric keys) are hrefs too
                k: on_endpoint(v, endpoint) if str(k).isdigit() and isinstance(v, str) else v
                for k, v in (upload.get("header") or {}).items()
            }
            href = on_endpoint(upload["href"], endpoint)
            if "chunk_size" in header:
                _multipart(op, href, header, proxies, bar)
            else:
                _basic(op, href, proxies, bar)
            verify = actions.get("verify")
            if verify and verify.get("href"):
                http.request(
                    "POST",
                    on_endpoint(verify["href"], endpoint),
                    headers={**headers, **LFS_HEADERS, **(verify.get("header") or {})},
                    json={"oid": op.upload_info.sha256, "size": op.upload_info.size},
                    proxies=proxies,
                    idempotent=True,
                    ctx=http.Context(
                        repo_id=repo_id, repo_type=repo_type, endpoint=endpoint, action="verify an LFS upload"
                    ),
                )
            op._is_uploaded = True
            logger.debug("uploaded LFS object %s (%s)", op.upload_info.sha256, op.path_in_repo)

        map_in_threads(run, todo, num_threads)
    return {"uploaded": len(todo), "skipped": skipped, "bytes": total}


def _basic(op: CommitOperationAdd, href: str, proxies: http.ProxiesT, bar: Any) -> None:
    size = op.upload_info.size
    http.request(
        "PUT",
        href,
        headers={"content-length": str(size)},  # no auth, no content-type: the href authorises itself
        content=_streamed(op, 0, size, bar),
        proxies=proxies,
        timeout=UPLOAD_TIMEOUT,
        ctx=http.Context(filename=op.path_in_repo, action="upload an LFS file"),
    )


def _multipart(
    op: CommitOperationAdd, href: str, header: dict[str, Any], proxies: http.ProxiesT, bar: Any
) -> None:
    size = op.upload_info.size
    try:
        chunk_size = int(header["chunk_size"])
    except (TypeError, ValueError) as exc:
        raise LfsUploadError(
            f"Malformed multipart answer for {op.path_in_repo!r}: chunk_size={header.get('chunk_size')!r}"
        ) from exc
    part_urls = sorted(((int(k), v) for k, v in header.items() if str(k).isdigit()), key=lambda kv: kv[0])
    expected = -(-size // chunk_size)
    if len(part_urls) != expected:
        raise LfsUploadError(
            f"Multipart upload of {op.path_in_repo!r}: the hub gave {len(part_urls)} part URLs, {expected} expected "
            f"for {size} bytes in parts of {chunk_size}."
        )
    parts = []
    for index, (number, url) in enumerate(part_urls):
        offset = index * chunk_size
        length = min(chunk_size, size - offset)
        response = http.request(
            "PUT",
            url,
            headers={"content-length": str(length)},
            content=_streamed(op, offset, length, bar),
            proxies=proxies,
            timeout=UPLOAD_TIMEOUT,
            ctx=http.Context(filename=op.path_in_repo, action="upload an LFS part"),
        )
        etag = response.headers.get("etag")
        if not etag:
            raise HfHubHTTPError(
                f"Multipart upload of {op.path_in_repo!r}: part {number} answered without an ETag header.",
                response,
            )
        parts.append({"partNumber": number, "etag": etag})
    http.request(
        "POST",
        href,
        headers=dict(LFS_HEADERS),
        json={"oid": op.upload_info.sha256, "parts": parts},
        proxies=proxies,
        idempotent=True,
        timeout=UPLOAD_TIMEOUT,
        ctx=http.Context(filename=op.path_in_repo, action="complete a multipart upload"),
    )
