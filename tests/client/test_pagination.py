"""Paginated listings (protocol 3.1, 3.5) against a real server that answers in pages of 2 entries.

The session hub answers in pages of 1000, so a listing of a few files never takes a second page there; this module
starts its own server with ``--page-size 2`` to make the client follow ``Link: <...>; rel="next"``.
"""

from pathlib import Path

import pytest

from modelhub.client import CommitOperationAdd, HubApi, snapshot_download
from tests._hub import HubServer


@pytest.fixture(scope="module")
def small_pages(tmp_path_factory):
    server = HubServer(tmp_path_factory.mktemp("paged") / "data", extra_args=("--page-size", "2")).start()
    try:
        server.create_user("alice")
        yield server, server.create_token("alice", "write")
    finally:
        server.stop()


def test_listings_follow_every_page(small_pages, tmp_path, monkeypatch):
    server, token = small_pages
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    api = HubApi(endpoint=server.url, token=token)
    api.create_repo("alice/paged")
    names = [f"d{i % 2}/f{i}.txt" for i in range(7)]
    for start in (0, 4):
        api.create_commit(
            "alice/paged",
            [CommitOperationAdd(n, n.encode()) for n in names[start : start + 4]],
            commit_message=f"batch {start}",
        )
    assert sorted(api.list_repo_files("alice/paged")) == sorted([*names, ".gitattributes"])
    tree = list(api.list_repo_tree("alice/paged", recursive=True))
    assert {e.path for e in tree} >= {"d0", "d1", *names}
    assert len(api.list_repo_commits("alice/paged")) == 3  # initial commit + 2
    # snapshot_download reads the tree (10 entries with the folders: 5 pages) before fetching the files
    folder = Path(snapshot_download("alice/paged", token=token))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.txt")) == sorted(names)
