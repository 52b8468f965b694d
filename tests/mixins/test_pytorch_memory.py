"""Lean loading holds one copy of the weights: peak RSS of a load, measured in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")

pytestmark = [pytest.mark.torch, pytest.mark.slow]

SCRIPT = """
import json, os, sys
import torch.nn as nn
from modelhub import PyTorchModelHubMixin

class Wide(nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 2048, layers: int = 8):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def peak():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset VmHWM: measure the load, not the imports
before = rss()
model = Wide.from_pretrained(sys.argv[1])
weights = sum(p.numel() * p.element_size() for p in model.parameters())
print(json.dumps({"increase": peak() - before, "weights": weights}))
"""


def test_load_peak_rss_stays_near_the_weights_size(tmp_path: Path) -> None:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to measure peak RSS")
    import torch.nn as nn

    from modelhub import PyTorchModelHubMixin

    class Wide(nn.Module, PyTorchModelHubMixin):  # same architecture as in SCRIPT
        def __init__(self, width: int = 2048, layers: int = 8) -> None:
            super().__init__()
            self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])

    Wide().save_pretrained(tmp_path / "model")
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "model")], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["weights"] > 100 * 2**20
    # one copy of the weights (plus small change); a state-dict-then-copy load would need about 2x
    assert result["increase"] < 1.3 * result["weights"], result
