"""Uploads against the real server: create_commit operations, upload_file, upload_folder parameters, LFS."""

import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest

from modelhub import errors
from modelhub.client import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete, HubApi, http


@pytest.fixture
def api(hub):
    return HubApi(token=hub.token)


@pytest.fixture
def repo(hub, api):
    repo_id = hub.new_repo_id("up")
    api.create_repo(repo_id)
    return repo_id


def _read(api, repo_id, path, revision=None):
    from modelhub.client import hub_download

    return Path(hub_download(repo_id, path, revision=revision, token=api.token)).read_bytes()


def _files(api, repo_id, revision=None):
    return set(api.list_repo_files(repo_id, revision=revision)) - {".gitattributes"}


def _folder(root: Path) -> Path:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "config.json").write_text('{"a": 1}')
    (root / "README.md").write_text("---\nlicense: mit\n---\n# hi\n")
    (root / "notes.txt").write_text("notes")
    (root / "sub" / "w.bin").write_bytes(b"\x00\x01" * 40000)
    (root / "sub" / "deep" / "x.bin").write_bytes(b"\x02" * 1000)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (root / ".cache" / "huggingface").mkdir(parents=True)
    (root / ".cache" / "huggingface" / "junk").write_text("x")
    return root


def test_upload_file_sources_and_messages(api, repo, tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("from path")
    info = api.upload_file(
        path_or_fileobj=src,
        path_in_repo="a.txt",
        repo_id=repo,
        commit_message="add a",
        commit_description="the description",
    )
    assert len(info.oid) == 40 and info.commit_url == f"{api.endpoint_url()}/{repo}/commit/{info.oid}"
    assert info.commit_message == "add a" and info.commit_description == "the description"
    assert info.repo_url.repo_id == repo and info.pr_url is None and str(info) == info.commit_url
    api.upload_file(path_or_fileobj=b"from bytes", path_in_repo="dir/b.txt", repo_id=repo)
    api.upload_file(path_or_fileobj=io.BytesIO(b"from fileobj"), path_in_repo="c.txt", repo_id=repo)
    assert _read(api, repo, "a.txt") == b"from path"
    assert _read(api, repo, "dir/b.txt") == b"from bytes"
    assert _read(api, repo, "c.txt") == b"from fileobj"
    [commit] = [c for c in api.list_repo_commits(repo) if c.commit_id == info.oid]
    assert commit.title == "add a" and commit.message == "the description"


def test_upload_input_errors(api, repo, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        api.upload_file(path_or_fileobj=tmp_path / "missing.bin", path_in_repo="x", repo_id=repo)
    with pytest.raises(FileNotFoundError, match="use upload_folder"):
        api.upload_file(path_or_fileobj=tmp_path, path_in_repo="x", repo_id=repo)
    with pytest.raises(errors.HFValidationError, match=r"\.\."):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="../escape.txt", repo_id=repo)
    with pytest.raises(errors.HFValidationError, match="commit_message"):
        api.create_commit(repo, [CommitOperationAdd("a", b"x")], commit_message="")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        api.upload_folder(repo_id=repo, folder_path=tmp_path / "nope")


def test_upload_folder_patterns_prefix_and_ignored_dirs(api, repo, tmp_path):
    folder = _folder(tmp_path / "f")
    api.upload_folder(repo_id=repo, folder_path=folder)
    assert _files(api, repo) == {"config.json", "README.md", "notes.txt", "sub/w.bin", "sub/deep/x.bin"}
    repo2 = repo + "-b"
    api.create_repo(repo2)
    api.upload_folder(
        repo_id=repo2,
        folder_path=folder,
        path_in_repo="models/v1",
        allow_patterns=["*.json", "sub/"],
        ignore_patterns="*/deep/*",
    )
    assert _files(api, repo2) == {"models/v1/config.json", "models/v1/sub/w.bin"}
    with pytest.raises(errors.HubError, match="Nothing to upload"):
        api.upload_folder(repo_id=repo2, folder_path=folder, allow_patterns="*.nothing")


def test_upload_folder_delete_patterns(api, repo, tmp_path):
    folder = _folder(tmp_path / "f")
    api.upload_folder(repo_id=repo, folder_path=folder)
    api.upload_file(path_or_fileobj=b"old", path_in_repo="logs/old.txt", repo_id=repo)
    new = tmp_path / "new"
    new.mkdir()
    (new / "notes.txt").write_text("notes v2")
    (new / "extra.txt").write_text("extra")
    info = api.upload_folder(repo_id=repo, folder_path=new, delete_patterns=["*.txt", "sub/deep/*"])
    # *.txt files not in the new folder are deleted, uploaded ones kept; .bin outside sub/deep stays
    assert _files(api, repo) == {"config.json", "README.md", "notes.txt", "extra.txt", "sub/w.bin"}
    assert _read(api, repo, "notes.txt") == b"notes v2"
    # delete_patterns are relative to path_in_repo and never touch files outside it
    api.upload_folder(repo_id=repo, folder_path=new, path_in_repo="sub", delete_patterns="*")
    assert _files(api, repo) == {
        "config.json",
        "README.md",
        "notes.txt",
        "extra.txt",
        "sub/notes.txt",
        "sub/extra.txt",
    }
    assert info.oid != api.repo_info(repo).sha


def test_push_to_branch_and_parent_commit(api, repo, tmp_path):
    base = api.upload_file(path_or_fileobj=b"main", path_in_repo="f.txt", repo_id=repo)
    api.create_branch(repo, branch="dev")
    folder = _folder(tmp_path / "f")
    on_dev = api.upload_folder(repo_id=repo, folder_path=folder, revision="dev", commit_message="on dev")
    assert api.repo_info(repo).sha == base.oid  # main untouched
    assert api.repo_info(repo, revision="dev").sha == on_dev.oid
    assert "sub/w.bin" in _files(api, repo, revision="dev") and "sub/w.bin" not in _files(api, repo)
    ok = api.upload_file(path_or_fileobj=b"v2", path_in_repo="f.txt", repo_id=repo, parent_commit=base.oid)
    with pytest.raises(errors.HfHubHTTPError) as info:
        api.upload_file(path_or_fileobj=b"v3", path_in_repo="f.txt", repo_id=repo, parent_commit=base.oid)
    assert info.value.status_code in (409, 412)
    assert api.repo_info(repo).sha == ok.oid and _read(api, repo, "f.txt") == b"v2"
    with pytest.raises(errors.RevisionNotFoundError, match="'no-such-branch'"):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="f.txt", repo_id=repo, revision="no-such-branch")
    with pytest.raises(errors.HFValidationError, match="parent_commit"):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="f.txt", repo_id=repo, parent_commit="abc")


