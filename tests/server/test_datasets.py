"""``datasets``, as a user would run it: ``Dataset.push_to_hub`` then ``load_dataset`` through HF_ENDPOINT, in a
fresh process, with the default install (hf_xet: the parquet shard goes through Xet)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .._hub import client_env
from ._xet import traffic

pytest.importorskip("datasets")
pytestmark = [pytest.mark.interop, pytest.mark.slow]

SCRIPT = textwrap.dedent(
    """
    import sys
    import datasets
    repo = sys.argv[1]
    rows = {"id": list(range(20_000)), "text": [f"row {i} " * 8 for i in range(20_000)]}
    datasets.Dataset.from_dict(rows).push_to_hub(repo)
    back = datasets.load_dataset(repo, split="train")
    assert back.num_rows == 20_000, back
    assert back.sort("id")["text"][:3] == rows["text"][:3]
    print("LOADED", flush=True)
    """
)


def test_dataset_push_to_hub_and_load_dataset_through_xet(hub, tmp_path) -> None:
    repo_id = hub.new_repo_id("ds")
    env = client_env(
        tmp_path / "home", HF_ENDPOINT=hub.url, HF_TOKEN=hub.token, HF_DATASETS_DISABLE_PROGRESS_BARS="1"
    )
    with traffic(hub.server) as t:
        res = subprocess.run(
            [sys.executable, "-c", SCRIPT, repo_id], env=env, capture_output=True, text=True, timeout=600
        )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "LOADED" in res.stdout
    assert t.to("POST", "/cas/v1/shards", 200)  # the parquet file went through Xet
    assert not [h for h in t.hits if "/info/lfs/" in h.path]
    assert t.to("GET", "/cas/v2/reconstructions/", 200)  # and came back through it
