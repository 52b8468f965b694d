"""A server killed (-9) during a Xet upload, the client's retry, and ``admin gc`` of Xet storage: on a server of
its own (kill and gc must not touch the session's shared one)."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .._hub import HubServer
from ._xet import sha256_file, start_upload, write_random

pytest.importorskip("huggingface_hub")
pytest.importorskip("hf_xet")
pytestmark = [pytest.mark.interop, pytest.mark.slow]
MB = 2**20


def test_kill_during_xet_upload_then_retry_and_gc(tmp_path: Path) -> None:
    server = HubServer(tmp_path / "data").start()
    try:
        server.create_user("alice")
        token = server.create_token("alice", "write")
        auth = {"authorization": f"Bearer {token}"}
        httpx.post(f"{server.url}/api/repos/create", json={"name": "big"}, headers=auth).raise_for_status()
        src = tmp_path / "big.bin"
        sha = write_random(src, 150 * MB, seed=7)  # three xorbs

        proc = start_upload(server.url, token, "alice/big", src, tmp_path / "home")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "xet: xorb" not in server.log(sync=False):
            time.sleep(0.05)
        assert "xet: xorb" in server.log(sync=False), "no xorb reached the server"
        assert server.proc is not None
        server.proc.send_signal(
            signal.SIGKILL
        )  # in the middle of the upload: more xorbs and the shard to come
        server.proc.wait(timeout=30)
        server.proc = None
        try:
            proc.wait(timeout=240)  # hf_xet retries, then gives up
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert "UPLOADED" not in (proc.stdout.read() if proc.stdout else "")

        server.start()
        if server.blob_store is None:  # start-up removes what dead processes left on local disk; an S3 bucket
            assert not server.partial_uploads()  # is shared: only gc (below) tells abandoned uploads by age
        files = httpx.get(f"{server.url}/api/models/alice/big/tree/main", headers=auth).json()
        assert [f["path"] for f in files] == [".gitattributes"]  # nothing visible of the killed upload

        retry = start_upload(server.url, token, "alice/big", src, tmp_path / "home")
        out, err = retry.communicate(timeout=600)
        assert "UPLOADED" in out, err[-3000:]
        got = tmp_path / "down.bin"
        url = f"{server.url}/alice/big/resolve/main/big.bin"
        with httpx.stream("GET", url, headers=auth) as r, open(got, "wb") as fh:
            for block in r.iter_bytes(1 << 20):
                fh.write(block)
        assert sha256_file(got) == sha

        # gc: nothing is collected while the file is referenced; after the repo is deleted, its xorbs, shard
        # and Xet file go (min age 0: everything unreferenced)
        before = server.stored_blobs()
        xorbs = set(re.findall(r"xet: xorb ([0-9a-f]{64}) from repo", server.log()))
        assert len(xorbs) >= 3 and xorbs <= before  # stored under their Xet hashes
        out = server.admin("gc", "--min-age-hours", "0")
        assert "deleted 0 unreferenced Xet files" in out, out
        httpx.request(
            "DELETE",
            f"{server.url}/api/repos/delete",
            json={"name": "big", "organization": "alice"},
            headers=auth,
        ).raise_for_status()
        out = server.admin("gc", "--min-age-hours", "0")
        assert "deleted 1 unreferenced Xet files, 3 xorbs and" in out, out
        after = server.stored_blobs()
        assert len(before - after) >= 4 and len(after) <= 1, (
            before,
            after,
        )  # xorbs + shard(s); .gitattributes
        assert not xorbs & after
        assert not server.partial_uploads()  # what the killed upload left is collected too
        assert httpx.get(f"{server.url}/api/health").status_code == 200
    finally:
        server.stop()
