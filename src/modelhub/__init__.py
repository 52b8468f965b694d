"""modelhub: save, share and load machine-learning models.

Public names are loaded lazily (PEP 562) so that ``import modelhub`` is fast and needs no ML framework.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__ as __version__

# public name -> module (relative to this package) that defines it
_EXPORTS: dict[str, str] = {
    # mixins
    "ModelHubMixin": ".mixins.base",
    "PyTorchModelHubMixin": ".mixins.pytorch",
    "KerasModelHubMixin": ".mixins.keras",
    "save_pretrained_keras": ".mixins.keras",
    "from_pretrained_keras": ".mixins.keras",
    "push_to_hub_keras": ".mixins.keras",
    "push_to_hub_fastai": ".mixins.fastai",
    "from_pretrained_fastai": ".mixins.fastai",
    "save_pretrained_fastai": ".mixins.fastai",
    # model cards
    "ModelCard": ".cards",
    "ModelCardData": ".cards",
    # torch serialization
    "save_torch_state_dict": ".serialization",
    "save_torch_model": ".serialization",
    "split_torch_state_dict_into_shards": ".serialization",
    "load_torch_model": ".serialization",
    "load_state_dict_from_file": ".serialization",
    "get_torch_storage_id": ".serialization",
    "get_torch_storage_size": ".serialization",
    # client
    "HubApi": ".client",
    "HfApi": ".client",
    "CommitInfo": ".client",
    "CommitOperationAdd": ".client",
    "CommitOperationDelete": ".client",
    "CommitOperationCopy": ".client",
    "RepoUrl": ".client",
    "hub_download": ".client",
    "hf_hub_download": ".client",
    "snapshot_download": ".client",
    "create_repo": ".client",
    "delete_repo": ".client",
    "repo_info": ".client",
    "model_info": ".client",
    "list_repo_files": ".client",
    "list_repo_tree": ".client",
    "list_repo_refs": ".client",
    "list_repo_commits": ".client",
    "create_branch": ".client",
    "create_tag": ".client",
    "create_commit": ".client",
    "upload_file": ".client",
    "upload_folder": ".client",
    "whoami": ".client",
    "login": ".client",
    "logout": ".client",
    "get_token": ".client",
}

__all__ = sorted([*_EXPORTS, "__version__", "errors"])


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        if name == "errors":
            return importlib.import_module(".errors", __name__)
        raise AttributeError(f"module 'modelhub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
