"""Downloads against the real server: revisions, private repos, offline, cache semantics, faults."""

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelhub import errors
from modelhub.client import HubApi, http, hub_download, snapshot_download
from modelhub.client.cache_layout import RepoCache
from modelhub.client.download import forget_resolved_revisions

from .._services import local_storage_only
from ._proxy import FaultyProxy

BIG = bytes(range(256)) * 4096 * 3  # 3 MiB, binary: stored as LFS


@pytest.fixture(autouse=True)
def _fresh_memory(monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("MODELHUB_RETRY_BACKOFF", "0.01")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")  # the HTTP path (resume, proxies); Xet: test_xet_client.py
    forget_resolved_revisions()
    yield
    forget_resolved_revisions()


@pytest.fixture
def api(hub):
    return HubApi(token=hub.token)


@pytest.fixture
def repo(hub, api):
    """main: config.json + weights.bin + sub/deep.txt; tag v1 at the first commit; branch dev; PR 1."""
    repo_id = hub.new_repo_id("dl")
    api.create_repo(repo_id)
    from modelhub.client import CommitOperationAdd as Add

    first = api.create_commit(
        repo_id,
        [Add("config.json", b'{"v": 1}'), Add("weights.bin", BIG), Add("sub/deep.txt", b"deep")],
        commit_message="v1",
    )
    api.create_tag(repo_id, tag="v1")
    api.create_branch(repo_id, branch="dev")
    api.upload_file(
        path_or_fileobj=b'{"v": "dev"}', path_in_repo="config.json", repo_id=repo_id, revision="dev"
    )
    second = api.upload_file(path_or_fileobj=b'{"v": 2}', path_in_repo="config.json", repo_id=repo_id)
    pr = api.upload_file(
        path_or_fileobj=b'{"v": "pr"}', path_in_repo="config.json", repo_id=repo_id, create_pr=True
    )
    return {"id": repo_id, "first": first.oid, "second": second.oid, "pr": pr.pr_revision, "pr_oid": pr.oid}


def _cache(repo_id) -> RepoCache:
    return RepoCache(None, repo_id)


def test_every_kind_of_revision(hub, repo):
    rid = repo["id"]
    read = lambda rev: Path(hub_download(rid, "config.json", revision=rev, token=hub.token)).read_bytes()  # noqa: E731
    assert read(None) == b'{"v": 2}'
    assert read("main") == b'{"v": 2}'
    assert read("v1") == b'{"v": 1}'
    assert read("dev") == b'{"v": "dev"}'
    assert read(repo["pr"]) == b'{"v": "pr"}'
    assert read(repo["first"]) == b'{"v": 1}'
    rc = _cache(rid)
    assert rc.ref_path("main").read_text() == repo["second"]
    assert rc.ref_path("v1").read_text() == repo["first"]
    assert rc.ref_path(repo["pr"]).read_text() == repo["pr_oid"]  # refs/refs/pr/1
    assert not rc.ref_path(repo["first"]).exists()
    path = Path(hub_download(rid, "weights.bin", revision="v1", token=hub.token))
    assert path.read_bytes() == BIG
    assert os.readlink(path) == f"../../blobs/{hashlib.sha256(BIG).hexdigest()}"
    assert (rc.cache_dir / "CACHEDIR.TAG").is_file()
    assert (rc.cache_dir / ".locks" / rc.folder.name).is_dir()
    nested = Path(hub_download(rid, "deep.txt", subfolder="sub", token=hub.token))
    assert nested.read_bytes() == b"deep" and os.readlink(nested).startswith("../../../blobs/")


def test_snapshot_download_patterns_and_revisions(hub, repo):
    rid = repo["id"]
    snap = Path(snapshot_download(rid, token=hub.token))
    assert snap.name == repo["second"]
    assert {p.relative_to(snap).as_posix() for p in snap.rglob("*") if p.is_file()} >= {
        "config.json",
        "weights.bin",
        "sub/deep.txt",
    }
    assert _cache(rid).tree_path(repo["second"]).is_file()
    only = Path(
        snapshot_download(
            rid, revision="v1", allow_patterns=["*.json", "sub/"], token=hub.token, max_workers=2
        )
    )
    assert only.name == repo["first"]
    assert sorted(p.relative_to(only).as_posix() for p in only.rglob("*") if p.is_file()) == [
        "config.json",
        "sub/deep.txt",
    ]
    pr = Path(snapshot_download(rid, revision=repo["pr"], ignore_patterns="*.bin", token=hub.token))
    assert (pr / "config.json").read_bytes() == b'{"v": "pr"}' and not (pr / "weights.bin").exists()


def test_warm_cache_costs_one_request_then_none(hub, repo, monkeypatch):
    from modelhub.client import revision_scope

    rid = repo["id"]

    def from_pretrained_sequence():
        with revision_scope():  # what the mixins' from_pretrained does
            hub_download(rid, "config.json", token=hub.token)
            try:
                hub_download(rid, "model.safetensors", token=hub.token)
            except errors.EntryNotFoundError:
                hub_download(rid, "weights.bin", token=hub.token)
            with pytest.raises(errors.EntryNotFoundError):
                hub_download(rid, "adapter_config.json", token=hub.token)

    from_pretrained_sequence()  # cold
    assert _cache(rid).is_known_missing(repo["second"], "model.safetensors")
    forget_resolved_revisions()  # as a new process would start
    http.stats.reset()
    from_pretrained_sequence()
    assert http.stats.count == 1, http.stats
    snapshot_download(rid, token=hub.token)  # fills the rest of the snapshot and trees/<commit>.json
    forget_resolved_revisions()
    http.stats.reset()
    with revision_scope():
        snapshot_download(rid, token=hub.token)
        snapshot_download(rid, token=hub.token)
        hub_download(rid, "config.json", token=hub.token)
    assert http.stats.count == 1, http.stats  # the revision, once
    http.stats.reset()
    hub_download(rid, "config.json", token=hub.token)
    hub_download(rid, "config.json", token=hub.token)
    assert http.stats.count == 2, http.stats  # outside a scope each call asks (no stale read by default)
    http.stats.reset()
    hub_download(rid, "config.json", revision=repo["second"], token=hub.token)
    snapshot_download(rid, revision=repo["second"], token=hub.token)
    assert http.stats.count == 0  # a cached commit is immutable
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    forget_resolved_revisions()
    http.stats.reset()
    from_pretrained_sequence()
    assert Path(snapshot_download(rid)).name == repo["second"]
    assert http.stats.count == 0


def test_arguments_of_older_upstream_releases_are_accepted(hub, repo, tmp_path):
    """Integrations written from the seed-era docs pass resume_download / local_dir_use_symlinks."""
    path = hub_download(repo["id"], "config.json", token=hub.token, resume_download=True)
    assert Path(path).read_bytes() == b'{"v": 2}'
    folder = snapshot_download(
        repo["id"],
        token=hub.token,
        local_dir=tmp_path / "out",
        resume_download=False,
        local_dir_use_symlinks=False,
        allow_patterns="*.json",
    )
    assert (Path(folder) / "config.json").read_bytes() == b'{"v": 2}'


def test_new_commit_seen_after_our_own_push(hub, api, repo):
    rid = repo["id"]
    hub_download(rid, "config.json", token=hub.token)
    api.upload_file(path_or_fileobj=b'{"v": 3}', path_in_repo="config.json", repo_id=rid)
    assert Path(hub_download(rid, "config.json", token=hub.token)).read_bytes() == b'{"v": 3}'


def test_offline_and_local_files_only(hub, repo, monkeypatch):
    rid = repo["id"]
    with pytest.raises(errors.LocalEntryNotFoundError, match="local_files_only"):
        hub_download(rid, "config.json", local_files_only=True)
    path = hub_download(rid, "config.json", token=hub.token)
    assert hub_download(rid, "config.json", local_files_only=True) == path
    snap = snapshot_download(rid, allow_patterns="*.json", token=hub.token)  # also caches the tree listing
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub_download(rid, "config.json") == path
    with pytest.raises(errors.LocalEntryNotFoundError, match="HF_HUB_OFFLINE"):
        hub_download(rid, "weights.bin")
    assert snapshot_download(rid, allow_patterns="*.json") == snap
    with pytest.raises(errors.LocalEntryNotFoundError, match="weights.bin"):
        snapshot_download(rid)  # complete against the cached tree? no: weights.bin was never downloaded
    with pytest.raises(errors.LocalEntryNotFoundError):
        snapshot_download(rid, revision="v1")  # never resolved while online
    with pytest.raises(errors.OfflineModeIsEnabled):
        HubApi(token=hub.token).repo_info(rid)


def test_private_repo_with_and_without_token(hub, api, monkeypatch):
    rid = hub.new_repo_id("private")
    api.create_repo(rid, private=True)
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=rid)
    with pytest.raises(errors.RepositoryNotFoundError, match="private"):
        hub_download(rid, "s.txt", token=False)
    with pytest.raises(errors.RepositoryNotFoundError):
        snapshot_download(rid, token=False)
    assert Path(hub_download(rid, "s.txt", token=hub.token)).read_bytes() == b"secret"
    monkeypatch.setenv("HF_TOKEN", hub.read_token)
    forget_resolved_revisions()
    assert Path(snapshot_download(rid, force_download=True)).joinpath("s.txt").read_bytes() == b"secret"
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    forget_resolved_revisions()
    with pytest.raises(errors.RepositoryNotFoundError):
        hub_download(rid, "s.txt", force_download=True)


