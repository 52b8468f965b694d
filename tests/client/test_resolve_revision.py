"""``resolve_revision`` / ``ResolvedRevision`` (upstream's names): a revision resolved once pins every later
download to that commit, works offline from the cache's refs, and says clearly when it cannot be resolved."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from modelhub import (
    HubApi,
    ResolvedRevision,
    RevisionNotFoundError,
    RevisionResolutionError,
    hf_hub_download,
    resolve_revision,
    snapshot_download,
    try_to_load_from_cache,
)
from modelhub.client import CommitOperationAdd
from modelhub.client.cache_layout import RepoCache
from modelhub.client.download import forget_resolved_revisions


@pytest.fixture
def repo(hub):
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("resolve")
    api.create_repo(repo_id)
    api.create_commit(repo_id, [CommitOperationAdd("config.json", b'{"v": 1}')], commit_message="v1")
    forget_resolved_revisions()
    return repo_id


def test_a_resolved_revision_pins_every_download(hub, repo, monkeypatch):
    api = HubApi(token=hub.token)
    first = resolve_revision(repo)
    assert isinstance(first, str) and first == "main" and first.initial is None
    assert first.resolved == api.model_info(repo).sha
    assert RepoCache(None, repo).read_ref("main") == first.resolved  # recorded in the cache's refs/
    api.create_commit(repo, [CommitOperationAdd("config.json", b'{"v": 2}')], commit_message="v2")
    forget_resolved_revisions()
    # the branch moved on: downloads at the resolved revision still read the first commit
    assert Path(hf_hub_download(repo, "config.json", revision=first)).read_bytes() == b'{"v": 1}'
    assert (Path(snapshot_download(repo, revision=first)) / "config.json").read_bytes() == b'{"v": 1}'
    assert Path(try_to_load_from_cache(repo, "config.json", revision=first)).read_bytes() == b'{"v": 1}'
    assert Path(hf_hub_download(repo, "config.json")).read_bytes() == b'{"v": 2}'
    # offline, a pinned download needs no request at all
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Path(hf_hub_download(repo, "config.json", revision=first)).read_bytes() == b'{"v": 1}'


def test_what_resolve_revision_returns_as_is_and_what_it_resolves_again(hub, repo):
    api = HubApi(token=hub.token)
    resolved = api.resolve_revision(repo)
    assert api.resolve_revision(repo, revision=resolved) is resolved
    commit = resolved.resolved
    by_commit = api.resolve_revision(repo, revision=commit)
    assert by_commit == commit and by_commit.resolved == commit
    other = hub.new_repo_id("other")
    api.create_repo(other)
    api.create_commit(other, [CommitOperationAdd("a.txt", b"a")], commit_message="a")
    again = api.resolve_revision(other, revision=resolved)  # resolved for another repo: resolved anew
    assert again.resolved == api.model_info(other).sha != commit
    # and a download of the other repo reads the revision it was asked for, not a commit of another repo
    assert Path(hf_hub_download(other, "a.txt", revision=resolved)).read_bytes() == b"a"
    api.create_branch(repo, branch="dev")
    dev = api.resolve_revision(repo, revision="dev")
    assert dev == "dev" and dev.initial == "dev" and dev.resolved == commit
    assert repr(dev) == f"ResolvedRevision(initial='dev', resolved='{commit}')"
    for clone in (pickle.loads(pickle.dumps(dev)), copy.deepcopy(dev)):
        assert clone == "dev" and clone.resolved == commit and clone.fits(repo, "model")
    with pytest.raises(RevisionNotFoundError):
        api.resolve_revision(repo, revision="nope")
    with pytest.raises(ValueError, match="40-hex"):
        ResolvedRevision("main")


def test_offline_uses_the_cached_ref_or_says_it_has_none(hub, repo, monkeypatch, caplog):
    api = HubApi(token=hub.token)
    with pytest.raises(RevisionResolutionError, match="local_files_only=True.*no commit recorded"):
        api.resolve_revision(repo, local_files_only=True)
    online = api.resolve_revision(repo)
    assert api.resolve_revision(repo, local_files_only=True).resolved == online.resolved
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert api.resolve_revision(repo).resolved == online.resolved
    with pytest.raises(RevisionResolutionError, match="offline mode"):
        api.resolve_revision(repo, revision="dev")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    # the hub down: the recorded commit, with a warning
    monkeypatch.setenv("MODELHUB_MAX_RETRIES", "0")
    down = HubApi(token=hub.token, endpoint="http://127.0.0.1:9")  # nothing listens on the discard port
    assert down.resolve_revision(repo).resolved == online.resolved
    assert "using the commit recorded in the cache" in caplog.text
    with pytest.raises(RevisionResolutionError, match="could not be reached"):
        down.resolve_revision(repo, revision="dev")
