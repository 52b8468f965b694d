"""The importable app factory: ``uvicorn --factory modelhub.server.app:create_app --workers N`` serves one data
directory from several processes, configured by the environment alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from modelhub.server.settings import ServerSettings

from .._hub import HubServer, free_port
from ._lfs import commit, create_repo, file_line


def test_settings_from_env(tmp_path: Path) -> None:
    s = ServerSettings.from_env(
        {"MODELHUB_DATA_DIR": str(tmp_path), "MODELHUB_UPLOAD_MODE": "lfs", "MODELHUB_PAGE_SIZE": "50"}
    )
    assert s.data_dir == tmp_path.resolve() and s.upload_mode == "lfs" and s.page_size == 50
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("modelhub.sqlite3")
    with pytest.raises(ValueError, match="MODELHUB_UPLOAD_MODE"):
        ServerSettings.from_env({"MODELHUB_DATA_DIR": str(tmp_path), "MODELHUB_UPLOAD_MODE": "xet"})


@pytest.mark.slow
def test_uvicorn_workers_serve_one_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    admin = HubServer(data, backend="sqlite")  # not started: only its admin CLI (SQLite in the data dir)
    admin.admin("init")  # workers never create a hub
    admin.create_user("alice")
    token = admin.create_token("alice", "write")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | {"MODELHUB_DATA_DIR": str(data)}
    log = open(tmp_path / "uvicorn.log", "wb")  # noqa: SIM115 - owned by the subprocess
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "modelhub.server.app:create_app", "--workers", "2"]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / "uvicorn.log").read_text()[-3000:])
        # the first worker answers while the second may still be starting (slowly on a loaded machine)
        started = time.monotonic() + 60
        while (tmp_path / "uvicorn.log").read_text().count("Started server process") < 2:
            assert time.monotonic() < started, (tmp_path / "uvicorn.log").read_text()[-3000:]
            time.sleep(0.2)
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30) as c:
            create_repo(c, "alice/multi")
            cid = commit(c, "alice/multi", [file_line("hello.txt", b"hello")]).json()["commitOid"]
            # every worker serves it (a worker that cached the old head sees the new one within its 2 s TTL)
            seen = set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(seen) < 20:
                r = c.get("/alice/multi/resolve/main/hello.txt")
                if r.status_code == 200 and r.content == b"hello" and r.headers["x-repo-commit"] == cid:
                    seen.add(len(seen))
                else:
                    time.sleep(0.1)
            assert len(seen) == 20
        out = (tmp_path / "uvicorn.log").read_text()
        assert out.count("Started server process") >= 2, out[-2000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