def test_upload_folder_as_pull_request(api, repo, tmp_path):
    api.upload_file(path_or_fileobj=b"main", path_in_repo="f.txt", repo_id=repo)
    head = api.repo_info(repo).sha
    info = api.upload_folder(
        repo_id=repo,
        folder_path=_folder(tmp_path / "f"),
        create_pr=True,
        commit_message="PR upload",
        commit_description="please review",
    )
    assert info.pr_num >= 1 and info.pr_revision == f"refs/pr/{info.pr_num}"
    assert api.repo_info(repo).sha == head
    assert "sub/w.bin" in _files(api, repo, revision=info.pr_revision)
    assert _read(api, repo, "sub/w.bin", revision=info.pr_revision) == b"\x00\x01" * 40000


def test_commit_operations_add_delete_copy(api, repo):
    big = bytes(range(256)) * 4096  # 1 MiB of binary: goes by LFS
    api.create_commit(
        repo,
        [
            CommitOperationAdd("big.bin", big),
            CommitOperationAdd("small.txt", b"small"),
            CommitOperationAdd("dir/a.txt", b"a"),
            CommitOperationAdd("dir/b.txt", b"b"),
        ],
        commit_message="seed",
    )
    tree = {e.path: e for e in api.list_repo_tree(repo, recursive=True)}
    assert tree["big.bin"].lfs is not None and tree["big.bin"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert tree["small.txt"].lfs is None
    info = api.create_commit(
        repo,
        [
            CommitOperationCopy("big.bin", "copy/big.bin"),
            CommitOperationCopy("small.txt", "copy/small.txt"),
            CommitOperationDelete("dir/"),
            CommitOperationDelete("small.txt"),
        ],
        commit_message="reorganise",
    )
    assert _files(api, repo) == {"big.bin", "copy/big.bin", "copy/small.txt"}
    assert _read(api, repo, "copy/big.bin") == big and _read(api, repo, "copy/small.txt") == b"small"
    # copy from an older revision
    first = api.list_repo_commits(repo)[1].commit_id
    api.create_commit(
        repo, [CommitOperationCopy("dir/a.txt", "restored.txt", src_revision=first)], commit_message="restore"
    )
    assert _read(api, repo, "restored.txt") == b"a"
    with pytest.raises(errors.EntryNotFoundError, match="nope.txt"):
        api.create_commit(repo, [CommitOperationCopy("nope.txt", "x.txt")], commit_message="bad copy")
    with pytest.raises(errors.EntryNotFoundError):
        api.create_commit(repo, [CommitOperationDelete("nope.txt")], commit_message="bad delete")
    assert info.oid in [c.commit_id for c in api.list_repo_commits(repo)]


def test_lfs_objects_skipped_when_hub_has_them_and_unchanged_repush(api, repo, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"\x07" * 3_000_000)
    (folder / "c.json").write_text("{}")
    first = api.upload_folder(repo_id=repo, folder_path=folder)
    http.stats.reset()
    again = api.upload_folder(repo_id=repo, folder_path=folder)
    assert again.oid == first.oid  # nothing changed: no new commit
    assert http.stats.by_method.get("PUT", 0) == 0
    assert len(api.list_repo_commits(repo)) == 2
    # same content at a new path: the LFS object is already on the hub, no bytes are sent again
    http.stats.reset()
    api.upload_file(path_or_fileobj=folder / "w.bin", path_in_repo="copy.bin", repo_id=repo)
    assert http.stats.by_method.get("PUT", 0) == 0
    assert _read(api, repo, "copy.bin") == b"\x07" * 3_000_000


def test_large_upload_streams_without_holding_the_file(api, repo, tmp_path):
    path = tmp_path / "large.bin"
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
    with open(path, "wb") as fh:
        for i in range(48):
            fh.write(bytes([i]) + block[1:])
    tracemalloc.start()
    try:
        api.upload_file(path_or_fileobj=path, path_in_repo="large.bin", repo_id=repo)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak Python memory {peak} for a 48 MiB upload"
    [entry] = [e for e in api.list_repo_tree(repo) if e.path == "large.bin"]
    assert entry.lfs.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_only_and_missing_token_cannot_push(hub, repo):
    with pytest.raises(errors.ForbiddenError, match="write access"):
        HubApi(token=hub.read_token).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
    with pytest.raises((errors.UnauthorizedError, errors.RepositoryNotFoundError)):
        HubApi(token=False).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
    with pytest.raises(errors.UnauthorizedError, match="invalid or expired"):
        HubApi(token="hf_expired_or_revoked").upload_file(
            path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo
        )
    with pytest.raises(errors.ForbiddenError):
        HubApi(token=hub.read_token).create_repo(hub.new_repo_id())
    assert set(HubApi(token=hub.token).list_repo_files(repo)) <= {".gitattributes"}
