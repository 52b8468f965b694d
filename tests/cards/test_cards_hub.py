"""Cards against the real modelhub hub: load by repo id (each repo type), validate, push_to_hub (create_pr,
revision, parent_commit), metadata_update on repos with and without a README.md, and the official client reading
what ours pushed."""

from __future__ import annotations

import pytest

from modelhub import (
    CardData,
    DatasetCard,
    DatasetCardData,
    HubApi,
    ModelCard,
    ModelCardData,
    RepoCard,
    SpaceCard,
    metadata_eval_result,
    metadata_update,
)
from modelhub.client.download import forget_resolved_revisions
from modelhub.errors import ConflictError


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    forget_resolved_revisions()


def _readme(hub, repo_id: str, repo_type: str | None = None, revision: str | None = None) -> str:
    from modelhub.client import hub_download

    forget_resolved_revisions()
    path = hub_download(repo_id, "README.md", repo_type=repo_type, revision=revision, token=hub.token)
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def _result(value: float, **kw) -> dict:
    return metadata_eval_result(
        model_pretty_name=kw.get("model", "my-model"),
        task_pretty_name="Text Classification",
        task_id="text-classification",
        metrics_pretty_name="Accuracy",
        metrics_id=kw.get("metric", "accuracy"),
        metrics_value=value,
        dataset_pretty_name="IMDb",
        dataset_id="stanfordnlp/imdb",
        dataset_split="test",
    )


def test_metadata_update_on_a_repo_without_a_card(hub):
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("nocard")
    api.create_repo(repo_id)
    commit = metadata_update(repo_id, {"license": "mit", "tags": ["nlp"], **_result(0.91)}, token=hub.token)
    assert commit.oid and "README.md" in api.list_repo_files(repo_id)
    card = ModelCard.load(repo_id, token=hub.token)
    assert card.data.license == "mit" and card.data.tags == ["nlp"]
    assert card.data.model_name == "my-model" and card.data.eval_results[0].metric_value == 0.91
    assert "## Model details" in card.text  # the default template's body


def test_metadata_update_merges_into_an_existing_card(hub):
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("card")
    api.create_repo(repo_id)
    ModelCard("---\r\nlicense: mit\r\nlanguage: en\r\nemoji: 🤗\r\n---\r\n# Kept body\r\n").push_to_hub(
        repo_id, token=hub.token
    )
    metadata_update(repo_id, {"datasets": ["stanfordnlp/imdb"], **_result(0.9)}, token=hub.token)
    text = _readme(hub, repo_id)
    assert text.startswith("---\r\nlicense: mit\r\nlanguage: en\r\nemoji: 🤗\r\n")  # order, CRLF, emoji kept
    assert text.endswith("---\r\n# Kept body\r\n")
    # a second metric of the same evaluation is appended; the same metric with another value needs overwrite
    metadata_update(repo_id, _result(0.8, metric="f1"), token=hub.token)
    with pytest.raises(ValueError, match="overwrite=True"):
        metadata_update(repo_id, _result(0.95), token=hub.token)
    with pytest.raises(ValueError, match="overwrite=True"):
        metadata_update(repo_id, {"license": "apache-2.0"}, token=hub.token)
    metadata_update(repo_id, {"license": "apache-2.0", **_result(0.95)}, overwrite=True, token=hub.token)
    card = ModelCard.load(repo_id, token=hub.token)
    assert card.data.license == "apache-2.0"
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == [
        ("accuracy", 0.95),
        ("f1", 0.8),
    ]
    # unchanged value: no error without overwrite
    metadata_update(repo_id, {"language": "en"}, token=hub.token)


def test_metadata_update_create_pr_and_revision(hub):
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("pr")
    api.create_repo(repo_id)
    ModelCard("---\nlicense: mit\n---\nbody\n").push_to_hub(repo_id, token=hub.token)
    pr = metadata_update(repo_id, {"pipeline_tag": "text-classification"}, create_pr=True, token=hub.token)
    assert pr.pr_num and pr.pr_revision == f"refs/pr/{pr.pr_num}"
    assert "pipeline_tag" not in _readme(hub, repo_id)
    assert "pipeline_tag: text-classification" in _readme(hub, repo_id, revision=pr.pr_revision)
    # a card pushed to a branch, and metadata_update reading and writing that branch
    api.create_branch(repo_id, branch="dev")
    ModelCard("---\nlicense: mit\n---\ndev body\n").push_to_hub(
        repo_id, token=hub.token, revision="dev", commit_message="card on dev", commit_description="why"
    )
    metadata_update(repo_id, {"tags": ["dev"]}, revision="dev", token=hub.token)
    assert _readme(hub, repo_id, revision="dev") == "---\nlicense: mit\ntags:\n- dev\n---\ndev body\n"
    assert _readme(hub, repo_id) == "---\nlicense: mit\n---\nbody\n"
    assert [c.title for c in api.list_repo_commits(repo_id, revision="dev")][:2] == [
        "Update metadata with modelhub",
        "card on dev",
    ]


