"""Keras 3 (torch backend) through the real modelhub server: push, load by revision, logs, mixin."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from modelhub.errors import CorruptedFileError, KerasModelNotFoundError, RepositoryNotFoundError
from modelhub.mixins.keras import KerasModelHubMixin, from_pretrained_keras, push_to_hub_keras

from .._healing import DAMAGES, check_heals
from ._models import data, make_model, predict

pytestmark = pytest.mark.keras


def _api(hub):
    from modelhub.client import HubApi

    return HubApi(endpoint=hub.url, token=hub.token)


@pytest.mark.parametrize("kind", ["functional", "sequential", "subclassed"])
def test_push_then_load_by_revision(keras3, hub, kind):
    repo_id = hub.new_repo_id(kind[:4])
    first = make_model(keras3, kind, seed=1)
    commit1 = push_to_hub_keras(first, repo_id, token=hub.token, config={"v": 1}, tags=["tabular"])
    assert isinstance(commit1, str) and commit1.startswith(hub.url) and commit1.oid in commit1
    second = make_model(keras3, kind, seed=2)
    commit2 = push_to_hub_keras(second, repo_id, token=hub.token, config={"v": 2}, commit_message="v2")
    assert commit2.oid != commit1.oid

    files = set(_api(hub).list_repo_files(repo_id))
    assert {"model.keras", "README.md", "config.json", "history.json"} <= files
    x, _ = data(seed=11)
    latest = from_pretrained_keras(repo_id, token=hub.token)
    np.testing.assert_array_equal(predict(latest, x), predict(second, x))
    assert latest.config == {"v": 2}
    # The first commit, by keyword and by the repo@revision form.
    for old in (
        from_pretrained_keras(repo_id, revision=commit1.oid, token=hub.token),
        from_pretrained_keras(f"{repo_id}@{commit1.oid}", token=hub.token),
    ):
        np.testing.assert_array_equal(predict(old, x), predict(first, x))
        assert old.config == {"v": 1}
    assert not np.array_equal(predict(first, x), predict(second, x))


def test_pushed_card_has_tags_table_and_plot(keras3, hub):
    from modelhub.cards import ModelCard
    from modelhub.client import hub_download
    from modelhub.mixins._keras_card import plot_available

    repo_id = hub.new_repo_id("card")
    push_to_hub_keras(make_model(keras3, "functional"), repo_id, token=hub.token, tags="demo")
    card = ModelCard.load(hub_download(repo_id, "README.md", token=hub.token))
    assert card.data.library_name == "keras" and card.data.tags == ["keras", "demo"]
    assert "| learning_rate | 0.0125 |" in card.text
    files = set(_api(hub).list_repo_files(repo_id))
    if plot_available():
        assert "model.png" in files and "![Model Image](./model.png)" in card.text
    else:
        assert "model.png" not in files


def test_log_dir_uploaded_and_remote_logs_replaced(keras3, hub, tmp_path):
    repo_id = hub.new_repo_id("logs")
    model = make_model(keras3, "sequential")
    run1 = tmp_path / "run1"
    (run1 / "train").mkdir(parents=True)
    (run1 / "train" / "events.out.tfevents.1.host").write_bytes(b"first run")
    (run1 / "old-only.txt").write_text("gone after the second push")
    push_to_hub_keras(model, repo_id, token=hub.token, log_dir=run1)
    files = set(_api(hub).list_repo_files(repo_id))
    assert {"logs/train/events.out.tfevents.1.host", "logs/old-only.txt", "model.keras"} <= files

    run2 = tmp_path / "run2"
    (run2 / "validation").mkdir(parents=True)
    (run2 / "validation" / "events.out.tfevents.2.host").write_bytes(b"second run")
    commit = push_to_hub_keras(model, repo_id, token=hub.token, log_dir=run2)
    files = set(_api(hub).list_repo_files(repo_id))
    logs = {f for f in files if f.startswith("logs/")}
    assert logs == {"logs/validation/events.out.tfevents.2.host"}
    assert "model.keras" in files
    # The replacement happened in one commit: the first run's logs are still in the previous one.
    commits = _api(hub).list_repo_commits(repo_id)
    assert commits[0].commit_id == commit.oid
    previous = set(_api(hub).list_repo_files(repo_id, revision=commits[1].commit_id))
    assert "logs/train/events.out.tfevents.1.host" in previous
    # Loading never downloads the logs: the cached snapshot has the model but no logs/.
    from_pretrained_keras(repo_id, token=hub.token)
    snapshots = list(Path(os.environ["HF_HUB_CACHE"]).glob("models--*/snapshots/*"))
    assert len(snapshots) == 1 and (snapshots[0] / "model.keras").is_file()
    assert not (snapshots[0] / "logs").exists()


def test_delete_allow_ignore_patterns_and_branch(keras3, hub):
    api = _api(hub)
    repo_id = hub.new_repo_id("pat")
    model = make_model(keras3, "functional")
    push_to_hub_keras(model, repo_id, token=hub.token, config={"a": 1})
    api.upload_file(path_or_fileobj=b"old", path_in_repo="extra/stale.bin", repo_id=repo_id)

    push_to_hub_keras(
        model,
        repo_id,
        token=hub.token,
        ignore_patterns=["history.json"],
        delete_patterns=["extra/*", "history.json"],
        branch="dev",
    )
    dev = set(api.list_repo_files(repo_id, revision="dev"))
    assert "extra/stale.bin" not in dev and "history.json" not in dev and "model.keras" in dev
    assert "extra/stale.bin" in set(api.list_repo_files(repo_id))  # main untouched

    only_card = hub.new_repo_id("allow")
    push_to_hub_keras(model, only_card, token=hub.token, allow_patterns=["README.md"])
    only = set(api.list_repo_files(only_card))
    assert "README.md" in only and not only & {"model.keras", "history.json", "config.json"}
    with pytest.raises(KerasModelNotFoundError, match="holds no Keras model"):
        from_pretrained_keras(only_card, token=hub.token)

    x, _ = data()
    np.testing.assert_array_equal(
        predict(from_pretrained_keras(f"{repo_id}@dev", token=hub.token), x), predict(model, x)
    )


def test_create_pr(keras3, hub):
    repo_id = hub.new_repo_id("pr")
    model = make_model(keras3, "functional")
    push_to_hub_keras(model, repo_id, token=hub.token)
    commit = push_to_hub_keras(
        make_model(keras3, "functional", seed=5), repo_id, token=hub.token, create_pr=True
    )
    assert commit.pr_url and commit.pr_revision
    x, _ = data()
    np.testing.assert_array_equal(
        predict(from_pretrained_keras(repo_id, revision=commit.pr_revision, token=hub.token), x),
        predict(make_model(keras3, "functional", seed=5), x),
    )
    np.testing.assert_array_equal(
        predict(from_pretrained_keras(repo_id, token=hub.token), x), predict(model, x)
    )


def test_unbuilt_model_fails_before_creating_the_repo(keras3, hub):
    from modelhub.errors import RepositoryNotFoundError

    from ._models import subclassed_class

    repo_id = hub.new_repo_id("unbuilt")
    with pytest.raises(ValueError, match="not built"):
        push_to_hub_keras(subclassed_class(keras3)(hidden=2), repo_id, token=hub.token)
    with pytest.raises(RepositoryNotFoundError):
        _api(hub).repo_info(repo_id)


def test_missing_revision_and_repo_errors(keras3, hub):
    from modelhub.errors import RepositoryNotFoundError, RevisionNotFoundError

    repo_id = hub.new_repo_id("err")
    push_to_hub_keras(make_model(keras3, "functional"), repo_id, token=hub.token)
    with pytest.raises(RevisionNotFoundError):
        from_pretrained_keras(f"{repo_id}@no-such-branch", token=hub.token)
    with pytest.raises(RepositoryNotFoundError):
        from_pretrained_keras(hub.new_repo_id("absent"), token=hub.token)
    with pytest.raises(ValueError, match="Two different revisions"):
        from_pretrained_keras(f"{repo_id}@main", revision="dev", token=hub.token)


class _MixinNet:
    """Built lazily: the class needs keras imported (torch backend set by conftest)."""

    cls = None

    @classmethod
    def get(cls, keras):
        if cls.cls is None:

            class MixinNet(keras.Model, KerasModelHubMixin, tags=["mixin"]):
                def __init__(self, width: int = 3, **kwargs):
                    super().__init__(**kwargs)
                    self.width = width
                    self.hidden = keras.layers.Dense(width, activation="relu")
                    self.out = keras.layers.Dense(1)

                def call(self, inputs):
                    return self.out(self.hidden(inputs))

                def get_config(self):
                    return {**super().get_config(), "width": self.width}

            cls.cls = MixinNet
        return cls.cls


def test_mixin_push_to_hub_and_from_pretrained(keras3, hub):
    MixinNet = _MixinNet.get(keras3)
    model = MixinNet(width=7)
    x, y = data(seed=4)
    model(x[:1])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y[:, :1], epochs=1, verbose=0)
    repo_id = hub.new_repo_id("mixin")
    commit = model.push_to_hub(repo_id, token=hub.token)
    files = set(_api(hub).list_repo_files(repo_id))
    assert {"model.keras", "config.json", "README.md", "history.json"} <= files

    loaded = MixinNet.from_pretrained(repo_id, revision=commit.oid, token=hub.token)
    assert isinstance(loaded, MixinNet) and loaded.width == 7
    np.testing.assert_array_equal(predict(loaded, x), predict(model, x))
    # Saved again, the reloaded model writes the same config.json.
    loaded.save_pretrained(hub.tmp_path / "again")
    assert (hub.tmp_path / "again" / "config.json").read_text().split() == ["{", '"width":', "7", "}"]


def test_private_repo_and_offline_reload(keras3, hub, monkeypatch):
    from modelhub.errors import RepositoryNotFoundError

    repo_id = hub.new_repo_id("priv")
    model = make_model(keras3, "sequential")
    push_to_hub_keras(model, repo_id, token=hub.token, private=True)
    with pytest.raises(RepositoryNotFoundError):
        from_pretrained_keras(repo_id)  # anonymous: a private repo is invisible
    x, _ = data()
    expected = predict(model, x)
    np.testing.assert_array_equal(predict(from_pretrained_keras(repo_id, token=hub.read_token), x), expected)
    # Cached now: loads with local_files_only and with the hub offline, no token needed.
    np.testing.assert_array_equal(predict(from_pretrained_keras(repo_id, local_files_only=True), x), expected)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    np.testing.assert_array_equal(predict(from_pretrained_keras(repo_id), x), expected)


def test_cache_dir_and_force_download_reach_the_download(keras3, hub, tmp_path):
    repo_id = hub.new_repo_id("cache")
    model = make_model(keras3, "functional", seed=3)
    push_to_hub_keras(model, repo_id, token=hub.token)
    x, _ = data()
    expected = predict(model, x)
    cache = tmp_path / "keras-cache"
    np.testing.assert_array_equal(predict(from_pretrained_keras(repo_id, cache_dir=cache), x), expected)
    cached = next(cache.glob(f"models--{repo_id.replace('/', '--')}/snapshots/*/model.keras")).resolve()
    assert not list(Path(os.environ["HF_HUB_CACHE"]).rglob("model.keras")), "cache_dir was ignored"

    # A damaged cached archive: refused by a local_files_only load (naming it), repaired by force_download.
    cached.write_bytes(b"not a zip archive")
    with pytest.raises(CorruptedFileError, match="model.keras"):
        from_pretrained_keras(repo_id, cache_dir=cache, local_files_only=True)
    repaired = from_pretrained_keras(repo_id, cache_dir=cache, force_download=True)
    np.testing.assert_array_equal(predict(repaired, x), expected)


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_cache_heals(keras3, hub, how, caplog, monkeypatch):

    repo_id = hub.new_repo_id("heal")
    model = make_model(keras3, "functional", seed=3)
    push_to_hub_keras(model, repo_id, token=hub.token)
    x, _ = data(seed=4)
    expected = predict(model, x)

    def check(loaded):
        np.testing.assert_array_equal(predict(loaded, x), expected)

    load = lambda: from_pretrained_keras(repo_id, token=hub.token)  # noqa: E731
    check(load())
    check_heals(load, check, repo_id, "model.keras", how, caplog, monkeypatch)


def test_single_segment_ids(keras3, hub, monkeypatch):
    from .._bare_hub import bare_id_hub

    repo_id = hub.new_repo_id("bare")
    model = make_model(keras3, "functional", seed=5)
    push_to_hub_keras(model, repo_id, token=hub.token)
    x, _ = data(seed=6)
    name = repo_id.split("/")[1]
    with pytest.raises(RepositoryNotFoundError, match="have a namespace"):  # the modelhub hub itself
        from_pretrained_keras(name)
    with bare_id_hub(hub, monkeypatch) as standin:
        standin.serve(name)
        np.testing.assert_array_equal(predict(from_pretrained_keras(name), x), predict(model, x))
