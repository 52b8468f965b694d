"""Objects belong to repos: a large file is readable through a repo only if that repo references it, and a
commit may reference an object without sending it only when the committer can read a repo that holds it.

The blob store is shared by all repos (content stored once), so these are the rules that keep a private file
private: the table below runs every operation for every kind of repo and caller against the real server."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass

import httpx
import pytest

from .._hub import HubServer
from ._lfs import batch, commit, create_repo, lfs_line, lfs_prefix, upload_lfs


@dataclass
class World:
    server: HubServer
    tokens: dict[str, str | None]  # caller -> token
    repos: dict[str, str]  # kind -> repo id
    objects: dict[str, tuple[str, int]]  # kind -> (oid, size) of its large file
    sandboxes: dict[str, str]  # caller -> a repo it may write

    def client(self, caller: str) -> httpx.Client:
        token = self.tokens[caller]
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def world(hub_server: HubServer) -> World:
    tag = uuid.uuid4().hex[:6]
    bob, carol = f"bob-{tag}", f"carol-{tag}"
    hub_server.create_user(bob)
    hub_server.create_user(carol)
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "reader": hub_server.alice_read_token,
        "writer": hub_server.alice_token,
        "other user": hub_server.create_token(bob, "write"),
    }
    carol_token = hub_server.create_token(carol, "write")
    repos = {
        "public": f"alice/pub-{tag}",
        "private": f"alice/priv-{tag}",
        "other's private": f"{carol}/priv-{tag}",
    }
    objects = {}
    for kind, rid in repos.items():
        token = carol_token if kind == "other's private" else hub_server.alice_token
        with httpx.Client(base_url=hub_server.url, headers={"authorization": f"Bearer {token}"}) as c:
            create_repo(c, rid, private=kind != "public")
            data = os.urandom(1000) + kind.encode()
            objects[kind] = (upload_lfs(c, rid, "weights.bin", data), len(data))
    sandboxes = {"writer": f"alice/sbx-{tag}", "other user": f"{bob}/sbx-{tag}"}
    for caller, rid in sandboxes.items():
        with httpx.Client(
            base_url=hub_server.url, headers={"authorization": f"Bearer {tokens[caller]}"}
        ) as c:
            create_repo(c, rid, private=True)  # private: what callers put there must not leak to the others
    return World(hub_server, tokens, repos, objects, sandboxes)


CALLERS = ("anonymous", "reader", "writer", "other user")
KINDS = ("public", "private", "other's private")
# who may read / write each kind of repo
READ = {
    "public": set(CALLERS),
    "private": {"reader", "writer"},
    "other's private": set(),
}
WRITE = {"public": {"writer"}, "private": {"writer"}, "other's private": set()}
# LFS uploads (batch upload, verify) are open to contributors too: any signed-in reader with a write token may send
# the files of a pull request; the commit itself is then checked against the ref (branches: writers only).
UPLOAD = {"public": {"writer", "other user"}, "private": {"writer"}, "other's private": set()}
UPLOAD_OPS = {"batch upload", "verify"}


def _denied(kind: str, caller: str, need_write: bool) -> int:
    """The status a caller gets for a repo it may not use: invisible repos look absent (401 anonymous, 404)."""
    if caller not in READ[kind]:
        return 401 if caller == "anonymous" else 404
    if need_write:
        return 401 if caller == "anonymous" else 403
    raise AssertionError("not denied")


def _op(world: World, op: str, kind: str, caller: str) -> tuple[int, dict | None]:
    """Run ``op`` on the repo of ``kind``'s own large file as ``caller``; (status, first batch item)."""
    rid = world.repos[kind]
    oid, size = world.objects[kind]
    with world.client(caller) as c:
        if op in ("batch download", "batch upload"):
            r = batch(c, rid, op.split()[1], oid, size)
            return r.status_code, (r.json()["objects"][0] if r.status_code == 200 else None)
        if op == "verify":
            r = c.post(f"{lfs_prefix(rid)}/verify", json={"oid": oid, "size": size})
        elif op == "resolve":
            r = c.get(f"/{rid}/resolve/main/weights.bin")
        elif op == "lfsFile commit line":
            r = commit(c, rid, [lfs_line(f"again-{uuid.uuid4().hex[:6]}.bin", oid)])
        else:  # copy
            r = commit(c, rid, [{"key": "copyFile", "value": {"path": "copy.bin", "srcPath": "weights.bin"}}])
        return r.status_code, None


