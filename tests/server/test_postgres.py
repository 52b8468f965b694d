"""The hub with its metadata in a real PostgreSQL server (started here from Debian's binaries), not SQLite.

Proves the schema and the commit model are portable: repos, LFS objects, branches, tags, PRs, concurrent commits to
one branch and a restart, driven by our client and the official one over HTTP. Skipped (with the reason) where
PostgreSQL or psycopg is not installed; scripts/test.sh installs both.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from .._hub import HubServer
from .._services import new_database

pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'modelhub[postgres]')")


@pytest.fixture(scope="module")
def postgres_url() -> str:
    """A new database on the test PostgreSQL server (tests/_services.py: Debian's postgresql, started once)."""
    return new_database()


def _first_run_token(server: HubServer) -> str:
    token = (server.data_dir / "first-run-token").read_text().strip()
    assert token.startswith("hf_"), "the first start on an empty database writes a write token"
    return token


def test_hub_on_postgresql(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub as hf

    from modelhub import HubApi, hub_download

    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    server = HubServer(tmp_path / "data", extra_args=("--database-url", postgres_url, "--init-user", "alice"))
    server.start()
    try:
        token = _first_run_token(server)
        assert "modelhub.sqlite3" not in os.listdir(server.data_dir)  # metadata really went to PostgreSQL
        api = HubApi(endpoint=server.url, token=token)
        repo_id = "alice/on-postgres"
        api.create_repo(repo_id, private=True)
        folder = tmp_path / "folder"
        folder.mkdir()
        big = os.urandom(3 * 1024 * 1024)
        (folder / "weights.bin").write_bytes(big)
        (folder / "config.json").write_text('{"hidden": 8}')
        first = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="first")
        api.create_branch(repo_id, branch="dev")
        api.create_tag(repo_id, tag="v1")

        # concurrent commits to one branch: both land, one after the other
        def commit(i: int) -> None:
            api.upload_file(path_or_fileobj=f"{i}".encode(), path_in_repo=f"c{i}.txt", repo_id=repo_id)

        threads = [threading.Thread(target=commit, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {f"c{i}.txt" for i in range(4)} <= set(api.list_repo_files(repo_id))
        assert len(api.list_repo_commits(repo_id)) == 2 + 4  # initial commit, "first", four concurrent ones

        official = hf.HfApi(endpoint=server.url, token=token)
        pr = official.upload_file(
            path_or_fileobj=b"pr", path_in_repo="pr.txt", repo_id=repo_id, create_pr=True
        )
        refs = official.list_repo_refs(repo_id, include_pull_requests=True)
        assert {b.name for b in refs.branches} == {"main", "dev"} and [t.name for t in refs.tags] == ["v1"]
        assert [p.ref for p in refs.pull_requests] == [f"refs/pr/{pr.pr_num}"]
        path = hf.hf_hub_download(repo_id, "weights.bin", revision="v1", endpoint=server.url, token=token)
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == hashlib.sha256(big).hexdigest()

        server.restart()  # everything is still there
        info = HubApi(endpoint=server.url, token=token).model_info(repo_id, revision="v1")
        assert info.sha == first.oid and info.private
        ours = hub_download(
            repo_id, "config.json", revision="dev", endpoint=server.url, token=token, cache_dir=tmp_path / "c"
        )
        assert Path(ours).read_text() == '{"hidden": 8}'
    finally:
        server.stop()