def test_push_to_hub_with_parent_commit_and_validate(hub):
    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("parent")
    api.create_repo(repo_id)
    first = ModelCard("---\nlicense: mit\n---\nv1\n").push_to_hub(repo_id, token=hub.token)
    ModelCard("---\nlicense: mit\n---\nv2\n").push_to_hub(repo_id, token=hub.token, commit_message="v2")
    with pytest.raises(ConflictError):
        ModelCard("---\nlicense: mit\n---\nv3\n").push_to_hub(
            repo_id, token=hub.token, parent_commit=first.oid
        )
    assert _readme(hub, repo_id).endswith("v2\n")
    # the hub's validate-yaml refuses metadata it cannot index (here: over its 1 MiB limit); nothing is pushed
    bad = ModelCard("---\nlicense: mit\n---\nbody\n")
    bad.data["notes"] = "x" * (1 << 20)
    with pytest.raises(ValueError, match="refused"):
        bad.validate()
    with pytest.raises(ValueError, match="refused"):
        bad.push_to_hub(repo_id, token=hub.token)
    assert _readme(hub, repo_id).endswith("v2\n")


def test_dataset_and_space_cards_by_repo_id(hub):
    api = HubApi(token=hub.token)
    dataset = hub.new_repo_id("ds")
    api.create_repo(dataset, repo_type="dataset")
    card = DatasetCard.from_template(
        DatasetCardData(license="mit", pretty_name="Tiny"), dataset_summary="Tiny set."
    )
    card.data["configs"] = [{"config_name": "default", "data_files": "data/*.csv"}]
    card.push_to_hub(dataset, token=hub.token)
    loaded = DatasetCard.load(dataset, token=hub.token)
    assert loaded.data.pretty_name == "Tiny" and loaded.data.configs[0]["config_name"] == "default"
    generic = RepoCard.load(dataset, repo_type="dataset", token=hub.token)  # the base class, repo_type given
    assert type(generic.data) is CardData and generic.data["pretty_name"] == "Tiny"
    loaded.data["license"] = "cc-by-4.0"
    pr = loaded.push_to_hub(dataset, token=hub.token, create_pr=True, commit_message="relicense")
    assert pr.pr_url and "cc-by-4.0" in _readme(hub, dataset, "dataset", revision=pr.pr_revision)
    assert "license: mit" in _readme(hub, dataset, "dataset")
    metadata_update(dataset, {"size_categories": ["n<1K"]}, repo_type="dataset", token=hub.token)
    assert DatasetCard.load(dataset, token=hub.token).data.size_categories == ["n<1K"]

    space = hub.new_repo_id("sp")
    api.create_repo(space, repo_type="space")
    with pytest.raises(ValueError, match="has no README.md"):
        metadata_update(space, {"sdk": "gradio"}, repo_type="space", token=hub.token)
    SpaceCard("---\ntitle: Demo\nsdk: docker\napp_port: 7860\n---\n").push_to_hub(space, token=hub.token)
    metadata_update(space, {"pinned": True}, repo_type="space", token=hub.token)
    loaded_space = SpaceCard.load(space, token=hub.token)
    assert (loaded_space.data.sdk, loaded_space.data.app_port, loaded_space.data.pinned) == (
        "docker",
        7860,
        True,
    )


@pytest.mark.interop
def test_official_client_reads_what_ours_pushed(hub, monkeypatch, tmp_path):
    from tests._hub import point_official_client

    api = HubApi(token=hub.token)
    repo_id = hub.new_repo_id("interop")
    api.create_repo(repo_id)
    data = ModelCardData(
        license="mit",
        model_name="m",
        eval_results=ModelCard.load(
            "---\nmodel-index:\n- name: m\n  results:\n  - task: {type: t}\n    dataset: {type: d, name: D}\n"
            "    metrics:\n    - {type: acc, value: 1}\n---\n"
        ).data.eval_results,
    )
    ModelCard.from_template(data, model_summary="Summary 🚀").push_to_hub(repo_id, token=hub.token)
    point_official_client(monkeypatch, hub.url, tmp_path / "official")
    import huggingface_hub

    theirs = huggingface_hub.ModelCard.load(repo_id, token=hub.token)
    ours = ModelCard.load(repo_id, token=hub.token)
    assert theirs.data.to_dict() == ours.data.to_dict() and theirs.text == ours.text
    # and theirs metadata_update on our card, read back by ours
    huggingface_hub.metadata_update(repo_id, {"tags": ["x"]}, token=hub.token)
    forget_resolved_revisions()
    assert ModelCard.load(repo_id, token=hub.token).data.tags == ["x"]
