"""Xet transfers through the ``hf_xet`` package (the optional extra ``modelhub[xet]``).

Used when ``hf_xet`` is installed, ``HF_HUB_DISABLE_XET`` is not set and the hub offers Xet: uploads when its
``xet-write-token`` route answers (on huggingface.co and on a modelhub server alike), downloads when a file carries
a Xet hash (``X-Xet-Hash`` / ``xetHash``). Otherwise the callers keep to LFS and plain HTTP. ``hf_xet`` does the
chunking, dedup and transfers; it fetches (and refreshes) its CAS tokens from the hub's token route itself, with
the caller's hub headers. What comes back is verified by the callers like any other download.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import constants
from ..errors import HfHubHTTPError
from . import http
from ._progress import progress_bar

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_session: tuple[int, Any] | None = None


def usable() -> bool:
    """``hf_xet`` importable and not disabled by ``HF_HUB_DISABLE_XET``."""
    return not constants.env_flag("HF_HUB_DISABLE_XET") and importlib.util.find_spec("hf_xet") is not None


def _xet_session() -> Any:
    """One ``hf_xet.XetSession`` per process (a fork gets its own)."""
    global _session
    with _lock:
        if _session is None or _session[0] != os.getpid():
            import hf_xet

            _session = (os.getpid(), hf_xet.XetSession())
        return _session[1]


def token_url(
    endpoint: str, plural: str, repo_id: str, kind: str, revision: str, create_pr: bool = False
) -> str:
    """The hub route that hands out CAS tokens (``kind``: read or write); also hf_xet's refresh route."""
    url = f"{endpoint}/api/{plural}/{repo_id}/xet-{kind}-token/{http.quote_segment(revision)}"
    return url + ("?create_pr=1" if create_pr else "")


def _without_auth(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "authorization"}


def _progress(total: int, label: str) -> tuple[Any, Callable[..., None]]:
    bar = progress_bar(total, label)
    done = [0]

    def update(group_report: Any, _items: Any = None) -> None:
        completed = int(getattr(group_report, "total_bytes_completed", 0) or 0)
        if completed > done[0]:
            bar.update(completed - done[0])
            done[0] = completed

    return bar, update


def offered(url: str, headers: dict[str, str], proxies: http.ProxiesT) -> bool:
    """Whether the hub hands out a CAS token at ``url`` (a hub without Xet answers 404)."""
    try:
        http.request("GET", url, headers=headers, proxies=proxies, idempotent=True)
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 405, 501):
            return False
        raise
    return True


def upload(sources: list[tuple[str | bytes, str]], *, refresh_url: str, headers: dict[str, str]) -> list[str]:
    """Upload (path or bytes, known SHA-256) pairs through Xet; returns the SHA-256s hf_xet computed, in order
    (the caller checks them against its own)."""
    session = _xet_session()
    total = sum(len(s) if isinstance(s, bytes) else os.path.getsize(s) for s, _ in sources)
    bar, update = _progress(total, f"Xet upload of {len(sources)} file(s)")
    try:
        with session.new_upload_commit(
            token_refresh_url=refresh_url,
            token_refresh_headers=headers,
            custom_headers=_without_auth(headers),
            progress_callback=None if constants.progress_bars_disabled() else update,
        ) as commit:
            handles = [
                commit.start_upload_bytes(s, sha256=sha)
                if isinstance(s, bytes)
                else commit.start_upload_file(s, sha256=sha)
                for s, sha in sources
            ]
        return [h.result().xet_info.sha256 for h in handles]
    finally:
        bar.close()


def download(
    file_hash: str,
    size: int,
    dest: Path,
    *,
    refresh_url: str,
    headers: dict[str, str],
    proxies: http.ProxiesT,
    label: str,
) -> None:
    """Reconstruct one file through Xet into ``dest`` (the caller verifies it)."""
    import hf_xet

    token = http.request("GET", refresh_url, headers=headers, proxies=proxies, idempotent=True)
    info = token.json()
    bar, update = _progress(size, label)
    try:
        with _xet_session().new_file_download_group(
            endpoint=info["casUrl"],
            token=info["accessToken"],
            token_expiry_unix_secs=int(info["exp"]),
            token_refresh_url=refresh_url,
            token_refresh_headers=headers,
            custom_headers=_without_auth(headers),
            progress_callback=None if constants.progress_bars_disabled() else update,
        ) as group:
            group.start_download_file(hf_xet.XetFileInfo(file_hash, size), str(dest))
    finally:
        bar.close()
