"""`import modelhub` is fast and framework-free; the generic mixin works with no ML framework installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


# Every name a user imports from huggingface_hub for what modelhub covers; each must come from modelhub itself.
UPSTREAM_NAMES = [
    "ModelHubMixin",
    "PyTorchModelHubMixin",
    "from_pretrained_fastai",
    "push_to_hub_fastai",
    "_save_pretrained_fastai",
    "RepoCard",
    "ModelCard",
    "DatasetCard",
    "SpaceCard",
    "CardData",
    "ModelCardData",
    "DatasetCardData",
    "SpaceCardData",
    "EvalResult",
    "EvalResultEntry",
    "eval_result_entries_to_yaml",
    "parse_eval_result_entries",
    "metadata_load",
    "metadata_save",
    "metadata_update",
    "metadata_eval_result",
    "save_torch_state_dict",
    "save_torch_model",
    "split_torch_state_dict_into_shards",
    "split_state_dict_into_shards_factory",
    "StateDictSplit",
    "load_torch_model",
    "load_state_dict_from_file",
    "get_torch_storage_id",
    "get_torch_storage_size",
    "hf_hub_download",
    "snapshot_download",
    "resolve_revision",
    "ResolvedRevision",
    "hf_hub_url",
    "get_hf_file_metadata",
    "HfFileMetadata",
    "try_to_load_from_cache",
    "_CACHED_NO_EXIST",
    "scan_cache_dir",
    "HFCacheInfo",
    "CachedRepoInfo",
    "CachedRevisionInfo",
    "CachedFileInfo",
    "DeleteCacheStrategy",
    "CacheNotFound",
    "CorruptedCacheException",
    "HfApi",
    "CommitInfo",
    "CommitOperation",
    "CommitOperationAdd",
    "CommitOperationDelete",
    "CommitOperationCopy",
    "RepoUrl",
    "RepoFile",
    "RepoFolder",
    "ModelInfo",
    "DatasetInfo",
    "SpaceInfo",
    "GitRefs",
    "GitRefInfo",
    "GitCommitInfo",
    "Discussion",
    "create_repo",
    "delete_repo",
    "update_repo_settings",
    "repo_info",
    "model_info",
    "dataset_info",
    "repo_exists",
    "revision_exists",
    "file_exists",
    "list_repo_files",
    "list_repo_tree",
    "list_repo_refs",
    "list_repo_commits",
    "create_branch",
    "delete_branch",
    "create_tag",
    "delete_tag",
    "get_repo_discussions",
    "create_pull_request",
    "merge_pull_request",
    "change_discussion_status",
    "create_commit",
    "upload_file",
    "upload_folder",
    "delete_file",
    "delete_folder",
    "get_full_repo_name",
    "whoami",
    "login",
    "logout",
    "get_token",
    "is_offline_mode",
    "CONFIG_NAME",
    "PYTORCH_WEIGHTS_NAME",
    "TF2_WEIGHTS_NAME",
    "TF_WEIGHTS_NAME",
    "FLAX_WEIGHTS_NAME",
    "HUGGINGFACE_CO_URL_HOME",
    "HUGGINGFACE_CO_URL_TEMPLATE",
    "REPO_TYPE_MODEL",
    "REPO_TYPE_DATASET",
    "REPO_TYPE_SPACE",
]
# the errors, from huggingface_hub.errors / huggingface_hub.utils
UPSTREAM_ERRORS = [
    "HfHubHTTPError",
    "HFValidationError",
    "OfflineModeIsEnabled",
    "BadRequestError",
    "FileMetadataError",
    "RepositoryNotFoundError",
    "GatedRepoError",
    "DisabledRepoError",
    "RevisionNotFoundError",
    "EntryNotFoundError",
    "RemoteEntryNotFoundError",
    "LocalEntryNotFoundError",
    "IncompleteSnapshotError",
    "CacheNotFound",
    "CorruptedCacheException",
    "LocalTokenNotFoundError",
    "RevisionResolutionError",
]
# modelhub's own additions
OWN_NAMES = [
    "HubApi",
    "hub_download",
    "KerasModelHubMixin",
    "save_pretrained_keras",
    "from_pretrained_keras",
    "push_to_hub_keras",
    "save_pretrained_fastai",
    "eval_results_to_model_index",
    "model_index_to_eval_results",
]


def test_every_upstream_name_imports_from_modelhub() -> None:
    code = f"""
        import modelhub, modelhub.errors
        for name in {UPSTREAM_NAMES + UPSTREAM_ERRORS + OWN_NAMES!r}:
            exec(f"from modelhub import {{name}}")  # with no ML framework installed
            assert name in modelhub.__all__, name
        for name in {UPSTREAM_ERRORS!r}:
            assert getattr(modelhub.errors, name) is getattr(modelhub, name), name
        print("ok", len(modelhub.__all__))
    """
    out = _run(BLOCKER + textwrap.dedent(code))
    assert out.startswith("ok")


# What huggingface_hub's modules for modelhub's scope export, and modelhub leaves out (docs/mixins.md says why)
OUT_OF_SCOPE = {
    "DryRunFileInfo",
    "get_cached_repo_tree",
    "CachedIncompleteFileInfo",
    "notebook_login",
    "interpreter_login",
    "auth_list",
    "auth_switch",
    "cached_assets_path",
    "dump_environment_info",
    "get_session",
    "get_async_session",
    "close_session",
    "set_client_factory",
    "set_async_client_factory",
    "CLIENT_FACTORY_T",
    "ASYNC_CLIENT_FACTORY_T",
    "hf_raise_for_status",
    "logging",
    "HfUri",
    "parse_hf_uri",
}
IN_SCOPE_MODULES = (
    "hub_mixin",
    "repocard",
    "repocard_data",
    "_eval_results",
    "fastai_utils",
    "serialization",
    "file_download",
    "_snapshot_download",
    "_revision",
    "_commit_api",
    "utils",
    "_login",
    "constants",
)


@pytest.mark.interop
def test_upstream_scope_is_covered_and_the_rest_documented() -> None:
    import huggingface_hub

    import modelhub

    upstream = {n for m in IN_SCOPE_MODULES for n in huggingface_hub._SUBMOD_ATTRS.get(m, ())}
    assert upstream - set(modelhub.__all__) - OUT_OF_SCOPE == set()
    assert set(UPSTREAM_NAMES) <= set(huggingface_hub.__all__) | {"_save_pretrained_fastai"}
    docs = (Path(__file__).parents[1] / "docs" / "mixins.md").read_text()
    assert [n for n in sorted(OUT_OF_SCOPE) if f"`{n}`" not in docs] == []


# huggingface_hub.errors classes of the features modelhub leaves out (docs/mixins.md names each)
OUT_OF_SCOPE_ERRORS = {
    *("BucketBatchError", "BucketNotFoundError", "CLIError", "CLIExtensionInstallError", "ConfirmationError"),
    *("CachedRepoTreeNotFoundError", "DryRunError", "FileDuplicationError", "HfUriError", "JobNotFoundError"),
    *("DDUFCorruptedFileError", "DDUFError", "DDUFExportError", "DDUFInvalidEntryNameError"),
    *("DeviceCodeError", "OIDCError", "SandboxCommandError", "SandboxError"),
    *("NotASafetensorsRepoError", "SafetensorsParsingError", "XetDownloadError"),
    *(
        "InferenceEndpointError",
        "InferenceEndpointTimeoutError",
        "InferenceTimeoutError",
        "TextGenerationError",
    ),
    *("GenerationError", "IncompleteGenerationError", "OverloadedError", "UnknownError", "ValidationError"),
    *("StrictDataclassError", "StrictDataclassClassValidationError", "StrictDataclassDefinitionError"),
    "StrictDataclassFieldValidationError",
}


@pytest.mark.interop
def test_every_upstream_error_is_ours_or_documented_out_of_scope() -> None:
    import inspect

    import huggingface_hub.errors

    import modelhub.errors

    theirs = {
        name
        for name, value in vars(huggingface_hub.errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == huggingface_hub.errors.__name__
    }
    assert theirs - set(modelhub.errors.__all__) - OUT_OF_SCOPE_ERRORS == set()
    assert theirs >= OUT_OF_SCOPE_ERRORS  # the list names real upstream classes only
    assert OUT_OF_SCOPE_ERRORS.isdisjoint(modelhub.errors.__all__)
    docs = (Path(__file__).parents[1] / "docs" / "mixins.md").read_text()
    assert [n for n in sorted(OUT_OF_SCOPE_ERRORS) if f"`{n}`" not in docs] == []
