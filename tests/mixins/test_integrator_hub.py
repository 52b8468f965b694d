"""An integration written the way the upstream integration guide shows it, run against the real modelhub server.

The class below is what a library author wrote for ``huggingface_hub`` (seed-era ``_from_pretrained`` signature
with ``proxies`` / ``resume_download``, files fetched with ``hf_hub_download``); only the import line changes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional, Union

import pytest

from modelhub import (  # the import swap: was `from huggingface_hub import`
    HubApi,
    ModelHubMixin,
    hf_hub_download,
)
from modelhub.errors import LocalEntryNotFoundError, RepositoryNotFoundError


class Table(ModelHubMixin, library_name="table-lib", tags=["tabular"]):
    """A toy "model": a dict of weights, saved as weights.json next to the mixin's config.json."""

    def __init__(self, size: int = 3, name: str = "t") -> None:
        self.size = size
        self.name = name
        self.weights = {f"w{i}": float(i) for i in range(size)}

    def _save_pretrained(self, save_directory: Path) -> None:
        (save_directory / "weights.json").write_text(json.dumps(self.weights))

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: Optional[str],
        cache_dir: Optional[Union[str, Path]],
        force_download: bool,
        proxies: Optional[dict],
        resume_download: bool,
        local_files_only: bool,
        token: Union[str, bool, None],
        **model_kwargs: Any,
    ) -> Table:
        if os.path.isdir(model_id):
            weights_file = os.path.join(model_id, "weights.json")
        else:
            weights_file = hf_hub_download(
                repo_id=model_id,
                filename="weights.json",
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                proxies=proxies,
                token=token,
                local_files_only=local_files_only,
            )
        model = cls(**model_kwargs)
        with open(weights_file) as f:
            model.weights = json.load(f)
        return model


class FailingSave(ModelHubMixin):
    def _save_pretrained(self, save_directory: Path) -> None:
        raise RuntimeError("disk full (simulated by the model's own save)")


def test_guide_style_integration_round_trips_through_the_hub(hub: Any, tmp_path: Path) -> None:
    repo_id = hub.new_repo_id()
    model = Table(size=4, name="first")
    model.weights["w0"] = 42.0
    commit = model.push_to_hub(repo_id, token=hub.token)
    assert commit.oid

    cache = tmp_path / "cache"
    loaded = Table.from_pretrained(repo_id, cache_dir=cache, proxies=None, resume_download=None)
    assert (loaded.size, loaded.name, loaded.weights) == (4, "first", model.weights)
    assert any(cache.rglob("weights.json")), "cache_dir must reach the integration's hf_hub_download"

    # local_files_only reaches the integration: served from that cache, refused from an empty one.
    again = Table.from_pretrained(repo_id, cache_dir=cache, local_files_only=True)
    assert again.weights == model.weights
    with pytest.raises(LocalEntryNotFoundError):
        Table.from_pretrained(repo_id, cache_dir=tmp_path / "empty", local_files_only=True)

    # revision reaches it too: a second push on a branch, the first one still loadable by commit id.
    model.weights["w0"] = -1.0
    HubApi(token=hub.token).create_branch(repo_id, branch="dev")
    model.push_to_hub(repo_id, token=hub.token, branch="dev")
    assert Table.from_pretrained(repo_id, revision="dev").weights["w0"] == -1.0
    assert Table.from_pretrained(repo_id, revision=commit.oid).weights["w0"] == 42.0
    assert Table.from_pretrained(repo_id).weights["w0"] == 42.0


def test_failing_save_creates_no_repo(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    with pytest.raises(RuntimeError, match="disk full"):
        FailingSave().push_to_hub(repo_id, token=hub.token)
    with pytest.raises(RepositoryNotFoundError):
        HubApi(token=hub.token).repo_info(repo_id)


def test_push_options_reach_the_hub(hub: Any, tmp_path: Path) -> None:
    """model_card_kwargs, api_endpoint, private and commit_message of push_to_hub, and save_pretrained's push."""
    from modelhub import ModelCard

    repo_id = hub.new_repo_id()
    model = Table(size=2)
    commit = model.push_to_hub(
        repo_id,
        token=hub.token,
        private=True,
        commit_message="with a card",
        model_card_kwargs={"model_name": "Tiny Table"},
        api_endpoint=hub.url,
    )
    assert commit.startswith(hub.url) and commit.commit_message == "with a card"
    with pytest.raises(RepositoryNotFoundError):  # private: invisible without a token
        Table.from_pretrained(repo_id, token=False)
    card = ModelCard.load(hf_hub_download(repo_id, "README.md", token=hub.token))
    assert card.text.lstrip().startswith("# Tiny Table")
    assert "tabular" in card.data.tags and card.data.library_name == "table-lib"

    # save_pretrained(push_to_hub=True): the local folder and the repo get the same card and config.
    local = tmp_path / "named-after-the-folder"
    second = hub.new_repo_id()
    model.save_pretrained(
        local, push_to_hub=True, repo_id=second, token=hub.token, model_card_kwargs={"model_name": "Second"}
    )
    assert (local / "README.md").read_text().count("# Second") == 1
    pushed = Path(hf_hub_download(second, "README.md", token=hub.token)).read_text()
    assert pushed == (local / "README.md").read_text()
    assert json.loads(Path(hf_hub_download(second, "config.json", token=hub.token)).read_text()) == {
        "name": "t",
        "size": 2,
    }


def test_pull_request_against_a_new_branch(hub: Any) -> None:
    repo_id = hub.new_repo_id()
    base = Table(size=1)
    base.push_to_hub(repo_id, token=hub.token)
    proposal = Table(size=5)
    pr = proposal.push_to_hub(repo_id, token=hub.token, branch="experiments", create_pr=True)
    assert pr.pr_url and pr.pr_revision and pr.pr_revision.startswith("refs/pr/")
    assert Table.from_pretrained(repo_id, revision=pr.pr_revision).size == 5
    assert Table.from_pretrained(repo_id, revision="experiments").size == 1  # created from main, untouched
    assert Table.from_pretrained(repo_id).size == 1
    refs = HubApi(token=hub.token).list_repo_refs(repo_id)
    assert {branch.name for branch in refs.branches} == {"main", "experiments"}