def test_bad_input_errors_leave_nothing(hub, repo):
    rid = repo["id"]
    with pytest.raises(errors.HFValidationError, match="Invalid repo id"):
        hub_download("not a repo", "x")
    with pytest.raises(errors.HFValidationError):
        hub_download(rid, "../etc/passwd")
    with pytest.raises(errors.RevisionNotFoundError, match="'nope'"):
        hub_download(rid, "config.json", revision="nope", token=hub.token)
    with pytest.raises(errors.RevisionNotFoundError):
        snapshot_download(rid, revision="nope", token=hub.token)
    with pytest.raises(errors.RemoteEntryNotFoundError, match="missing.txt") as info:
        hub_download(rid, "missing.txt", token=hub.token)
    assert isinstance(info.value, errors.EntryNotFoundError)
    assert _cache(rid).is_known_missing(repo["second"], "missing.txt")
    with pytest.raises(errors.RepositoryNotFoundError, match="alice/does-not-exist"):
        hub_download("alice/does-not-exist", "x", token=hub.token)
    blobs = _cache(rid).folder / "blobs"
    assert not list(blobs.glob("*.incomplete"))


def test_server_unreachable(hub, repo, monkeypatch, tmp_path):
    rid = repo["id"]
    cached = hub_download(rid, "config.json", token=hub.token)
    local = hub_download(rid, "config.json", token=hub.token, local_dir=tmp_path / "ld")
    monkeypatch.setenv("MODELHUB_MAX_RETRIES", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    forget_resolved_revisions()
    http.stats.reset()
    assert hub_download(rid, "config.json") == cached  # the cached copy of the revision is served
    assert http.stats.count == 1  # at once: no backing off while a cached copy can answer
    with pytest.raises(errors.LocalEntryNotFoundError, match="could not be reached") as info:
        hub_download(rid, "weights.bin")
    assert isinstance(info.value.__cause__, errors.HubConnectionError)
    with pytest.raises(errors.HubConnectionError, match="Could not reach 127.0.0.1:9"):
        HubApi().repo_info(rid)
    http.stats.reset()
    assert hub_download(rid, "config.json", local_dir=tmp_path / "ld") == local
    assert http.stats.count == 1
    http.stats.reset()
    with pytest.raises(errors.LocalEntryNotFoundError, match="could not be reached"):
        hub_download(rid, "weights.bin", local_dir=tmp_path / "ld")
    assert http.stats.count == 2  # nothing to fall back on: the HEAD is retried (MODELHUB_MAX_RETRIES=1)
    assert not (tmp_path / "ld" / "weights.bin").exists()
    assert not list((_cache(rid).folder / "blobs").glob("*.incomplete"))


def test_force_download_and_local_dir(hub, repo, tmp_path):
    rid = repo["id"]
    hub_download(rid, "weights.bin", token=hub.token)
    http.stats.reset()
    hub_download(rid, "weights.bin", token=hub.token, force_download=True)
    assert http.stats.by_method.get("GET") == 1
    out = tmp_path / "out"
    path = Path(hub_download(rid, "sub/deep.txt", local_dir=out, token=hub.token))
    assert path == out / "sub" / "deep.txt" and path.read_bytes() == b"deep" and not path.is_symlink()
    meta = (
        (out / ".cache" / "huggingface" / "download" / "sub" / "deep.txt.metadata").read_text().splitlines()
    )
    assert meta[0] == repo["second"] and len(meta[1]) == 40
    snap = Path(snapshot_download(rid, local_dir=out, token=hub.token, revision="v1"))
    assert snap == out.resolve() and (out / "weights.bin").read_bytes() == BIG
    assert (out / "config.json").read_bytes() == b'{"v": 1}'
    http.stats.reset()
    snapshot_download(rid, local_dir=out, token=hub.token, revision=repo["first"])
    assert http.stats.by_method.get("GET", 0) <= 1  # the tree listing at most; no file is fetched again


def test_corrupted_blob_detected(hub, repo, monkeypatch):
    rid = repo["id"]
    snap = Path(snapshot_download(rid, token=hub.token))
    blob = (snap / "weights.bin").resolve()
    blob.write_bytes(BIG[:1000])  # truncated
    forget_resolved_revisions()
    assert Path(hub_download(rid, "weights.bin", token=hub.token)).read_bytes() == BIG
    # same size, different bytes: found by a verify pass, and by MODELHUB_VERIFY_CACHE on access
    from modelhub.client import verify_cache

    blob.write_bytes(b"\xff" + BIG[1:])
    assert verify_cache() == [blob]
    monkeypatch.setenv("MODELHUB_VERIFY_CACHE", "1")
    assert Path(hub_download(rid, "weights.bin", token=hub.token)).read_bytes() == BIG
    assert verify_cache() == []


@pytest.fixture
def proxy(hub, monkeypatch):
    port = int(hub.url.rsplit(":", 1)[1])
    p = FaultyProxy(port)
    monkeypatch.setenv("HF_ENDPOINT", p.url)
    http.close_clients()
    yield p
    p.close()
    http.close_clients()


@local_storage_only(
    "the proxy between client and hub cannot touch bytes the bucket serves after the redirect"
)
def test_interrupted_download_resumes_within_the_call(hub, repo, proxy):
    proxy.policy.target = "weights.bin"
    proxy.policy.cut_after = 1_000_000
    path = Path(hub_download(repo["id"], "weights.bin", token=hub.token))
    assert path.read_bytes() == BIG
    gets = proxy.stats.gets("weights.bin")
    assert len(gets) == 2 and gets[0][2] is None and gets[1][2] is not None
    resumed_from = int(gets[1][2].split("=")[1].rstrip("-"))
    assert 0 < resumed_from < len(BIG)


@local_storage_only(
    "the proxy between client and hub cannot touch bytes the bucket serves after the redirect"
)
def test_interrupted_download_resumes_in_a_later_run(hub, repo, proxy, monkeypatch):
    monkeypatch.setenv("MODELHUB_MAX_RETRIES", "0")
    proxy.policy.target = "weights.bin"
    proxy.policy.cut_after = 1_500_000
    proxy.policy.refuse_after_cut = True  # the hub then looks down: the call gives up
    with pytest.raises((errors.HubConnectionError, errors.LocalEntryNotFoundError)) as info:
        hub_download(repo["id"], "weights.bin", token=hub.token)
    assert "resume" in str(info.value) or "resume" in str(info.value.__cause__)
    rc = _cache(repo["id"])
    etag = hashlib.sha256(BIG).hexdigest()
    partial = rc.incomplete_path(etag)
    assert partial.is_file() and 0 < partial.stat().st_size < len(BIG)
    assert not rc.blob_path(etag).exists() and not rc.snapshot_path(repo["second"], "weights.bin").exists()
    kept = partial.stat().st_size
    proxy.policy.refuse = False
    forget_resolved_revisions()
    path = Path(hub_download(repo["id"], "weights.bin", token=hub.token))
    assert path.read_bytes() == BIG and not partial.exists()
    assert proxy.stats.gets("weights.bin")[-1][2] == f"bytes={kept}-"


@local_storage_only(
    "the proxy between client and hub cannot touch bytes the bucket serves after the redirect"
)
def test_corruption_in_transit_is_rejected(hub, repo, proxy):
    proxy.policy.target = "weights.bin"
    proxy.policy.corrupt_at = 200_000
    with pytest.raises(errors.CorruptedFileError, match="does not match its hash"):
        hub_download(repo["id"], "weights.bin", token=hub.token)
    rc = _cache(repo["id"])
    assert not list((rc.folder / "blobs").glob("*"))
    assert not rc.snapshot_path(repo["second"], "weights.bin").exists()


def test_two_processes_download_once(hub, api, proxy, tmp_path):
    rid = hub.new_repo_id("race")
    api.create_repo(rid)
    content = os.urandom(12 * 1024 * 1024)
    api.upload_file(path_or_fileobj=content, path_in_repo="big.bin", repo_id=rid)
    proxy.policy.target = "big.bin"
    proxy.policy.throttle_bytes_per_s = 8 * 1024 * 1024  # ~1.5 s per copy: the two runs overlap
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        while not Path({str(go)!r}).exists():
            time.sleep(0.01)
        from modelhub import hf_hub_download
        p = hf_hub_download({rid!r}, "big.bin", token={hub.token!r})
        print(p)
    """)
    env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1 and Path(paths.pop()).read_bytes() == content
    assert len(proxy.stats.gets("big.bin")) == 1, proxy.stats.requests
    assert proxy.stats.bytes_to_client < 1.5 * len(content)


def test_disk_full_leaves_no_partial_file(hub, repo, tmp_path):
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
        from modelhub import hf_hub_download, errors
        try:
            hf_hub_download({repo["id"]!r}, "weights.bin", token={hub.token!r})
        except errors.DiskSpaceError as exc:
            print("DiskSpaceError:", exc)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "DiskSpaceError: Disk full while downloading weights.bin" in out.stdout, out.stderr
    blobs = _cache(repo["id"]).folder / "blobs"
    assert not [p for p in blobs.glob("*") if p.name.startswith(hashlib.sha256(BIG).hexdigest())]


def test_proxies_argument_routes_requests(hub, repo):
    port = int(hub.url.rsplit(":", 1)[1])
    forward = FaultyProxy(port)  # forwards raw bytes: the hub answers the proxy-style absolute-form requests
    try:
        path = hub_download(repo["id"], "config.json", token=hub.token, proxies={"http": forward.url})
        assert Path(path).read_bytes() == b'{"v": 2}'
        assert any(
            path_.startswith(hub.url) and "config.json" in path_ for _, path_, _ in forward.stats.requests
        )
        # a HubApi's proxies apply to its downloads too
        HubApi(token=hub.token, proxies={"http": forward.url}).hf_hub_download(repo["id"], "sub/deep.txt")
        assert any("sub/deep.txt" in path_ for _, path_, _ in forward.stats.requests)
    finally:
        forward.close()
        http.close_clients()


def test_progress_bars_follow_the_environment(monkeypatch):
    from modelhub.client._progress import progress_bar

    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with progress_bar(10, "x") as bar:
        assert bar.disable
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS")
    with progress_bar(10, "x") as bar:
        assert not bar.disable


def test_revision_scope_and_ttl(hub, api, repo, monkeypatch):
    from modelhub.client import revision_scope

    rid = repo["id"]
    hub_download(rid, "config.json", token=hub.token)
    hub_download(rid, "weights.bin", token=hub.token)
    monkeypatch.setenv(
        "MODELHUB_REVISION_CACHE_TTL", "0"
    )  # no time-based memory: only the scope groups calls
    forget_resolved_revisions()
    http.stats.reset()
    hub_download(rid, "config.json", token=hub.token)
    hub_download(rid, "weights.bin", token=hub.token)
    assert http.stats.count == 2
    http.stats.reset()
    with revision_scope():
        first = hub_download(rid, "config.json", token=hub.token)
        # another client moves main meanwhile: inside the scope every file still comes from the first commit
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from modelhub import HubApi; HubApi(token={hub.token!r}).upload_file("
                f"path_or_fileobj=b'new', path_in_repo='config.json', repo_id={rid!r})",
            ],
            check=True,
            env=os.environ.copy(),
        )
        with revision_scope():  # nested: same scope
            weights = hub_download(rid, "weights.bin", token=hub.token)
        assert repo["second"] in first and repo["second"] in weights
    assert http.stats.count == 1
    # outside the scope, with no TTL, the new commit is seen at once
    assert Path(hub_download(rid, "config.json", token=hub.token)).read_bytes() == b"new"


def test_revision_scope_reads_files_not_yet_cached_at_the_scope_commit(hub, api, repo):
    """Cold cache: a file first fetched after the branch moved still comes from the commit the scope resolved."""
    from modelhub.client import revision_scope

    rid = repo["id"]
    with revision_scope():
        config = hub_download(rid, "config.json", token=hub.token)
        # another client moves main (our own writes would end the scope's memory of the repo on purpose)
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from modelhub import HubApi; HubApi(token={hub.token!r}).upload_file("
                f"path_or_fileobj=b'moved', path_in_repo='sub/deep.txt', repo_id={rid!r})",
            ],
            check=True,
            env=os.environ.copy(),
        )
        deep = hub_download(rid, "sub/deep.txt", token=hub.token)
    assert repo["second"] in config and repo["second"] in deep
    assert Path(deep).read_bytes() == b"deep"
    assert Path(hub_download(rid, "sub/deep.txt", token=hub.token)).read_bytes() == b"moved"


def test_bad_partial_file_from_an_earlier_run_is_replaced(hub, repo):
    """A kept .incomplete whose bytes are wrong fails the hash after the resume: the file is fetched again whole."""
    rc = _cache(repo["id"])
    etag = hashlib.sha256(BIG).hexdigest()
    partial = rc.incomplete_path(etag)
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"\xff" * 1_000_000)  # not the first MB of BIG
    http.stats.reset()
    path = Path(hub_download(repo["id"], "weights.bin", token=hub.token))
    assert path.read_bytes() == BIG and not partial.exists()
    assert http.stats.by_method["GET"] == 2  # the resumed range, then the whole file
