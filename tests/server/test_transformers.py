"""transformers, as a user would run it: push_to_hub then from_pretrained through HF_ENDPOINT, in a fresh process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .._hub import client_env
from ._xet import traffic

pytestmark = [pytest.mark.torch, pytest.mark.interop, pytest.mark.slow]

SCRIPT = textwrap.dedent(
    """
    import sys, torch
    from transformers import AutoModel, BertConfig, BertModel

    repo_id = sys.argv[1]
    torch.manual_seed(0)
    config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    model = BertModel(config).eval()
    ids = torch.tensor([[1, 5, 7, 9, 2]])
    with torch.no_grad():
        expected = model(ids).last_hidden_state
    model.push_to_hub(repo_id)
    loaded = AutoModel.from_pretrained(repo_id).eval()
    with torch.no_grad():
        got = loaded(ids).last_hidden_state
    assert type(loaded).__name__ == "BertModel", type(loaded)
    assert torch.equal(expected, got), (expected - got).abs().max()
    print("IDENTICAL", flush=True)
    """
)


@pytest.mark.parametrize("disable_xet", [False, True], ids=["xet", "lfs"])
def test_transformers_push_and_load(hub, tmp_path, disable_xet: bool) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    repo_id = hub.new_repo_id("bert")
    env = client_env(tmp_path / "home", HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    if disable_xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    with traffic(hub.server) as t:
        res = subprocess.run(
            [sys.executable, "-c", SCRIPT, repo_id], env=env, capture_output=True, text=True, timeout=300
        )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "IDENTICAL" in res.stdout
    uploaded_lfs = any(f"/{repo_id}.git/info/lfs/objects/batch" in h.path for h in t.hits)
    assert uploaded_lfs == disable_xet
    # with hf_xet the weights went up and came back down through the CAS
    assert bool(t.to("POST", "/cas/v1/shards", 200)) == (not disable_xet)
    assert bool(t.to("GET", "/cas/v2/reconstructions/", 200)) == (not disable_xet)
