"""Chunk-level dedup: a 200 MB file with 1 MB changed in the middle is re-sent as a few MB, from the same client
cache (hf_xet's local shards) and from a fresh one (the CAS's dedup answers), measured on the server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ._xet import sha256_file, traffic, upload, write_random

pytest.importorskip("huggingface_hub")
pytest.importorskip("hf_xet")
pytestmark = [pytest.mark.interop, pytest.mark.slow]
MB = 2**20


def _change_middle(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(os.urandom(MB))


def test_reupload_with_one_mb_changed_sends_only_the_change(hub, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id("dedup")
    with hub.http(hub.token) as c:
        c.post("/api/repos/create", json={"name": repo_id.split("/")[1]}).raise_for_status()
    src = tmp_path / "big.bin"
    write_random(src, 200 * MB, seed=5)
    with traffic(hub.server) as first:
        upload(hub.url, hub.token, repo_id, src, tmp_path / "home")
    assert first.cas_received() > 200 * MB

    _change_middle(src, 100 * MB)
    with traffic(hub.server) as same_cache:
        upload(hub.url, hub.token, repo_id, src, tmp_path / "home")
    assert same_cache.cas_received() < 5 * MB, same_cache.cas_received()

    _change_middle(src, 60 * MB)
    with traffic(hub.server) as fresh_cache:
        upload(hub.url, hub.token, repo_id, src, tmp_path / "other-home")
    print(
        f"CAS received: first {first.cas_received()}, same cache {same_cache.cas_received()}, fresh cache {fresh_cache.cas_received()}"
    )
    assert fresh_cache.to("GET", "/cas/v1/chunks/", 200)  # the CAS's dedup answers did it
    assert fresh_cache.cas_received() < 5 * MB, fresh_cache.cas_received()

    with hub.http(hub.token) as c, c.stream("GET", f"/{repo_id}/resolve/main/big.bin") as r:
        got = tmp_path / "down.bin"
        with open(got, "wb") as fh:
            for block in r.iter_bytes(1 << 20):
                fh.write(block)
    assert sha256_file(got) == sha256_file(src)
