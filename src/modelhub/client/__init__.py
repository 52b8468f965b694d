"""The modelhub client: repo API, downloads into the shared Hugging Face cache, commits and uploads.

Names are loaded lazily (PEP 562) so that ``modelhub`` (and its CLI) start without importing httpx until needed.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # api
    "HubApi": ".api",
    "HfApi": ".api",
    "whoami": ".api",
    "create_repo": ".api",
    "delete_repo": ".api",
    "update_repo_settings": ".api",
    "repo_info": ".api",
    "resolve_revision": ".api",
    "model_info": ".api",
    "dataset_info": ".api",
    "repo_exists": ".api",
    "revision_exists": ".api",
    "file_exists": ".api",
    "list_repo_files": ".api",
    "list_repo_tree": ".api",
    "list_repo_refs": ".api",
    "list_repo_commits": ".api",
    "create_branch": ".api",
    "delete_branch": ".api",
    "create_tag": ".api",
    "delete_tag": ".api",
    "get_repo_discussions": ".api",
    "create_pull_request": ".api",
    "merge_pull_request": ".api",
    "change_discussion_status": ".api",
    "create_commit": ".api",
    "upload_file": ".api",
    "upload_folder": ".api",
    "delete_file": ".api",
    "delete_folder": ".api",
    "get_full_repo_name": ".api",
    # values
    "CommitInfo": ".types",
    "RepoUrl": ".types",
    "RepoFile": ".types",
    "RepoFolder": ".types",
    "RepoInfo": ".types",
    "ModelInfo": ".types",
    "DatasetInfo": ".types",
    "SpaceInfo": ".types",
    "GitRefs": ".types",
    "GitRefInfo": ".types",
    "GitCommitInfo": ".types",
    "Discussion": ".types",
    # commit operations
    "CommitOperation": ".operations",
    "CommitOperationAdd": ".operations",
    "CommitOperationDelete": ".operations",
    "CommitOperationCopy": ".operations",
    # downloads and cache
    "hub_download": ".download",
    "hf_hub_download": ".download",
    "snapshot_download": ".download",
    "revision_scope": "._revisions",
    "ResolvedRevision": "._revisions",
    "scan_cache": ".cache_layout",
    "verify_cache": ".cache_layout",
    "hf_hub_url": ".download",
    "get_hf_file_metadata": ".download",
    "HfFileMetadata": ".download",
    "try_to_load_from_cache": ".download",
    "_CACHED_NO_EXIST": ".download",
    "scan_cache_dir": ".cache_info",
    "HFCacheInfo": ".cache_info",
    "CachedRepoInfo": ".cache_info",
    "CachedRevisionInfo": ".cache_info",
    "CachedFileInfo": ".cache_info",
    "DeleteCacheStrategy": ".cache_info",
    # patterns
    "filter_paths": ".patterns",
    # auth
    "login": "._login",
    "logout": "._login",
    "get_token": ".auth",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'modelhub.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
