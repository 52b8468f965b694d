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
    # repo cards
    "RepoCard": ".cards",
    "ModelCard": ".cards",
    "DatasetCard": ".cards",
    "SpaceCard": ".cards",
    "CardData": ".cards",
    "ModelCardData": ".cards",
    "DatasetCardData": ".cards",
    "SpaceCardData": ".cards",
    "EvalResult": ".cards",
    "EvalResultEntry": ".cards",
    "eval_results_to_model_index": ".cards",
    "model_index_to_eval_results": ".cards",
    "eval_result_entries_to_yaml": ".cards",
    "parse_eval_result_entries": ".cards",
    "metadata_load": ".cards",
    "metadata_save": ".cards",
    "metadata_update": ".cards",
    "metadata_eval_result": ".cards",
    # torch serialization
    "save_torch_state_dict": ".serialization",
    "save_torch_model": ".serialization",
    "split_torch_state_dict_into_shards": ".serialization",
    "split_state_dict_into_shards_factory": ".serialization",
    "StateDictSplit": ".serialization",
    "load_torch_model": ".serialization",
    "load_state_dict_from_file": ".serialization",
    "get_torch_storage_id": ".serialization",
    "get_torch_storage_size": ".serialization",
    # constants
    "CONFIG_NAME": ".constants",
    "PYTORCH_WEIGHTS_NAME": ".constants",
    "TF2_WEIGHTS_NAME": ".constants",
    "TF_WEIGHTS_NAME": ".constants",
    "FLAX_WEIGHTS_NAME": ".constants",
    "HUGGINGFACE_CO_URL_HOME": ".constants",
    "HUGGINGFACE_CO_URL_TEMPLATE": ".constants",
    "REPO_TYPE_MODEL": ".constants",
    "REPO_TYPE_DATASET": ".constants",
    "REPO_TYPE_SPACE": ".constants",
}
# upstream's name -> (module, name there) where modelhub's own name differs
_ALIASES: dict[str, tuple[str, str]] = {
    "_save_pretrained_fastai": (".mixins.fastai", "save_pretrained_fastai"),
    "is_offline_mode": (".constants", "is_offline"),
}
_CLIENT = (  # the repo API, downloads and the cache, commit operations, values, login
    *("HubApi", "HfApi", "CommitInfo", "RepoUrl", "RepoFile", "RepoFolder", "ModelInfo", "DatasetInfo"),
    *("SpaceInfo", "GitRefs", "GitRefInfo", "GitCommitInfo", "Discussion"),
    *("CommitOperation", "CommitOperationAdd", "CommitOperationDelete", "CommitOperationCopy"),
    *("hub_download", "hf_hub_download", "snapshot_download", "hf_hub_url", "get_hf_file_metadata"),
    *("HfFileMetadata", "try_to_load_from_cache", "_CACHED_NO_EXIST", "scan_cache_dir", "HFCacheInfo"),
    *("CachedRepoInfo", "CachedRevisionInfo", "CachedFileInfo", "DeleteCacheStrategy"),
    *("create_repo", "delete_repo", "update_repo_settings", "repo_info", "model_info", "dataset_info"),
    *("resolve_revision", "ResolvedRevision"),
    *("repo_exists", "revision_exists", "file_exists", "list_repo_files", "list_repo_tree", "list_repo_refs"),
    *("list_repo_commits", "create_branch", "delete_branch", "create_tag", "delete_tag"),
    *("get_repo_discussions", "create_pull_request", "merge_pull_request", "change_discussion_status"),
    *("create_commit", "upload_file", "upload_folder", "delete_file", "delete_folder", "get_full_repo_name"),
    *("whoami", "login", "logout", "get_token"),
)
_ERRORS = (  # under upstream's names; all of modelhub.errors is importable from there as well
    *("HfHubHTTPError", "HFValidationError", "OfflineModeIsEnabled", "BadRequestError", "FileMetadataError"),
    *("RepositoryNotFoundError", "GatedRepoError", "DisabledRepoError", "RevisionNotFoundError"),
    *("EntryNotFoundError", "RemoteEntryNotFoundError", "LocalEntryNotFoundError", "IncompleteSnapshotError"),
    *("CacheNotFound", "CorruptedCacheException", "LocalTokenNotFoundError", "RevisionResolutionError"),
)
_EXPORTS.update(dict.fromkeys(_CLIENT, ".client"))
_EXPORTS.update(dict.fromkeys(_ERRORS, ".errors"))

__all__ = sorted([*_EXPORTS, *_ALIASES, "__version__", "errors"])


def __getattr__(name: str) -> Any:
    module_name, attribute = _ALIASES.get(name) or (_EXPORTS.get(name), name)
    if module_name is None:
        if name == "errors":
            return importlib.import_module(".errors", __name__)
        raise AttributeError(f"module 'modelhub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), attribute)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
