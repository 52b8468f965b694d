"""The mixins' only door to the hub: thin calls into ``modelhub.client`` (imported lazily, inside functions).

Keeping these here means the mixins never build URLs or talk HTTP, and ``import modelhub.mixins`` stays light.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import HFValidationError

logger = logging.getLogger(__name__)


def check_model_id(model_id: str) -> None:
    """Raise a clear error when ``model_id`` is neither an existing directory nor a valid repo id."""
    from .._common.validation import validate_repo_id

    if os.path.isdir(model_id):
        return
    if os.path.exists(model_id):
        raise HFValidationError(
            f"{model_id!r} is a file, but from_pretrained expects a directory written by save_pretrained "
            "(holding config.json and the weights) or a repo id like 'alice/my-model'."
        )
    try:
        validate_repo_id(model_id, allow_bare_name=True)
    except HFValidationError as exc:
        raise HFValidationError(
            f"Cannot load {model_id!r}: it is not an existing local directory, and not a valid repo id "
            f"({exc}). Pass the directory given to save_pretrained, or a repo id like 'alice/my-model'."
        ) from None


def split_revision(name: str, revision: str | None) -> tuple[str, str | None]:
    """``'alice/model@v1'`` -> (``'alice/model'``, ``'v1'``), the seed pages' ``repo_id@revision`` form.

    A ``revision`` argument that disagrees with the suffix is an error, as is a bare trailing ``@``.
    """
    repo_id, sep, suffix = name.partition("@")
    if not sep:
        return name, revision
    if not suffix:
        raise ValueError(
            f"{name!r} ends with '@' but names no revision: use 'namespace/name@branch-tag-or-commit'."
        )
    if revision is not None and revision != suffix:
        raise ValueError(
            f"Two different revisions given: {suffix!r} in {name!r} and revision={revision!r}; give only one."
        )
    return repo_id, suffix


def hub_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    force_download: bool = False,
    proxies: dict | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> str:
    """Local path of ``filename`` from the repo (downloaded into the cache if needed)."""
    from ..client import hub_download

    return hub_download(
        repo_id,
        filename,
        revision=revision,
        cache_dir=cache_dir,
        force_download=force_download,
        proxies=proxies,
        token=token,
        local_files_only=local_files_only,
    )


def hub_file_or_none(repo_id: str, filename: str, **kwargs: Any) -> str | None:
    """Like :func:`hub_file`, but ``None`` when the repo has no such file (or it is not cached, offline)."""
    from ..errors import EntryNotFoundError

    try:
        return hub_file(repo_id, filename, **kwargs)
    except EntryNotFoundError as exc:
        logger.debug("%s not found for %s: %s", filename, repo_id, exc)
        return None


def push_folder(
    folder_writer: Callable[[Path], None],
    repo_id: str,
    *,
    commit_message: str,
    private: bool | None = None,
    token: str | bool | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    delete_patterns: list[str] | str | None = None,
    endpoint: str | None = None,
    library_name: str | None = None,
    library_version: str | None = None,
    before_upload: Callable[[Any, str, Path], None] | None = None,
) -> Any:
    """Let ``folder_writer(path)`` fill a temporary folder, then create the repo if needed and upload the folder
    in one commit. Returns the client's ``CommitInfo``.

    The folder is written first: a model that fails to save raises before any network call, and leaves no empty
    repo behind. ``branch`` (other than ``main``) is created from the default branch when it does not exist yet;
    with ``create_pr`` the pull request is opened against it. ``before_upload(api, repo_id, folder)`` may adjust
    the folder once the repo exists (e.g. to keep a model card already on the hub).
    """
    import tempfile

    from .._common.validation import validate_repo_id, validate_revision
    from ..client import HubApi

    validate_repo_id(repo_id, allow_bare_name=True)
    if branch is not None:
        validate_revision(branch)
    with tempfile.TemporaryDirectory(prefix="modelhub-push-") as tmp:
        folder = Path(tmp) / repo_id.split("/")[-1]
        folder_writer(folder)
        api = HubApi(
            endpoint=endpoint, token=token, library_name=library_name, library_version=library_version
        )
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        repo_id = getattr(repo_url, "repo_id", None) or repo_id
        if branch and branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        if before_upload is not None:
            before_upload(api, repo_id, folder)
        return api.upload_folder(
            repo_id=repo_id,
            repo_type="model",
            folder_path=folder,
            commit_message=commit_message,
            revision=branch,
            create_pr=create_pr,
            allow_patterns=allow_patterns,
            ignore_patterns=ignore_patterns,
            delete_patterns=delete_patterns,
        )
