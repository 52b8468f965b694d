"""Repo API against the real modelhub server: repos, refs, commits, branches, tags, discussions."""

from pathlib import Path

import pytest

from modelhub import errors
from modelhub.client import HubApi, RepoUrl


@pytest.fixture
def api(hub):
    return HubApi(token=hub.token)


def test_whoami(hub, api):
    me = api.whoami()
    assert me["name"] == "alice"
    assert me["auth"]["accessToken"]["role"] == "write"
    assert HubApi(token=hub.read_token).whoami()["auth"]["accessToken"]["role"] == "read"
    with pytest.raises(errors.UnauthorizedError, match="modelhub login"):
        HubApi(token=False).whoami()
    with pytest.raises(errors.UnauthorizedError, match="invalid or expired"):
        HubApi(token="hf_not_a_real_token").whoami()


def test_create_info_delete(hub, api):
    repo_id = hub.new_repo_id()
    url = api.create_repo(repo_id)
    assert isinstance(url, RepoUrl) and str(url) == f"{hub.url}/{repo_id}"
    assert (
        url.repo_id == repo_id
        and url.namespace == "alice"
        and url.repo_type == "model"
        and url.endpoint == hub.url
    )
    with pytest.raises(errors.ConflictError, match="exist_ok=True"):
        api.create_repo(repo_id)
    assert api.create_repo(repo_id, exist_ok=True) == url
    info = api.repo_info(repo_id)
    assert info.id == repo_id and len(info.sha) == 40 and info.private is False
    assert api.model_info(repo_id).sha == info.sha
    assert api.repo_exists(repo_id)
    api.delete_repo(repo_id)
    assert not api.repo_exists(repo_id)
    with pytest.raises(errors.RepositoryNotFoundError, match=repo_id):
        api.delete_repo(repo_id)
    api.delete_repo(repo_id, missing_ok=True)


def test_dataset_repo_type(hub, api):
    repo_id = hub.new_repo_id("ds")
    url = api.create_repo(repo_id, repo_type="dataset")
    assert str(url) == f"{hub.url}/datasets/{repo_id}" and url.repo_type == "dataset"
    api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data.csv", repo_id=repo_id, repo_type="dataset"
    )
    assert "data.csv" in api.list_repo_files(repo_id, repo_type="dataset")
    with pytest.raises(errors.RepositoryNotFoundError):
        api.repo_info(repo_id)  # it is not a model


def test_private_repo_visibility(hub, api):
    repo_id = hub.new_repo_id("priv")
    api.create_repo(repo_id, private=True)
    assert api.repo_info(repo_id).private is True
    with pytest.raises(errors.RepositoryNotFoundError, match="pass a token"):
        HubApi(token=False).repo_info(repo_id)
    bob_name = hub.unique_name("bob")
    hub.create_user(bob_name)
    bob = HubApi(token=hub.create_token(bob_name, "write"))
    with pytest.raises(errors.RepositoryNotFoundError, match="your token cannot see it"):
        bob.repo_info(repo_id)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    anonymous = HubApi(token=False)
    # the *_exists helpers answer False for what the caller cannot see, like upstream
    assert not anonymous.repo_exists(repo_id) and not anonymous.file_exists(repo_id, "x.txt")
    assert not anonymous.revision_exists(repo_id, "main") and api.file_exists(repo_id, "x.txt")
    api.update_repo_settings(repo_id, private=False)
    assert HubApi(token=False).repo_info(repo_id).private is False


def test_malformed_repo_ids_fail_before_network(api):
    # (a single segment, `gpt2`, is a valid id: huggingface.co serves such repos; see test_bare_ids.py)
    for bad in ["-bad", "a/b/c", "alice/-bad", "alice/a..b", "alice/x.git", "", "alice/" + "x" * 97]:
        with pytest.raises(errors.HFValidationError, match="Invalid repo id"):
            api.repo_info(bad)
    with pytest.raises(errors.HFValidationError, match="repo type"):
        api.repo_info("alice/x", repo_type="widget")


def test_branches_tags_refs_commits(hub, api):
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    first = api.upload_file(
        path_or_fileobj=b"v1", path_in_repo="f.txt", repo_id=repo_id, commit_message="first"
    )
    api.create_branch(repo_id, branch="dev")
    api.create_branch(repo_id, branch="dev", exist_ok=True)
    reader = HubApi(token=hub.read_token)
    reader.create_branch(repo_id, branch="dev", exist_ok=True)  # there already: a read token is enough
    with pytest.raises(errors.ForbiddenError, match="write access"):
        reader.create_branch(repo_id, branch="feature", exist_ok=True)
    with pytest.raises(errors.ConflictError):
        api.create_branch(repo_id, branch="dev")
    api.create_branch(repo_id, branch="feat/x", revision=first.oid)
    api.create_tag(repo_id, tag="v1", tag_message="release 1")
    api.create_tag(repo_id, tag="v1", exist_ok=True)
    second = api.upload_file(
        path_or_fileobj=b"v2",
        path_in_repo="f.txt",
        repo_id=repo_id,
        commit_message="second",
        commit_description="longer text",
    )
    refs = api.list_repo_refs(repo_id)
    branches = {b.name: b.target_commit for b in refs.branches}
    assert branches["main"] == second.oid and branches["dev"] == first.oid and branches["feat/x"] == first.oid
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": first.oid}
    assert refs.pull_requests is None
    commits = api.list_repo_commits(repo_id)
    assert [c.commit_id for c in commits[:2]] == [second.oid, first.oid]
    assert (
        commits[0].title == "second"
        and commits[0].message == "longer text"
        and commits[0].authors == ["alice"]
    )
    assert [c.commit_id for c in api.list_repo_commits(repo_id, revision="v1")][0] == first.oid
    with pytest.raises(errors.RevisionNotFoundError, match="nope"):
        api.list_repo_commits(repo_id, revision="nope")
    assert api.revision_exists(repo_id, "feat/x") and not api.revision_exists(repo_id, "nope")
    api.delete_tag(repo_id, tag="v1")
    api.delete_branch(repo_id, branch="feat/x")
    refs = api.list_repo_refs(repo_id)
    assert refs.tags == [] and "feat/x" not in {b.name for b in refs.branches}


