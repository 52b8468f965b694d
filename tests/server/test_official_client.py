"""The official huggingface_hub client (2.4.0, the test oracle) against our server, through the ``hub`` fixture."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete, HfApi  # noqa: E402
from huggingface_hub import errors as hf_errors  # noqa: E402

pytestmark = pytest.mark.interop


def _api(hub, token: str | None = None, **kw) -> HfApi:
    return HfApi(endpoint=hub.url, token=token if token is not None else hub.token, **kw)


def _lfs_api(hub, monkeypatch) -> HfApi:
    """The LFS path: hf_xet disabled and the user-agent opting into LFS uploads (see docs/server.md)."""
    monkeypatch.setattr(hf.constants, "HF_HUB_DISABLE_XET", True)
    return _api(hub, user_agent={"upload": "lfs"})


def test_whoami_and_create_repo(hub) -> None:
    api = _api(hub)
    me = api.whoami()
    assert me["name"] == "alice"
    assert me["auth"]["accessToken"]["role"] == "write"
    repo_id = hub.new_repo_id()
    url = api.create_repo(repo_id)
    assert url == f"{hub.url}/{repo_id}"
    assert url.repo_id == repo_id
    # exist_ok relies on the 409 body carrying the url
    assert api.create_repo(repo_id, exist_ok=True) == url
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        api.create_repo(repo_id)
    assert exc.value.response.status_code == 409
    info = api.model_info(repo_id)
    assert info.id == repo_id and len(info.sha) == 40 and info.private is False
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]


def test_upload_download_roundtrip_default_install(hub, tmp_path: Path) -> None:
    """Default install (hf_xet present): the large file goes through Xet (tests/server/test_xet.py has the
    details), small ones inline; the repo looks like any other afterwards."""
    api = _api(hub)
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "README.md").write_text("---\nlicense: mit\nlibrary_name: modelhub\ntags: [demo]\n---\n# hi\n")
    (folder / "config.json").write_text('{"a": 1}')
    big = os.urandom(11 * 1024 * 1024)
    (folder / "sub" / "weights.bin").write_bytes(big)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="first")
    assert len(info.oid) == 40
    files = set(api.list_repo_files(repo_id))
    assert files == {".gitattributes", "README.md", "config.json", "sub/weights.bin"}
    minfo = api.model_info(repo_id, files_metadata=True)
    assert minfo.card_data["license"] == "mit"
    assert minfo.library_name == "modelhub"
    assert "demo" in minfo.tags and "license:mit" in minfo.tags
    sib = {s.rfilename: s for s in minfo.siblings}
    assert sib["sub/weights.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert sib["sub/weights.bin"].size == len(big)
    path = hf.hf_hub_download(repo_id, "sub/weights.bin", token=hub.token)
    assert Path(path).read_bytes() == big
    assert hf.hf_hub_download(repo_id, "config.json", token=hub.token, revision=info.oid)
    # re-pushing the same folder changes nothing: no new commit
    again = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="again")
    assert again.oid == info.oid
    # nothing went through LFS: the large file went through Xet
    log = hub.log()
    assert f"/{repo_id}.git/info/lfs/objects/batch" not in log
    assert f"PUT /lfs-upload/{hashlib.sha256(big).hexdigest()}" not in log
    assert log.count(f"POST /api/models/{repo_id}/commit/main") == 1  # the re-push made no commit


def test_lfs_path_upload_and_dedup(hub, tmp_path: Path, monkeypatch) -> None:
    api = _lfs_api(hub, monkeypatch)
    repo_id = hub.new_repo_id("lfs")
    api.create_repo(repo_id)
    data = os.urandom(12 * 1024 * 1024)
    f = tmp_path / "model.safetensors"
    f.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    before = hub.log().count(f"PUT /lfs-upload/{sha}")
    api.upload_file(path_or_fileobj=f, path_in_repo="model.safetensors", repo_id=repo_id)
    assert hub.log().count(f"PUT /lfs-upload/{sha}") == before + 1
    entries = list(api.list_repo_tree(repo_id, recursive=True))
    entry = next(e for e in entries if e.path == "model.safetensors")
    assert entry.lfs.sha256 == sha and entry.size == len(data)
    # the same object in another repo: already stored, so nothing is uploaded again
    other = hub.new_repo_id("lfs")
    api.create_repo(other)
    api.upload_file(path_or_fileobj=f, path_in_repo="copy.safetensors", repo_id=other)
    assert hub.log().count(f"PUT /lfs-upload/{sha}") == before + 1
    out = hf.hf_hub_download(other, "copy.safetensors", token=hub.token, cache_dir=tmp_path / "c")
    assert hashlib.sha256(Path(out).read_bytes()).hexdigest() == sha


def _seed(api: HfApi, hub, files: dict[str, bytes], prefix: str = "m") -> tuple[str, str]:
    repo_id = hub.new_repo_id(prefix)
    api.create_repo(repo_id)
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=d) for p, d in files.items()]
    info = api.create_commit(repo_id, ops, commit_message="seed")
    return repo_id, info.oid


def test_create_commit_with_deletes_and_copies(hub) -> None:
    api = _api(hub)
    big = os.urandom(300_000)
    repo_id, first = _seed(api, hub, {"a.txt": b"A", "dir/b.txt": b"B", "dir/c.txt": b"C", "w.bin": big})
    ops = [
        CommitOperationCopy(src_path_in_repo="a.txt", path_in_repo="copies/a.txt"),
        CommitOperationCopy(src_path_in_repo="w.bin", path_in_repo="copies/w.bin"),
        CommitOperationDelete(path_in_repo="dir/"),
        CommitOperationDelete(path_in_repo="a.txt"),
    ]
    info = api.create_commit(repo_id, ops, commit_message="copy and delete", parent_commit=first)
    assert set(api.list_repo_files(repo_id)) == {".gitattributes", "w.bin", "copies/a.txt", "copies/w.bin"}
    p = hf.hf_hub_download(repo_id, "copies/w.bin", token=hub.token)
    assert Path(p).read_bytes() == big
    # the old commit still has the old tree
    assert "dir/b.txt" in api.list_repo_files(repo_id, revision=first)
    commits = api.list_repo_commits(repo_id)
    assert [c.commit_id for c in commits[:2]] == [info.oid, first]
    assert commits[0].title == "copy and delete" and commits[0].authors == ["alice"]
    assert commits[-1].title == "initial commit"


def test_stale_parent_commit_is_refused(hub) -> None:
    api = _api(hub)
    repo_id, first = _seed(api, hub, {"a.txt": b"1"})
    api.upload_file(path_or_fileobj=b"2", path_in_repo="a.txt", repo_id=repo_id)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        api.create_commit(
            repo_id, [CommitOperationAdd("b.txt", b"x")], commit_message="late", parent_commit=first
        )
    assert exc.value.response.status_code == 412
    assert "b.txt" not in api.list_repo_files(repo_id)


def test_branches_tags_and_downloads_by_every_kind_of_revision(hub, tmp_path: Path) -> None:
    api = _api(hub)
    repo_id, first = _seed(api, hub, {"f.txt": b"v1"})
    api.create_branch(repo_id, branch="dev")
    api.create_branch(repo_id, branch="dev", exist_ok=True)
    with pytest.raises(hf_errors.HfHubHTTPError):
        api.create_branch(repo_id, branch="dev")
    api.create_branch(repo_id, branch="feat/x", revision=first)
    dev = api.upload_file(path_or_fileobj=b"v2-dev", path_in_repo="f.txt", repo_id=repo_id, revision="dev")
    api.create_tag(repo_id, tag="v1", revision=first, tag_message="first")
    pr = api.upload_file(path_or_fileobj=b"v3-pr", path_in_repo="f.txt", repo_id=repo_id, create_pr=True)
    assert pr.pr_num == 1 and pr.pr_revision == "refs/pr/1"
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    assert {b.name for b in refs.branches} == {"main", "dev", "feat/x"}
    assert [t.name for t in refs.tags] == ["v1"] and refs.tags[0].target_commit == first
    assert [p.ref for p in refs.pull_requests] == ["refs/pr/1"]

    def get(rev: str) -> bytes:
        return Path(hf.hf_hub_download(repo_id, "f.txt", revision=rev, token=hub.token)).read_bytes()

    assert get("main") == b"v1"
    assert get("dev") == b"v2-dev"
    assert get("feat/x") == b"v1"
    assert get("v1") == b"v1"
    assert get(dev.oid) == b"v2-dev"
    assert get(dev.oid[:10]) == b"v2-dev"
    assert get("refs/pr/1") == b"v3-pr"
    assert api.model_info(repo_id, revision="refs/pr/1").sha == pr.oid
    # merging the PR fast-forwards main
    api.merge_pull_request(repo_id, 1)
    assert get("main") == b"v3-pr"
    disc = api.get_discussion_details(repo_id, 1)
    assert disc.status == "merged" and disc.is_pull_request
    api.delete_branch(repo_id, branch="feat/x")
    api.delete_tag(repo_id, tag="v1")
    refs = api.list_repo_refs(repo_id)
    assert {b.name for b in refs.branches} == {"main", "dev"} and refs.tags == []


def test_snapshot_download_with_patterns(hub, tmp_path: Path) -> None:
    api = _api(hub)
    repo_id, sha = _seed(api, hub, {"a.json": b"{}", "b.txt": b"b", "sub/c.json": b"[]", "README.md": b"# r"})
    path = hf.snapshot_download(repo_id, allow_patterns=["*.json"], token=hub.token)
    got = sorted(str(p.relative_to(path)) for p in Path(path).rglob("*") if p.is_file())
    assert got == ["a.json", "sub/c.json"]
    assert Path(path).name == sha
    path2 = hf.snapshot_download(
        repo_id, ignore_patterns=["*.md", "sub/"], token=hub.token, cache_dir=tmp_path / "x"
    )
    got2 = sorted(str(p.relative_to(path2)) for p in Path(path2).rglob("*") if p.is_file())
    assert got2 == [".gitattributes", "a.json", "b.txt"]


def test_missing_things_raise_the_official_exception_types(hub) -> None:
    api = _api(hub)
    repo_id, _ = _seed(api, hub, {"a.txt": b"a"})
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        hf.hf_hub_download("alice/does-not-exist", "a.txt", token=hub.token)
    with pytest.raises(hf_errors.RevisionNotFoundError):
        hf.hf_hub_download(repo_id, "a.txt", revision="nope", token=hub.token)
    with pytest.raises(hf_errors.RemoteEntryNotFoundError):
        hf.hf_hub_download(repo_id, "nope.txt", token=hub.token)
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        api.model_info("alice/does-not-exist")
    with pytest.raises(hf_errors.RevisionNotFoundError):
        api.model_info(repo_id, revision="nope")
    assert api.file_exists(repo_id, "a.txt") and not api.file_exists(repo_id, "b.txt")
    assert api.repo_exists(repo_id) and not api.repo_exists("alice/does-not-exist")
    assert api.revision_exists(repo_id, "main") and not api.revision_exists(repo_id, "nope")


def test_private_repo_access_rules(hub) -> None:
    owner = _api(hub)
    repo_id = hub.new_repo_id("priv")
    owner.create_repo(repo_id, private=True)
    owner.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo_id)
    assert owner.model_info(repo_id).private is True
    # read token of the owner: may read, may not write
    reader = _api(hub, hub.read_token)
    assert reader.model_info(repo_id).id == repo_id
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        reader.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert exc.value.response.status_code == 403
    # another user: the repo does not exist for them; anonymous: 401 RepoNotFound
    bob = hub.create_user(hub.unique_name("bob"))
    bob_api = _api(hub, hub.create_token(bob, "write"))
    with pytest.raises(hf_errors.RepositoryNotFoundError) as exc:
        bob_api.model_info(repo_id)
    assert exc.value.response.status_code == 404
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        hf.hf_hub_download(repo_id, "s.txt", token=bob_api.token)
    anon = HfApi(endpoint=hub.url, token=False)
    with pytest.raises(hf_errors.RepositoryNotFoundError) as exc:
        anon.model_info(repo_id)
    assert exc.value.response.status_code == 401
    assert repo_id not in [m.id for m in anon.list_models(author="alice")]
    assert repo_id in [m.id for m in owner.list_models(author="alice")]
    # bob cannot write to alice's public repos either
    public_id, _ = _seed(owner, hub, {"p.txt": b"p"})
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public_id)
    assert exc.value.response.status_code == 403
    # making it public opens it to everyone for reading
    owner.update_repo_settings(repo_id, private=False)
    assert anon.model_info(repo_id).private is False


def test_org_members_can_write(hub) -> None:
    carol = hub.create_user(hub.unique_name("carol"))
    org = hub.create_org(hub.unique_name("org"), ["alice", carol])
    dave = hub.create_user(hub.unique_name("dave"))
    carol_api = _api(hub, hub.create_token(carol))
    repo_id = f"{org}/shared"
    _api(hub).create_repo(repo_id, private=True)
    carol_api.upload_file(path_or_fileobj=b"hello", path_in_repo="h.txt", repo_id=repo_id)
    assert "h.txt" in _api(hub).list_repo_files(repo_id)
    assert org in [o["name"] for o in carol_api.whoami()["orgs"]]
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        _api(hub, hub.create_token(dave)).list_repo_files(repo_id)


def test_bad_token_is_rejected(hub) -> None:
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        HfApi(endpoint=hub.url, token="hf_not_a_real_token").whoami()
    assert exc.value.response.status_code == 401
    assert exc.value.response.headers["X-Error-Message"] == "Invalid credentials in Authorization header"


def test_delete_move_and_list_repos(hub) -> None:
    api = _api(hub)
    repo_id, _ = _seed(
        api, hub, {"README.md": b"---\ntags: [findme]\nlibrary_name: torch\n---\n"}, prefix="srch"
    )
    found = list(api.list_models(author="alice", search=repo_id.split("/")[1]))
    assert [m.id for m in found] == [repo_id]
    assert repo_id in [m.id for m in api.list_models(filter="findme", author="alice")]
    new_id = hub.new_repo_id("moved")
    api.move_repo(repo_id, new_id)
    assert api.repo_exists(new_id) and not api.repo_exists(repo_id)
    api.delete_repo(new_id)
    assert not api.repo_exists(new_id)
    api.delete_repo(new_id, missing_ok=True)
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        api.delete_repo(new_id)


def test_datasets(hub, tmp_path: Path) -> None:
    api = _api(hub)
    repo_id = hub.new_repo_id("ds")
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=repo_id, repo_type="dataset"
    )
    p = hf.hf_hub_download(repo_id, "data.csv", repo_type="dataset", token=hub.token)
    assert Path(p).read_bytes() == b"a,b\n1,2\n"
    assert api.dataset_info(repo_id).id == repo_id
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        api.model_info(repo_id)


def test_paths_info_and_discussions(hub) -> None:
    api = _api(hub)
    repo_id, _ = _seed(api, hub, {"a/1.txt": b"1", "a/2.txt": b"2", "big.bin": b"\0" * 100})
    infos = api.get_paths_info(repo_id, ["a/1.txt", "a", "missing"])
    kinds = {i.path: type(i).__name__ for i in infos}
    assert kinds == {"a/1.txt": "RepoFile", "a": "RepoFolder"}
    d = api.create_discussion(repo_id, title="Question", description="Why?")
    api.comment_discussion(repo_id, d.num, "Because.")
    api.change_discussion_status(repo_id, d.num, "closed")
    details = api.get_discussion_details(repo_id, d.num)
    assert details.status == "closed" and not details.is_pull_request
    assert [e.type for e in details.events] == ["comment", "comment", "status-change"]
    pr = api.create_pull_request(repo_id, title="Empty PR")
    assert pr.status == "draft"
    all_d = list(api.get_repo_discussions(repo_id))
    assert {x.num for x in all_d} == {d.num, pr.num}


def _folder(tmp_path: Path) -> tuple[Path, bytes]:
    folder = tmp_path / "up"
    (folder / "nested").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden": 4}')
    (folder / "nested" / "notes.txt").write_text("notes")
    big = os.urandom(10 * 1024 * 1024 + 123)
    (folder / "nested" / "big.dat").write_bytes(big)
    return folder, big


def test_upload_folder_lfs_path_and_create_pr(hub, tmp_path: Path, monkeypatch) -> None:
    api = _lfs_api(hub, monkeypatch)
    repo_id = hub.new_repo_id("fold")
    api.create_repo(repo_id)
    folder, big = _folder(tmp_path)
    info = api.upload_folder(repo_id=repo_id, folder_path=folder)
    sha = hashlib.sha256(big).hexdigest()
    assert f"PUT /lfs-upload/{sha}" in hub.log()
    assert set(api.list_repo_files(repo_id)) == {
        ".gitattributes",
        "config.json",
        "nested/notes.txt",
        "nested/big.dat",
    }
    (folder / "config.json").write_text('{"hidden": 8}')
    pr = api.upload_folder(repo_id=repo_id, folder_path=folder, create_pr=True, commit_message="bigger")
    assert pr.pr_num is not None
    cfg = hf.hf_hub_download(repo_id, "config.json", revision=pr.pr_revision, token=hub.token)
    assert Path(cfg).read_text() == '{"hidden": 8}'
    main_cfg = hf.hf_hub_download(repo_id, "config.json", revision=info.oid, token=hub.token)
    assert Path(main_cfg).read_text() == '{"hidden": 4}'


def test_upload_folder_default_install_with_create_pr(hub, tmp_path: Path) -> None:
    """hf_xet installed (the default): PR created first, then committed to refs/pr/N (large files via Xet)."""
    api = _api(hub)
    repo_id = hub.new_repo_id("foldx")
    api.create_repo(repo_id)
    folder, big = _folder(tmp_path)
    pr = api.upload_folder(repo_id=repo_id, folder_path=folder, create_pr=True)
    assert pr.pr_revision == "refs/pr/1"
    out = hf.hf_hub_download(repo_id, "nested/big.dat", revision="refs/pr/1", token=hub.token)
    assert Path(out).read_bytes() == big
    details = api.get_discussion_details(repo_id, 1)
    assert details.is_pull_request and details.status == "open"
    assert "nested/big.dat" not in api.list_repo_files(repo_id)
    api.merge_pull_request(repo_id, 1)
    assert "nested/big.dat" in api.list_repo_files(repo_id)
    [entry] = api.get_paths_info(repo_id, ["nested/big.dat"])
    assert entry.lfs is not None and entry.lfs.sha256 == hashlib.sha256(big).hexdigest()


def test_tree_expand_reports_the_commit_that_last_changed_each_entry(hub) -> None:
    api = _api(hub)
    repo_id, first = _seed(api, hub, {"keep.txt": b"k", "d/x.txt": b"1"})
    second = api.upload_file(
        path_or_fileobj=b"2", path_in_repo="d/x.txt", repo_id=repo_id, commit_message="bump"
    )
    entries = {e.path: e for e in api.list_repo_tree(repo_id, expand=True)}
    assert entries["keep.txt"].last_commit.oid == first
    assert entries["d"].last_commit.oid == second.oid
    assert entries["d"].last_commit.title == "bump"
    [info] = api.get_paths_info(repo_id, ["keep.txt"], expand=True)
    assert info.last_commit.oid == first


def test_merge_makes_a_merge_commit_or_reports_conflicts(hub) -> None:
    api = _api(hub)
    repo_id, _ = _seed(api, hub, {"shared.txt": b"base", "c.txt": b"base"})
    pr = api.upload_file(path_or_fileobj=b"from-pr", path_in_repo="pr.txt", repo_id=repo_id, create_pr=True)
    api.upload_file(path_or_fileobj=b"from-main", path_in_repo="main.txt", repo_id=repo_id)
    api.merge_pull_request(repo_id, pr.pr_num)
    files = set(api.list_repo_files(repo_id))
    assert {"pr.txt", "main.txt", "shared.txt"} <= files
    assert api.list_repo_commits(repo_id)[0].title == f"Merge pull request #{pr.pr_num}"
    with pytest.raises(hf_errors.HfHubHTTPError):
        api.merge_pull_request(repo_id, pr.pr_num)  # already merged
    # both sides change c.txt differently: conflict, nothing moves
    pr2 = api.upload_file(
        path_or_fileobj=b"pr-version", path_in_repo="c.txt", repo_id=repo_id, create_pr=True
    )
    head = api.upload_file(path_or_fileobj=b"main-version", path_in_repo="c.txt", repo_id=repo_id).oid
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        api.merge_pull_request(repo_id, pr2.pr_num)
    assert exc.value.response.status_code == 409 and "c.txt" in str(exc.value)
    assert api.model_info(repo_id).sha == head
    assert api.get_discussion_details(repo_id, pr2.pr_num).status == "open"


def test_gitignore_files_are_left_out(hub, tmp_path: Path) -> None:
    api = _api(hub)
    repo_id = hub.new_repo_id("gi")
    api.create_repo(repo_id)
    folder = tmp_path / "gi"
    (folder / "logs").mkdir(parents=True)
    (folder / ".gitignore").write_text("*.log\nlogs/\n")
    (folder / "model.txt").write_text("m")
    (folder / "train.log").write_text("noise")
    (folder / "logs" / "x.txt").write_text("noise")
    api.upload_folder(repo_id=repo_id, folder_path=folder)
    assert set(api.list_repo_files(repo_id)) == {".gitattributes", ".gitignore", "model.txt"}
    # the repo's .gitignore keeps applying to later uploads
    api.upload_file(path_or_fileobj=b"more noise", path_in_repo="later.log", repo_id=repo_id)
    assert "later.log" not in api.list_repo_files(repo_id)
