"""`import modelhub` is fast and framework-free; the generic mixin works with no ML framework installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FRAMEWORKS = ("torch", "keras", "tensorflow", "tf_keras", "fastai", "safetensors", "numpy", "jax", "h5py")

# Makes every framework import fail, as on a machine where none is installed.
BLOCKER = f"""
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {FRAMEWORKS!r}:
            raise ImportError(f"blocked for the test: {{name}}")
        return None
sys.meta_path.insert(0, _Block())
"""


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_import_is_fast_and_imports_no_framework() -> None:
    code = """
        import json, sys, time
        start = time.perf_counter()
        import modelhub
        seconds = time.perf_counter() - start
        print(json.dumps({"seconds": seconds, "modules": sorted(sys.modules)}))
    """
    runs = [json.loads(_run(code)) for _ in range(3)]
    best = min(run["seconds"] for run in runs)
    assert best < 0.3, f"import modelhub took {best:.3f}s"
    loaded = {name.split(".")[0] for name in runs[0]["modules"]}
    assert not loaded & set(FRAMEWORKS), loaded & set(FRAMEWORKS)
    assert not loaded & {"httpx", "jinja2", "yaml", "fastapi", "sqlalchemy"}


def test_mixin_names_resolve_without_importing_torch() -> None:
    out = _run(
        """
        import sys
        from modelhub import ModelHubMixin, PyTorchModelHubMixin, ModelCard
        import modelhub.serialization
        print(sorted(m for m in ("torch", "safetensors", "numpy") if m in sys.modules))
        """
    )
    assert out == "[]"


def test_generic_mixin_works_with_no_framework_installed(tmp_path) -> None:
    out = _run(
        BLOCKER
        + f"""
import json, pathlib
from modelhub import ModelHubMixin, ModelCard

class Model(ModelHubMixin, library_name="plain", tags=["no-framework"]):
    def __init__(self, size: int = 2):
        self.size = size
    def _save_pretrained(self, save_directory):
        (save_directory / "weights.txt").write_text(str(self.size * 10))
    @classmethod
    def _from_pretrained(cls, *, model_id, **kwargs):
        kwargs = {{k: v for k, v in kwargs.items() if k == "size"}}
        model = cls(**kwargs)
        model.weights = (pathlib.Path(model_id) / "weights.txt").read_text()
        return model

Model(size=5).save_pretrained({str(tmp_path)!r})
loaded = Model.from_pretrained({str(tmp_path)!r})
card = ModelCard.load({str(tmp_path / "README.md")!r})
try:
    import torch
except ImportError:
    blocked = True
print(json.dumps([loaded.size, loaded.weights, card.data.tags, blocked]))
"""
    )
    assert json.loads(out) == [5, "50", ["model_hub_mixin", "no-framework"], True]


def test_pytorch_mixin_without_torch_names_the_missing_extra() -> None:
    out = _run(
        BLOCKER
        + """
from modelhub import PyTorchModelHubMixin
class Net(PyTorchModelHubMixin):
    pass
try:
    Net.from_pretrained(".")
except ImportError as exc:
    print(str(exc))
"""
    )
    assert "torch" in out and "modelhub[torch]" in out
