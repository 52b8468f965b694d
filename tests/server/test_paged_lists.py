"""Likers, liked repos and organization members come in pages with a ``Link`` to the next one, as on the Hub: the
official client follows it and gets every entry once; a private repo stays out of every page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .._hub import HubServer

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi  # noqa: E402

pytestmark = pytest.mark.interop
USERS = ["ann", "ben", "cat", "dan", "eve"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    s = HubServer(Path(tmp_path_factory.mktemp("paged")) / "data", extra_args=("--page-size", "2")).start()
    try:
        yield s
    finally:
        s.stop()


def _pages(url: str, token: str) -> list[list]:
    """Every page of a listing, following ``Link`` by hand (at most 10)."""
    pages = []
    with httpx.Client(headers={"authorization": f"Bearer {token}"}, timeout=60) as c:
        for _ in range(10):
            r = c.get(url)
            r.raise_for_status()
            pages.append(r.json())
            if "next" not in r.links:
                break
            url = r.links["next"]["url"]
    return pages


def test_likers_members_and_likes_are_paged(server: HubServer) -> None:
    tokens = {}
    for u in USERS:
        server.create_user(u)
        tokens[u] = server.create_token(u)
    server.create_org("crew", USERS)
    owner = HfApi(endpoint=server.url, token=tokens["ann"])
    owner.create_repo("ann/liked")
    liked = [f"ann/r{i}" for i in range(5)]
    for repo in liked:
        owner.create_repo(repo)
    owner.create_repo("ann/secret", private=True)
    for u in USERS:
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {tokens[u]}"}) as c:
            assert c.post("/api/models/ann/liked/like").status_code == 200
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {tokens['ann']}"}) as c:
        for repo in [*liked, "ann/secret"]:
            assert c.post(f"/api/models/{repo}/like").status_code == 200

    pages = _pages(f"{server.url}/api/models/ann/liked/likers", tokens["ann"])
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [u["user"] for p in pages for u in p] == USERS  # in the order they liked, each once
    assert sorted(u.username for u in owner.list_repo_likers("ann/liked")) == USERS

    members = _pages(f"{server.url}/api/organizations/crew/members", tokens["ann"])
    assert [len(p) for p in members] == [2, 2, 1]
    assert sorted(m.username for m in owner.list_organization_members("crew")) == USERS

    # what ann liked: her own view holds the private repo, ben's pages never do
    mine = owner.list_liked_repos("ann").models
    assert sorted(mine) == sorted([*liked, "ann/liked", "ann/secret"])
    bens = _pages(f"{server.url}/api/users/ann/likes", tokens["ben"])
    seen = [e["repo"]["name"] for p in bens for e in p]
    assert sorted(seen) == sorted([*liked, "ann/liked"]) and all(len(p) <= 2 for p in bens)


def test_a_forged_cursor_is_refused(server: HubServer) -> None:
    r = httpx.get(f"{server.url}/api/organizations/crew/members", params={"cursor": "not-a-cursor!"})
    assert r.status_code == 400 and "cursor" in r.json()["error"]