def test_tree_listing(hub, api, tmp_path):
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "top.txt").write_text("top")
    (tmp_path / "a" / "mid.txt").write_text("mid")
    (tmp_path / "a" / "b" / "big.bin").write_bytes(bytes(range(256)) * 8000)
    api.upload_folder(repo_id=repo_id, folder_path=tmp_path)
    flat = {e.path: e for e in api.list_repo_tree(repo_id)}
    assert {"top.txt", "a"} <= set(flat) and type(flat["a"]).__name__ == "RepoFolder"
    deep = {e.path: e for e in api.list_repo_tree(repo_id, "a", recursive=True)}
    assert {"a/mid.txt", "a/b", "a/b/big.bin"} <= set(deep)
    big = deep["a/b/big.bin"]
    assert big.size == 256 * 8000 and big.lfs is not None and len(big.lfs.sha256) == 64
    assert set(api.list_repo_files(repo_id)) - {".gitattributes"} == {"a/b/big.bin", "a/mid.txt", "top.txt"}
    assert api.file_exists(repo_id, "a/mid.txt") and not api.file_exists(repo_id, "a/none.txt")


def test_pull_request_flow(hub, api):
    repo_id = hub.new_repo_id()
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"base", path_in_repo="f.txt", repo_id=repo_id)
    pr = api.upload_file(
        path_or_fileobj=b"proposed",
        path_in_repo="f.txt",
        repo_id=repo_id,
        create_pr=True,
        commit_message="Propose a change",
    )
    assert pr.pr_num is not None and pr.pr_revision == f"refs/pr/{pr.pr_num}"
    assert pr.pr_url.endswith(f"/{repo_id}/discussions/{pr.pr_num}")
    # main did not move; the PR ref holds the change
    assert api.repo_info(repo_id).sha != pr.oid
    assert api.repo_info(repo_id, revision=pr.pr_revision).sha == pr.oid
    refs = api.list_repo_refs(repo_id, include_pull_requests=True)
    assert {r.ref for r in refs.pull_requests} == {f"refs/pr/{pr.pr_num}"}
    # append a commit to the PR branch
    more = api.upload_file(
        path_or_fileobj=b"extra", path_in_repo="g.txt", repo_id=repo_id, revision=pr.pr_revision
    )
    assert api.repo_info(repo_id, revision=pr.pr_revision).sha == more.oid
    discussions = list(api.get_repo_discussions(repo_id))
    [d] = [d for d in discussions if d.num == pr.pr_num]
    assert (
        d.is_pull_request
        and d.status == "open"
        and d.title == "Propose a change"
        and d.git_reference == pr.pr_revision
    )
    api.merge_pull_request(repo_id, pr.pr_num)
    assert {"f.txt", "g.txt"} <= set(api.list_repo_files(repo_id))
    from modelhub import hf_hub_download

    assert Path(hf_hub_download(repo_id, "f.txt", token=hub.token)).read_bytes() == b"proposed"
    [d] = [d for d in api.get_repo_discussions(repo_id) if d.num == pr.pr_num]
    assert d.status == "merged"
    num = api.create_pull_request(repo_id, "empty PR")
    api.change_discussion_status(repo_id, num, "closed")
    [d] = [d for d in api.get_repo_discussions(repo_id) if d.num == num]
    assert d.status == "closed"


def test_module_level_functions_read_env_per_call(hub, monkeypatch):
    import modelhub

    monkeypatch.setenv("HF_TOKEN", hub.token)
    repo_id = hub.new_repo_id()
    modelhub.create_repo(repo_id)
    assert modelhub.repo_info(repo_id).id == repo_id
    monkeypatch.setenv("HF_TOKEN", "hf_bogus")
    with pytest.raises(errors.UnauthorizedError):
        modelhub.whoami()


def test_conflict_messages_say_what_to_do(hub):
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("conflict")
    api.create_repo(repo_id)
    with pytest.raises(
        errors.ConflictError, match=r"already exists.*exist_ok=True.*\(server said: [^{]"
    ) as info:
        api.create_repo(repo_id)
    assert info.value.status_code == 409
    api.create_branch(repo_id, branch="dev")
    with pytest.raises(errors.ConflictError, match="Branch 'dev' already exists .*exist_ok=True"):
        api.create_branch(repo_id, branch="dev")
    api.create_branch(repo_id, branch="dev", exist_ok=True)
    reader = HubApi(token=hub.read_token)
    reader.create_branch(repo_id, branch="dev", exist_ok=True)  # there already: a read token is enough
    with pytest.raises(errors.ForbiddenError, match="write access"):
        reader.create_branch(repo_id, branch="feature", exist_ok=True)
    api.create_tag(repo_id, tag="v1")
    with pytest.raises(errors.ConflictError, match="Tag 'v1' already exists .*exist_ok=True") as info:
        api.create_tag(repo_id, tag="v1", revision="dev")
    assert info.value.status_code == 409
    with pytest.raises(
        errors.RemoteEntryNotFoundError, match="A path named in the request does not exist.*nope"
    ):
        api.delete_file("nope.txt", repo_id)
