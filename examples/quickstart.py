"""Push a small PyTorch model to a hub and load it back: the path every modelhub user walks.

Run against any hub: `HF_ENDPOINT=http://127.0.0.1:8000 HF_TOKEN=... python examples/quickstart.py alice/tiny-mlp`
(scripts/demo.sh starts a local hub and does exactly that).
"""

from __future__ import annotations

import sys
import tempfile

import torch
from torch import nn

from modelhub import PyTorchModelHubMixin


class TinyMLP(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="modelhub-quickstart",
    tags=["example"],
    license="apache-2.0",
):
    def __init__(self, in_features: int = 16, hidden: int = 32, out_features: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def main(repo_id: str) -> int:
    torch.manual_seed(0)
    model = TinyMLP(hidden=64)
    x = torch.randn(3, 16)
    expected = model(x)

    commit = model.push_to_hub(repo_id, commit_message="Add TinyMLP")
    print(f"pushed: {commit}")

    with tempfile.TemporaryDirectory() as cache_dir:
        loaded = TinyMLP.from_pretrained(repo_id, cache_dir=cache_dir)
    print(f"loaded config: hidden={loaded.net[0].out_features}")
    same = torch.equal(loaded(x), expected)
    print("outputs identical:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "demo/tiny-mlp"))
