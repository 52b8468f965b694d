"""The CAS at the protocol level, with hand-made xorbs and shards: what it verifies, whom it answers, and that a
refused upload stores nothing (against the real server over HTTP)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from types import SimpleNamespace

import httpx
import pytest

from modelhub.server.domain import xetfiles
from modelhub.server.xet import hashing

from .._hub import HubServer
from ._xet import make_shard, make_xorb


@pytest.fixture
def chunks() -> list[bytes]:
    """Fresh chunks per test (the server is shared: a xorb stored by one test is "already stored" in the next)."""
    return [os.urandom(70_000), os.urandom(50_000), b"z" * 39_000 + os.urandom(1000)]


def _cas_token(
    hub, repo_id: str, scope: str = "write", token: str | None = None, kind: str = "models"
) -> dict:
    r = httpx.get(
        f"{hub.url}/api/{kind}/{repo_id}/xet-{scope}-token/main",
        headers={"authorization": f"Bearer {token or hub.token}"} if token != "" else {},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        r.headers["x-xet-access-token"] == body["accessToken"]
        and r.headers["x-xet-cas-url"] == body["casUrl"]
    )
    assert body["exp"] - time.time() >= 3000  # long-lived: a 401 is fatal to hf_xet
    return body


def _cas(tok: dict) -> httpx.Client:
    return httpx.Client(
        base_url=tok["casUrl"], headers={"authorization": f"Bearer {tok['accessToken']}"}, timeout=60
    )


def _repo(hub, private: bool = False, token: str | None = None, namespace: str = "alice") -> str:
    repo_id = hub.new_repo_id("x", namespace=namespace)
    r = httpx.post(
        f"{hub.url}/api/repos/create",
        json={"name": repo_id.split("/")[1], "organization": namespace, "private": private},
        headers={"authorization": f"Bearer {token or hub.token}"},
    )
    assert r.status_code == 200, r.text
    return repo_id


def _upload(cas: httpx.Client, chunks: list[bytes], lz4: bool = True) -> tuple[str, str, str]:
    """Upload one xorb + shard of a file made of ``chunks``; (xorb, file hash, sha256)."""
    xh, body = make_xorb(chunks, lz4=lz4)
    r = cas.post(f"/v1/xorbs/default/{xh}", content=body)
    assert r.status_code == 200, r.text
    fh, sha, shard = make_shard({xh: chunks}, [(xh, 0, len(chunks))])
    r = cas.post("/v1/shards", content=shard)
    assert r.status_code == 200, r.text
    return xh, fh, sha


def _commit_lfs(
    hub, repo_id: str, path: str, sha: str, size: int, token: str | None = None
) -> httpx.Response:
    lines = [
        {"key": "header", "value": {"summary": "add"}},
        {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": sha, "size": size}},
    ]
    return httpx.post(
        f"{hub.url}/api/models/{repo_id}/commit/main",
        content="\n".join(json.dumps(x) for x in lines),
        headers={"authorization": f"Bearer {token or hub.token}", "content-type": "application/x-ndjson"},
    )


def test_upload_commit_and_download_by_hand(hub, chunks: list[bytes]) -> None:
    repo_id = _repo(hub)
    tok = _cas_token(hub, repo_id)
    with _cas(tok) as cas:
        xh, fh, sha = _upload(cas, chunks)
        # idempotent: the same xorb again is not an error
        assert cas.post(f"/v1/xorbs/default/{xh}", content=make_xorb(chunks, lz4=True)[1]).json() == {
            "was_inserted": False
        }
    # its blob is named by its Xet hash (verified chunk by chunk, so no SHA-256 is taken on top)
    assert xh in hub.server.stored_blobs()
    content = b"".join(chunks)
    assert _commit_lfs(hub, repo_id, "f.bin", sha, len(content)).status_code == 200
    with hub.http(hub.token) as c:
        assert c.get(f"/{repo_id}/resolve/main/f.bin").content == content
        assert c.head(f"/{repo_id}/resolve/main/f.bin").headers["x-xet-hash"] == fh


def test_plain_resolve_of_a_xet_file_streams_with_range(hub) -> None:
    """curl, old clients and HF_HUB_DISABLE_XET=1 get the bytes, reconstructed on the server, Range included."""
    repo_id = _repo(hub)
    chunks = [os.urandom(100_000) for _ in range(5)]
    with _cas(_cas_token(hub, repo_id)) as cas:
        xa, xa_body = make_xorb(chunks[:3], lz4=True)
        xb, xb_body = make_xorb(chunks[3:])
        assert cas.post(f"/v1/xorbs/default/{xa}", content=xa_body).status_code == 200
        assert cas.post(f"/v1/xorbs/default/{xb}", content=xb_body).status_code == 200
        # two terms, the second file reusing a middle chunk range of the first xorb
        _, sha, shard = make_shard({xa: chunks[:3], xb: chunks[3:]}, [(xa, 1, 3), (xb, 0, 2)])
        assert cas.post("/v1/shards", content=shard).status_code == 200
    content = b"".join(chunks[1:])
    assert _commit_lfs(hub, repo_id, "w.bin", sha, len(content)).status_code == 200
    url = f"{hub.url}/{repo_id}/resolve/main/w.bin"
    assert httpx.get(url).content == content
    for start, end in ((0, 0), (99_999, 100_000), (150_000, 250_123), (len(content) - 7, len(content) - 1)):
        r = httpx.get(url, headers={"range": f"bytes={start}-{end}"})
        assert r.status_code == 206 and r.content == content[start : end + 1], (start, end)
        assert r.headers["content-range"] == f"bytes {start}-{end}/{len(content)}"
    assert httpx.get(url, headers={"range": "bytes=-10"}).content == content[-10:]
    assert httpx.get(url, headers={"range": f"bytes={len(content)}-"}).status_code == 416


def test_tokens_are_scoped_to_repo_and_role(hub, chunks: list[bytes]) -> None:
    mine = _repo(hub)
    bob = hub.unique_name("bob")
    hub.create_user(bob)
    bob_token = hub.create_token(bob, "write")
    secret = _repo(hub, private=True, token=bob_token, namespace=bob)
    with _cas(_cas_token(hub, secret, token=bob_token)) as cas:
        xh, fh, sha = _upload(cas, chunks)
    size = sum(map(len, chunks))
    assert _commit_lfs(hub, secret, "s.bin", sha, size, token=bob_token).status_code == 200
    read = _cas_token(hub, mine, "read")
    with _cas(read) as cas:
        # a read token cannot upload
        assert cas.post(f"/v1/xorbs/default/{xh}", content=make_xorb(chunks)[1]).status_code == 403
        assert cas.post("/v1/shards", content=b"").status_code == 403
        # knowing the file hash of bob's private file gives nothing: the same 404 as an unknown file
        a = cas.get(f"/v2/reconstructions/{fh}")
        b = cas.get(f"/v2/reconstructions/{'0' * 63}1")
        assert a.status_code == b.status_code == 404 and a.json().keys() == b.json().keys()
        assert cas.get(f"/v1/reconstructions/{fh}").status_code == 404
        # nor does knowing a chunk of it: no dedup answer outside the token's repo
        assert (
            cas.get(f"/v1/chunks/default/{hashing.to_hex(hashing.chunk_hash(chunks[0]))}").status_code == 404
        )
    # alice cannot commit bob's content by its SHA-256 into her repo either
    r = _commit_lfs(hub, mine, "stolen.bin", sha, size)
    assert r.status_code == 400 and "never uploaded" in r.json()["error"]
    # nor get a token for bob's private repo
    assert (
        httpx.get(
            f"{hub.url}/api/models/{secret}/xet-read-token/main",
            headers={"authorization": f"Bearer {hub.token}"},
        ).status_code
        == 404
    )
    # a forged, tampered or missing token: 401
    for bad in (
        {"authorization": "Bearer nope"},
        {"authorization": f"Bearer {read['accessToken'][:-2]}00"},
        {},
    ):
        r = httpx.get(f"{read['casUrl']}/v2/reconstructions/{fh}", headers=bad)
        assert r.status_code == 401, bad


def test_expired_and_revoked_tokens_are_refused(hub, chunks: list[bytes]) -> None:
    secret = bytes(32)
    tok, exp = xetfiles.issue_token(secret, 1, True, 7, "ab" * 32, ttl=60)
    assert xetfiles.read_token(secret, tok).write
    assert xetfiles.read_token(secret, tok, now=exp + 599).repo_pk == 1  # the grace period
    with pytest.raises(xetfiles.CasTokenError, match="expired"):
        xetfiles.read_token(secret, tok, now=exp + 601)
    with pytest.raises(xetfiles.CasTokenError, match="signature"):
        xetfiles.read_token(os.urandom(32), tok)
    # revoking the hub token stops the CAS tokens issued for it
    repo_id = _repo(hub)
    hub_token = hub.create_token("alice", "write")
    tok = _cas_token(hub, repo_id, token=hub_token)
    with _cas(tok) as cas:
        _, fh, sha = _upload(cas, chunks)
        hub.server.admin("token", "revoke", hub_token)
        assert cas.get(f"/v2/reconstructions/{fh}").status_code == 401
        assert cas.post("/v1/shards", content=make_shard({}, [])[2]).status_code == 401


def test_a_cas_token_is_not_revived_by_a_new_token_with_its_hub_tokens_id(
    tmp_path, chunks: list[bytes]
) -> None:
    # SQLite gives the next token the row id of a revoked newest one: CAS tokens are bound to the token itself
    server = HubServer(tmp_path / "data", backend="sqlite").start()  # PostgreSQL never reuses ids
    try:
        server.create_user("alice")
        first = server.create_token("alice", "write")
        owner = SimpleNamespace(url=server.url, token=first, new_repo_id=_new_repo_id)  # what _repo() uses
        repo_id = _repo(owner)
        tok = _cas_token(owner, repo_id, token=first)

        def ids() -> list[str]:
            return [row.split("\t")[0] for row in server.admin("token", "list", "alice").splitlines()[1:]]

        (old_id,) = ids()
        with _cas(tok) as cas:
            _, fh, _ = _upload(cas, chunks)
            assert cas.get(f"/v2/reconstructions/{fh}").status_code == 200
            server.admin("token", "revoke", old_id)
            server.create_token("alice", "write")
            assert ids() == [old_id]  # the premise: the new token has the revoked one's id
            assert cas.get(f"/v2/reconstructions/{fh}").status_code == 401
    finally:
        server.stop()


def _new_repo_id(prefix: str = "m", namespace: str | None = None) -> str:
    return f"{namespace or 'alice'}/{prefix}-{os.urandom(5).hex()}"


def test_dedup_answers_are_scoped_and_keyed(hub, chunks: list[bytes]) -> None:
    repo_id = _repo(hub)
    with _cas(_cas_token(hub, repo_id)) as cas:
        xh, fh, sha = _upload(cas, chunks, lz4=False)
        first = hashing.chunk_hash(chunks[0])
        r = cas.get(f"/v1/chunks/default/{hashing.to_hex(first)}")
    assert r.status_code == 200
    body = r.content
    key = body[-200 + 72 : -200 + 104]
    assert key != bytes(32)
    # the chunk hashes are keyed: the raw ones (capabilities for a shard's verification entries) are not in it
    assert first not in body and hashing.keyed(key, first) in body
    assert hashing.from_hex(xh) in body


def test_bad_uploads_are_refused_and_store_nothing(hub, chunks: list[bytes]) -> None:
    repo_id = _repo(hub)
    content = b"".join(chunks)
    with _cas(_cas_token(hub, repo_id)) as cas:
        xh, body = make_xorb(chunks, lz4=True)
        # corrupt bytes: a flipped payload byte breaks the LZ4 frame or the hash
        bad = bytearray(body)
        bad[20] ^= 0xFF
        r = cas.post(f"/v1/xorbs/default/{xh}", content=bytes(bad))
        assert r.status_code == 400 and xh in r.json()["error"]
        # truncated, garbage header, wrong name
        assert cas.post(f"/v1/xorbs/default/{xh}", content=body[:-5]).status_code == 400
        assert cas.post(f"/v1/xorbs/default/{xh}", content=b"\x07" + body[1:]).status_code == 400
        other = hashing.to_hex(hashing.chunk_hash(b"other"))
        r = cas.post(f"/v1/xorbs/default/{other}", content=body)
        assert r.status_code == 400 and "not" in r.json()["error"]
        assert cas.post("/v1/xorbs/default/XYZ", content=body).status_code == 400
        # nothing was stored: a shard naming the xorb is refused for naming a missing xorb
        _, sha, shard = make_shard({xh: chunks}, [(xh, 0, 3)])
        r = cas.post("/v1/shards", content=shard)
        assert r.status_code == 400 and "never uploaded" in r.json()["error"]
        assert cas.post(f"/v1/xorbs/default/{xh}", content=body).json() == {"was_inserted": True}
        # shards that lie about the file: SHA-256, file hash, verification entries, chunk range
        for kwargs, words in (
            ({"sha256": hashlib.sha256(b"else").hexdigest()}, "SHA-256"),
            ({"file_hash": os.urandom(32)}, "hash to"),
            ({"verification": [os.urandom(32)]}, "verification"),
        ):
            r = cas.post("/v1/shards", content=make_shard({xh: chunks}, [(xh, 0, 3)], **kwargs)[2])
            assert r.status_code == 400 and words in r.json()["error"], (words, r.text)
        r = cas.post(
            "/v1/shards", content=make_shard({xh: chunks + [b"x"]}, [(xh, 0, 4)], list_xorbs=False)[2]
        )
        assert r.status_code == 400 and "has 3" in r.json()["error"]
        assert cas.post("/v1/shards", content=b"HFRepo" + bytes(100)).status_code == 400
        assert cas.post("/v1/shards", content=shard + b"trailing").status_code == 400
    # a commit naming a SHA-256 no accepted shard produced
    r = _commit_lfs(hub, repo_id, "f.bin", sha, len(content))
    assert r.status_code == 400 and "never uploaded" in r.json()["error"]
    # the hub keeps serving, and the honest shard still goes through
    with _cas(_cas_token(hub, repo_id)) as cas:
        assert cas.post("/v1/shards", content=shard).status_code == 200
    assert _commit_lfs(hub, repo_id, "f.bin", sha, len(content)).status_code == 200


def test_fetch_urls_are_bound_to_their_range(hub, chunks: list[bytes]) -> None:
    repo_id = _repo(hub)
    with _cas(_cas_token(hub, repo_id, "write")) as cas:
        xh, fh, sha = _upload(cas, chunks, lz4=False)
        plan = cas.get(f"/v2/reconstructions/{fh}", headers={"range": "bytes=0-1000"}).json()
        v1 = cas.get(f"/v1/reconstructions/{fh}").json()
    assert plan["offset_into_first_range"] == 0 and plan["terms"][0]["range"] == {"start": 0, "end": 1}
    assert v1["fetch_info"][xh][0]["url_range"] == {
        "start": 0,
        "end": 8 + 70_000 + 8 + 50_000 + 8 + 40_000 - 1,
    }
    [entry] = plan["xorbs"][xh]
    url, rng = entry["url"], entry["ranges"][0]["bytes"]
    ok = httpx.get(url, headers={"range": f"bytes={rng['start']}-{rng['end']}"})  # no Authorization
    assert ok.status_code == 206 and ok.content[8:] == chunks[0]
    assert httpx.get(url, headers={"range": f"bytes=0-{rng['end'] + 10}"}).status_code == 403
    assert httpx.get(url.replace("r=0-", "r=1-")).status_code == 403
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 403


def test_sha256_is_checked_whatever_was_hashed_ahead(hub) -> None:
    """The shard step resumes SHA-256s hashed ahead (the chain over xorbs as they arrive, checkpoints left by
    earlier files): a wrong declared SHA-256 is still refused, for a file in arrival order, a changed copy of an
    earlier one and one whose xorbs arrived in another order; the right one is accepted and reads back."""
    repo_id = _repo(hub)
    a = [os.urandom(60_000) for _ in range(3)]
    b = [os.urandom(60_000) for _ in range(2)]
    c = [os.urandom(60_000)]
    (xa, body_a), (xb, body_b), (xc, body_c) = make_xorb(a, lz4=True), make_xorb(b), make_xorb(c, lz4=True)
    xorbs = {xa: a, xb: b, xc: c}
    wrong = hashlib.sha256(b"else").hexdigest()
    files = {
        "in-order.bin": [(xa, 0, 3), (xb, 0, 2)],  # the chain hashed all of it while the xorbs came
        "changed.bin": [
            (xa, 0, 3),
            (xc, 0, 1),
            (xb, 1, 2),
        ],  # A's state from a checkpoint, the rest read back
        "reordered.bin": [(xb, 0, 2), (xa, 0, 3)],  # no state fits: all read back
    }
    shas = {}
    with _cas(_cas_token(hub, repo_id)) as cas:
        for x, body in ((xa, body_a), (xb, body_b)):
            assert cas.post(f"/v1/xorbs/default/{x}", content=body).status_code == 200
        # a body without Content-Length (chunked) is taken too
        r = cas.post(f"/v1/xorbs/default/{xc}", content=iter([body_c[:1000], body_c[1000:]]))
        assert r.json() == {"was_inserted": True}
        for path, terms in files.items():
            r = cas.post("/v1/shards", content=make_shard(xorbs, terms, sha256=wrong)[2])
            assert r.status_code == 400 and "SHA-256" in r.json()["error"], (path, r.text)
            _, shas[path], body = make_shard(xorbs, terms)
            assert cas.post("/v1/shards", content=body).status_code == 200, path
    for path, terms in files.items():
        content = b"".join(ch for x, s, e in terms for ch in xorbs[x][s:e])
        assert _commit_lfs(hub, repo_id, path, shas[path], len(content)).status_code == 200
        r = httpx.get(
            f"{hub.url}/{repo_id}/resolve/main/{path}", headers={"authorization": f"Bearer {hub.token}"}
        )
        assert r.status_code == 200 and r.content == content, path
