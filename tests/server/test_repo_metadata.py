"""Repo metadata as the Hub computes it, read with the official client 2.4.0: pipeline tag, library, config,
safetensors parameter counts (single file and sharded), downloads counted on the query files, likes, ``expand``,
``list_models(full=True)`` and sorting by downloads."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from .._hub import client_env
from .._safetensors import safetensors_bytes as _safetensors

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import CommitOperationAdd, HfApi  # noqa: E402
from huggingface_hub import errors as hf_errors  # noqa: E402

pytestmark = pytest.mark.interop


def _api(hub, token: str | None = None) -> HfApi:
    return HfApi(endpoint=hub.url, token=token if token is not None else hub.token)


def test_sharded_safetensors_card_and_config(hub) -> None:
    api = _api(hub)
    repo_id = hub.new_repo_id("shard")
    api.create_repo(repo_id)
    shard1 = _safetensors({"a": ("F32", [10, 10]), "b": ("F16", [3])})
    shard2 = _safetensors({"c": ("F32", [5]), "d": ("BF16", [2, 2, 2])})
    index = {
        "metadata": {},
        "weight_map": {
            "a": "m-1.safetensors",
            "b": "m-1.safetensors",
            "c": "m-2.safetensors",
            "d": "m-2.safetensors",
        },
    }
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": 8,
        "secret": "x" * 10,
    }
    files = {
        "m-1.safetensors": shard1,
        "m-2.safetensors": shard2,
        "model.safetensors.index.json": json.dumps(index).encode(),
        "config.json": json.dumps(config).encode(),
        "tokenizer_config.json": json.dumps({"eos_token": "</s>", "chat_template": "{{ x }}"}).encode(),
        "README.md": b"---\nlicense: apache-2.0\ntags: [demo]\n---\n# hi\n",
    }
    api.create_commit(
        repo_id,
        [CommitOperationAdd(path_in_repo=p, path_or_fileobj=d) for p, d in files.items()],
        commit_message="weights",
    )
    info = api.model_info(repo_id)
    assert info.library_name == "transformers" and info.pipeline_tag == "text-generation"
    assert info.safetensors.parameters == {"F32": 105, "F16": 3, "BF16": 8} and info.safetensors.total == 116
    assert info.config == {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "tokenizer_config": {"eos_token": "</s>", "chat_template": "{{ x }}"},
    }
    assert info.transformers_info.auto_model == "AutoModelForCausalLM"
    assert info.card_data["license"] == "apache-2.0"
    assert {"transformers", "safetensors", "llama", "text-generation", "license:apache-2.0", "demo"} <= set(
        info.tags
    )
    # expand= answers exactly the properties asked
    only = api.model_info(repo_id, expand=["safetensors", "downloadsAllTime"])
    assert only.safetensors.total == 116 and only.downloads_all_time == 0
    assert only.siblings is None and only.card_data is None
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        api.model_info(repo_id, expand=["nonsense"])
    assert exc.value.response.status_code == 400
    # listings carry the derived metadata, filter on it, and list files with full=True
    listed = {m.id: m for m in api.list_models(author="alice", full=True, filter="llama")}
    assert repo_id in listed and listed[repo_id].pipeline_tag == "text-generation"
    assert sorted(s.rfilename for s in listed[repo_id].siblings) == sorted([".gitattributes", *files])
    with_card = next(m for m in api.list_models(author="alice", cardData=True) if m.id == repo_id)
    assert with_card.card_data["license"] == "apache-2.0"


def test_the_card_names_library_and_task_and_a_single_file_is_counted(hub) -> None:
    """The card's ``library_name`` and ``pipeline_tag`` win over what ``config.json`` would say; one weights
    file (no index) is counted from its header; listings filter on the task (``pipeline_tag=``) and ``expand``."""
    api = _api(hub)
    repo_id = hub.new_repo_id("card")
    api.create_repo(repo_id)
    weights = _safetensors({"w": ("F16", [7, 3]), "b": ("F16", [3]), "step": ("I64", [])})
    config = {"architectures": ["ViTForImageClassification"], "model_type": "vit"}
    card = b"---\nlibrary_name: timm\npipeline_tag: image-feature-extraction\nlicense: mit\n---\n# a timm model\n"
    files = {"model.safetensors": weights, "config.json": json.dumps(config).encode(), "README.md": card}
    api.create_commit(
        repo_id,
        [CommitOperationAdd(path_in_repo=p, path_or_fileobj=d) for p, d in files.items()],
        commit_message="weights",
    )
    info = api.model_info(repo_id)
    assert (info.library_name, info.pipeline_tag) == ("timm", "image-feature-extraction")
    assert info.safetensors.parameters == {"F16": 24, "I64": 1} and info.safetensors.total == 25
    assert info.transformers_info is None  # not a transformers repo: the card says so
    assert info.card_data["license"] == "mit" and info.card_data["library_name"] == "timm"
    assert {"timm", "image-feature-extraction", "safetensors", "vit", "license:mit"} <= set(info.tags)
    # listings: filtered on the task, with exactly the properties asked
    tasks = [m.id for m in api.list_models(author="alice", pipeline_tag="image-feature-extraction")]
    assert repo_id in tasks and all(
        api.model_info(m).pipeline_tag == "image-feature-extraction" for m in tasks
    )
    assert repo_id not in [m.id for m in api.list_models(author="alice", pipeline_tag="text-generation")]
    listed = next(
        m
        for m in api.list_models(author="alice", expand=["safetensors", "pipeline_tag", "downloadsAllTime"])
        if m.id == repo_id
    )
    assert listed.safetensors.total == 25 and listed.pipeline_tag == "image-feature-extraction"
    assert listed.downloads_all_time == 0 and listed.library_name is None and listed.siblings is None
    assert [m.id for m in api.list_models(author="alice", filter="timm") if m.id == repo_id] == [repo_id]


def test_downloads_count_the_query_files_and_sort(hub, tmp_path) -> None:
    api = _api(hub)
    counted, other = hub.new_repo_id("dl"), hub.new_repo_id("dl")
    for repo_id in (counted, other):
        api.create_repo(repo_id)
        api.create_commit(
            repo_id,
            [
                CommitOperationAdd(path_in_repo="config.json", path_or_fileobj=b"{}"),
                CommitOperationAdd(path_in_repo="w.bin", path_or_fileobj=b"w" * 100),
            ],
            commit_message="c",
        )
    assert api.model_info(counted).downloads == 0
    for i in range(3):  # HEAD + GET each time: the Hub counts both
        hf.hf_hub_download(counted, "config.json", cache_dir=tmp_path / str(i))
    hf.hf_hub_download(counted, "w.bin", cache_dir=tmp_path / "w")  # not a query file
    info = api.model_info(counted, expand=["downloads", "downloadsAllTime"])
    assert info.downloads == 6 and info.downloads_all_time == 6
    hf.hf_hub_download(other, "config.json", cache_dir=tmp_path / "o")
    ranked = [m.id for m in api.list_models(author="alice", sort="downloads") if m.id in (counted, other)]
    assert ranked == [counted, other]
    listed = {m.id: m.downloads for m in api.list_models(author="alice") if m.id in (counted, other)}
    assert listed == {counted: 6, other: 2}
    # the counts reach the database in batches and survive a restart
    hub.server.restart()
    assert api.model_info(counted).downloads == 6


def test_likes(hub) -> None:
    api = _api(hub)
    repo_id = hub.new_repo_id("like")
    api.create_repo(repo_id)
    bob = hub.create_user(hub.unique_name("bob"))
    bob_token = hub.create_token(bob)
    with hub.http(bob_token) as c:  # the 2.4.0 client has no like(): the Hub's route
        assert c.post(f"/api/models/{repo_id}/like").status_code == 200
    with hub.http(hub.token) as c:
        assert c.post(f"/api/models/{repo_id}/like").status_code == 200
    with hub.http(hub.create_token(bob, "read")) as c:  # as on the Hub, a read token does not like
        assert c.post(f"/api/models/{repo_id}/like").status_code == 403
    assert api.model_info(repo_id).likes == 2
    assert sorted(u.username for u in api.list_repo_likers(repo_id)) == sorted(["alice", bob])
    assert _api(hub, bob_token).list_liked_repos(bob).models == [repo_id]
    _api(hub, bob_token).unlike(repo_id)
    assert api.model_info(repo_id).likes == 1 and api.list_liked_repos(bob).models == []
    private = hub.new_repo_id("like")
    api.create_repo(private, private=True)
    with hub.http(hub.token) as c:
        assert c.post(f"/api/models/{private}/like").status_code == 200
    assert private in api.list_liked_repos("alice").models
    assert private not in _api(hub, bob_token).list_liked_repos("alice").models  # invisible to others
    assert private not in HfApi(endpoint=hub.url, token=False).list_liked_repos("alice").models


def test_duplicate_and_super_squash(hub, tmp_path) -> None:
    api = _api(hub)
    src = hub.new_repo_id("dup")
    api.create_repo(src)
    for i in range(3):
        api.upload_file(path_or_fileobj=f"v{i}".encode(), path_in_repo="f.txt", repo_id=src)
    bob = hub.create_user(hub.unique_name("bob"))
    bob_api = _api(hub, hub.create_token(bob))
    url = bob_api.duplicate_repo(src, private=True)
    assert url.repo_id == f"{bob}/{src.split('/')[1]}" and url.files_copy_pending is False
    assert bob_api.model_info(url.repo_id).private
    path = hf.hf_hub_download(url.repo_id, "f.txt", token=bob_api.token, cache_dir=tmp_path)
    assert open(path, "rb").read() == b"v2"  # noqa: SIM115
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.duplicate_repo(src, private=True)
    assert exc.value.response.status_code == 409
    assert bob_api.duplicate_repo(src, exist_ok=True)
    # super-squash: one commit left, same files
    assert len(api.list_repo_commits(src)) == 4
    api.super_squash_history(src, commit_message="squashed")
    commits = api.list_repo_commits(src)
    assert [c.title for c in commits] == ["squashed"]
    assert hf.hf_hub_download(src, "f.txt", cache_dir=tmp_path / "s") and api.list_repo_files(src) == [
        ".gitattributes",
        "f.txt",
    ]
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.super_squash_history(src)
    assert exc.value.response.status_code == 403


TRANSFORMERS_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    from transformers import BertConfig, BertForMaskedLM
    torch.manual_seed(0)
    config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    model = BertForMaskedLM(config)
    model.push_to_hub(sys.argv[1])
    import tempfile
    from safetensors.torch import load_file
    with tempfile.TemporaryDirectory() as d:  # what the push stored: safetensors keeps tied weights once
        model.save_pretrained(d)
        print(sum(t.numel() for t in load_file(d + "/model.safetensors").values()))
    """
)


@pytest.mark.torch
@pytest.mark.slow
def test_metadata_of_a_transformers_model_pushed_with_push_to_hub(hub, tmp_path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    repo_id = hub.new_repo_id("bert")
    env = client_env(tmp_path / "home", HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    res = subprocess.run(
        [sys.executable, "-c", TRANSFORMERS_SCRIPT, repo_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    info = _api(hub).model_info(repo_id)
    assert info.library_name == "transformers" and info.pipeline_tag == "fill-mask"
    assert info.config["architectures"] == ["BertForMaskedLM"] and info.config["model_type"] == "bert"
    assert info.transformers_info.auto_model == "AutoModelForMaskedLM"
    assert set(info.safetensors.parameters) == {"F32"}
    assert info.safetensors.total == int(res.stdout.split()[-1]) > 0  # counted by the safetensors library
    assert {"transformers", "safetensors", "bert", "fill-mask"} <= set(info.tags)