OPS = ("batch download", "batch upload", "verify", "resolve", "lfsFile commit line", "copy")
NEEDS_WRITE = {"batch upload", "verify", "lfsFile commit line", "copy"}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("kind", KINDS)
def test_own_object_table(world: World, kind: str, caller: str, op: str) -> None:
    """Each repo's own large file, every caller, every operation: allowed exactly when the repo permits."""
    status, item = _op(world, op, kind, caller)
    need_write = op in NEEDS_WRITE
    allowed = caller in (UPLOAD[kind] if op in UPLOAD_OPS else WRITE[kind] if need_write else READ[kind])
    if not allowed:
        assert status == _denied(kind, caller, need_write), (kind, caller, op, status)
        return
    assert status == 200, (kind, caller, op, status)
    if op == "batch download":
        assert "download" in item["actions"], item
        got = httpx.get(item["actions"]["download"]["href"], timeout=60, follow_redirects=True)
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == world.objects[kind][0]
    if op == "batch upload":
        assert "actions" not in item and "error" not in item, item  # already in this repo: nothing to send


@pytest.mark.parametrize("op", ("batch download", "batch upload", "verify", "lfsFile commit line"))
@pytest.mark.parametrize("caller", ("writer", "other user"))
@pytest.mark.parametrize("kind", KINDS)
def test_foreign_object_through_own_repo(world: World, kind: str, caller: str, op: str) -> None:
    """Another repo's object, named by hash through a repo the caller writes (its sandbox): downloads never work
    (the sandbox does not reference it); referencing it without uploading works only if the caller can read a
    repo that holds it, and otherwise looks exactly like an object that does not exist."""
    sandbox = world.sandboxes[caller]
    oid, size = world.objects[kind]
    absent = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    readable = caller in READ[kind]
    with world.client(caller) as c:

        def run(target: str) -> httpx.Response:
            if op == "batch download":
                return batch(c, sandbox, "download", target, size)
            if op == "batch upload":
                return batch(c, sandbox, "upload", target, size)
            if op == "verify":
                return c.post(f"{lfs_prefix(sandbox)}/verify", json={"oid": target, "size": size})
            return commit(c, sandbox, [lfs_line("ref.bin", target)])

        r, r_absent = run(oid), run(absent)
    if op == "batch download":
        assert r.status_code == 200
        assert r.json()["objects"][0]["error"]["code"] == 404  # even when readable elsewhere
        assert r.json()["objects"][0]["error"]["message"] == r_absent.json()["objects"][0]["error"][
            "message"
        ].replace(absent, oid)
        return
    if readable:
        assert r.status_code == 200, r.text
        if op == "batch upload":
            assert "actions" not in r.json()["objects"][0]  # proved by readability: nothing to send
        return
    # unreadable elsewhere: the very same answer as for a hash nobody stored
    assert r.status_code == r_absent.status_code, (r.status_code, r_absent.status_code)
    if op == "batch upload":
        item, item_absent = r.json()["objects"][0], r_absent.json()["objects"][0]
        assert set(item.get("actions", ())) == set(item_absent["actions"]) == {"upload", "verify"}, item
    else:
        assert r.status_code in (400, 404)
        assert r.text.replace(oid, "X") == r_absent.text.replace(absent, "X")


def test_foreign_object_needs_its_bytes_then_commits(world: World) -> None:
    """Uploading the bytes proves possession: after a verified upload through the sandbox, the object (stored
    once already, for another user's private repo) may be committed there, and the private repo stays private."""
    oid, size = world.objects["other's private"]
    data_wrong = os.urandom(size)
    sandbox = world.sandboxes["other user"]
    with world.client("other user") as c:
        item = batch(c, sandbox, "upload", oid, size).json()["objects"][0]
        href = item["actions"]["upload"]["href"]
        bad = httpx.put(href, content=data_wrong, timeout=60)  # bytes that do not hash to oid: refused
        assert bad.status_code == 400 and bad.headers["x-error-code"] == "InvalidObject"
        assert commit(c, sandbox, [lfs_line("x.bin", oid)]).status_code == 400
        # a signed URL is scoped to its repo: it cannot be replayed for another one
        url = httpx.URL(href)
        forged = url.copy_set_param("repo", str(int(url.params["repo"]) + 1))
        assert httpx.put(forged, content=data_wrong, timeout=60).status_code == 403
    with world.client("anonymous") as anon:
        private_repo = world.repos["other's private"]
        r = anon.get(f"/api/models/{private_repo}")
        assert r.status_code == 401


def test_lfs_download_url_needs_valid_signature(world: World) -> None:
    oid, size = world.objects["private"]
    with world.client("anonymous") as c:
        r = c.get(f"/lfs-objects/{oid}", params={"size": size, "exp": 2**40, "sig": "0" * 40})
        assert r.status_code == 403
        r = c.get(f"/lfs-objects/{oid}")
        assert r.status_code == 403
