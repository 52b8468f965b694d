"""Share fastai ``Learner`` objects on a hub: ``push_to_hub_fastai``, ``from_pretrained_fastai`` and the local
``save_pretrained_fastai``.

A repo holds ``model.pkl`` (``Learner.export``: the whole learner, pickled), ``pyproject.toml`` (the Python,
fastai and fastcore versions that wrote it), a model card tagged ``fastai`` and, if given, ``config.json``.

Loading a pickle runs code named by the file, so loading from a hub is an explicit choice: ``trust_pickle=True``
or ``MODELHUB_TRUST_REMOTE_PICKLE=1``. A local directory (which the user saved, or chose to copy there) loads
without it. fastai is imported inside the functions only: ``import modelhub`` never pays for it.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import constants
from .._common.validation import validate_repo_id, validate_revision
from ..errors import CorruptedCheckpointError, EntryNotFoundError, UntrustedPickleError
from ._fastai_card import write_model_card
from ._fastai_versions import (
    FASTAI_MIN_VERSION,
    FASTCORE_MIN_VERSION,
    PYPROJECT_NAME,
    check_installed_versions,
    check_recorded_versions,
    installed_version,
    pyproject_text,
)
from ._hub import push_folder, split_revision

if TYPE_CHECKING:
    from ..client import CommitInfo, HubApi

logger = logging.getLogger(__name__)

__all__ = [
    "FASTAI_MIN_VERSION",
    "FASTCORE_MIN_VERSION",
    "TRUST_PICKLE_ENV",
    "UntrustedPickleError",
    "from_pretrained_fastai",
    "push_to_hub_fastai",
    "save_pretrained_fastai",
]

MODEL_FILE = "model.pkl"
TRUST_PICKLE_ENV = "MODELHUB_TRUST_REMOTE_PICKLE"
# Protocol 4 is read by every Python >= 3.4; the default (5 on newer Pythons) would shut older loaders out.
PICKLE_PROTOCOL = 4
DEFAULT_COMMIT_MESSAGE = "Push FastAI model using huggingface_hub."


# --- saving ---------------------------------------------------------------------------------------------------
def _check_config(config: Any) -> str | None:
    """The JSON text of ``config`` (None if no config), checked before anything is written."""
    if config is None:
        return None
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (it is saved as config.json), not {type(config).__name__}.")
    try:
        return json.dumps(config, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"config cannot be saved as JSON: {err}. Use only str, numbers, bools, lists and dicts."
        ) from err


def _unpicklable_message(err: BaseException) -> str:
    return (
        f"This Learner cannot be pickled, so it cannot be exported to {MODEL_FILE}: {err}. "
        "Usually a lambda, or a function defined inside another function, is part of it (a DataBlock's get_x, "
        "get_y, get_items or splitter, a transform, the loss function, a metric or a callback). pickle saves "
        "functions by their importable name, and those have none. Define the function at the top level of a "
        "module (`def get_y(row): ...`) and use that name, or functools.partial(named_function, ...) to bind "
        "arguments, then save or push again. The learner is unchanged; nothing was written or uploaded."
    )


def _export_learner(learner: Any, target: Path) -> None:
    """``learner.export`` to ``target`` with the standard pickle module, atomically.

    Standard pickle, not fastai's default cloudpickle: cloudpickle embeds lambdas' bytecode, which loads only
    on the same Python minor version, and the file would need cloudpickle to load. ``Learner.export`` empties the
    learner's data and optimizer while it pickles and leaves them empty if pickling fails, so both are put back
    here; the file is written under a temporary name and renamed, so a failure never clobbers an existing file.
    """
    if not hasattr(learner, "export") or not hasattr(learner, "dls"):
        raise TypeError(f"Expected a fastai Learner, got {type(learner).__name__}.")
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    saved_dls, saved_opt = learner.dls, getattr(learner, "opt", None)
    try:
        # An absolute fname wins over learner.path in `learner.path / fname`: the learner's path is left alone.
        learner.export(tmp.resolve(), pickle_module=pickle, pickle_protocol=PICKLE_PROTOCOL)
    except (pickle.PicklingError, AttributeError, TypeError) as err:
        learner.dls, learner.opt = saved_dls, saved_opt
        tmp.unlink(missing_ok=True)
        if isinstance(err, pickle.PicklingError) or "pickle" in str(err).lower():
            raise pickle.PicklingError(_unpicklable_message(err)) from err
        raise
    except BaseException:
        learner.dls, learner.opt = saved_dls, saved_opt
        tmp.unlink(missing_ok=True)
        raise
    if not tmp.is_file():  # Learner.export does nothing in a non-main process of distributed training
        raise RuntimeError(
            "Learner.export wrote no file (it skips non-main processes of distributed training); "
            "save or push the learner from the main process (rank 0)."
        )
    os.replace(tmp, target)


def _refuse_foreign_pyproject(folder: Path) -> None:
    """A pyproject.toml that is not a model's version record (a project's own?) must not be overwritten."""
    path = folder / PYPROJECT_NAME
    if path.exists() and "fastai" not in path.read_text(encoding="utf-8", errors="replace"):
        raise FileExistsError(
            f"{path} exists and is not a fastai model's version record; refusing to overwrite it. "
            "Save the learner into a directory of its own."
        )


def _save_folder(learner: Any, folder: Path, config_text: str | None, *, with_card: bool) -> None:
    fastai_version, fastcore_version = check_installed_versions()
    folder.mkdir(parents=True, exist_ok=True)
    _refuse_foreign_pyproject(folder)
    # model.pkl first: if the export fails, the directory's files (version record included) stay as they were.
    _export_learner(learner, folder / MODEL_FILE)
    (folder / PYPROJECT_NAME).write_text(
        pyproject_text(None, fastai_version, fastcore_version), encoding="utf-8"
    )
    if config_text is not None:
        (folder / constants.CONFIG_NAME).write_text(config_text + "\n", encoding="utf-8")
    if with_card:
        write_model_card(folder)


def save_pretrained_fastai(
    learner: Any, save_directory: str | os.PathLike[str], config: dict | None = None
) -> Path:
    """Save ``learner`` into ``save_directory``: model.pkl, pyproject.toml, a model card, config.json if given.

    An existing README.md is kept. A learner that cannot be pickled (a lambda in its pipeline) raises
    ``pickle.PicklingError`` saying how to fix it, and leaves the learner and the directory as they were.
    Returns the directory.
    """
    config_text = _check_config(config)
    folder = Path(save_directory)
    _save_folder(learner, folder, config_text, with_card=True)
    return folder


def _repo_keeps_card(
    api: HubApi, repo_id: str, revision: str | None, delete_patterns: list[str] | str | None
) -> bool:
    """Whether the repo has a model card that this commit leaves in place (then ours is not uploaded)."""
    from ..client.patterns import matches_any, normalize_patterns

    if constants.REPOCARD_NAME not in api.list_repo_files(repo_id, revision=revision):
        return False
    deleted = normalize_patterns(delete_patterns)
    return not (deleted and matches_any(constants.REPOCARD_NAME, deleted))


def push_to_hub_fastai(
    learner: Any,
    *,
    repo_id: str,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    private: bool | None = None,
    token: str | bool | None = None,
    config: dict | None = None,
    branch: str | None = None,
    create_pr: bool | None = None,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    delete_patterns: list[str] | str | None = None,
    api_endpoint: str | None = None,
) -> CommitInfo:
    """Export ``learner`` and upload it to ``repo_id`` in one commit; return the commit URL (a ``CommitInfo``).

    The repo is created if needed (``private`` applies then). ``branch`` is created from the default branch if it
    does not exist; with ``create_pr`` the commit opens a pull request against it instead. ``allow_patterns`` /
    ``ignore_patterns`` filter the uploaded files, ``delete_patterns`` removes remote files in the same commit.
    ``api_endpoint`` overrides ``HF_ENDPOINT``. An existing model card in the repo is never replaced.

    The learner is exported before any network call: one that cannot be pickled raises ``pickle.PicklingError``
    with the fix, and creates no repo.
    """
    config_text = _check_config(config)

    def write(folder: Path) -> None:
        _save_folder(learner, folder, config_text, with_card=False)

    def add_card_unless_kept(api: HubApi, repo_id: str, folder: Path) -> None:
        if not _repo_keeps_card(api, repo_id, branch, delete_patterns):
            write_model_card(folder, repo_id)

    commit = push_folder(
        write,
        repo_id,
        commit_message=commit_message,
        private=private,
        token=token,
        branch=branch,
        create_pr=create_pr,
        allow_patterns=allow_patterns,
        ignore_patterns=ignore_patterns,
        delete_patterns=delete_patterns,
        endpoint=api_endpoint,
        library_name="fastai",
        library_version=installed_version("fastai"),
        before_upload=add_card_unless_kept,
    )
    logger.info("Pushed fastai learner to %s: %s", repo_id, commit)
    return commit


# --- loading --------------------------------------------------------------------------------------------------
def _trusted(trust_pickle: bool | None) -> bool:
    """An explicit argument wins; otherwise the environment variable decides (for scripts)."""
    return trust_pickle if trust_pickle is not None else constants.env_flag(TRUST_PICKLE_ENV)


def _refuse_untrusted(repo_id: str, revision: str | None, trust_pickle: bool | None) -> None:
    at = f"@{revision}" if revision else ""
    how = (
        "trust_pickle=False was passed"
        if trust_pickle is False
        else f"neither trust_pickle=True was passed nor {TRUST_PICKLE_ENV}=1 is set"
    )
    raise UntrustedPickleError(
        f"Refusing to load {repo_id}{at}: its {MODEL_FILE} is a pickle, and unpickling runs whatever code the file "
        "names, with your permissions; whoever can write to that repo decides what runs on your machine "
        f"({how}). If you trust the repo's authors, call from_pretrained_fastai({repo_id + at!r}, "
        f"trust_pickle=True), or set {TRUST_PICKLE_ENV}=1 in a script's environment. Pin a commit id "
        f"('{repo_id}@<commit>') to load exactly the files you reviewed. Directories you saved yourself load "
        "without this."
    )


def _looks_like_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1


def _corrupted(source: str, detail: str) -> CorruptedCheckpointError:
    return CorruptedCheckpointError(
        f"{MODEL_FILE} in {source} cannot be read ({detail}): the file is truncated or was not written by "
        "Learner.export. If it came from a hub repo, download it again with force_download=True; otherwise "
        "export the learner again."
    )


def _load_learner_file(model_path: Path, source: str) -> Any:
    import zipfile

    from fastai.learner import load_learner

    # torch.save writes a zip archive (a bare pickle before torch 1.6): anything else is damaged, and torch
    # would only say "Invalid argument".
    with open(model_path, "rb") as f:
        head = f.read(2)
    if not zipfile.is_zipfile(model_path) and not head.startswith(b"\x80"):
        raise _corrupted(source, "neither a zip archive nor a pickle")

    with warnings.catch_warnings():
        # fastai warns on every load that pickles run code; the trust gate above has already made that choice.
        warnings.filterwarnings("ignore", message="load_learner` uses Python's insecure pickle")
        try:
            return load_learner(model_path, cpu=True)
        except (pickle.UnpicklingError, EOFError) as err:
            raise _corrupted(source, f"{type(err).__name__}: {err}") from err
        except UnboundLocalError as err:
            # fastai 2.8 swallows an ImportError raised while unpickling and then fails on an unset variable:
            # unpickle once more (already trusted) to surface the module that is missing.
            import torch

            try:
                torch.load(model_path, map_location="cpu", weights_only=False)
            except ImportError as missing:
                raise ImportError(
                    f"The learner in {source} needs the module {missing.name!r}, which cannot be imported here "
                    f"({missing}). Install it, or make the module that defined the learner's functions importable."
                ) from missing
            raise err


def from_pretrained_fastai(
    repo_id: str | os.PathLike[str],
    revision: str | None = None,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    trust_pickle: bool | None = None,
) -> Any:
    """Load a fastai ``Learner`` from a local directory, a repo id, or ``'repo_id@revision'``.

    ``revision`` (or the part after ``@``) is a branch, tag, commit id or ``refs/pr/N``. Before unpickling, the
    fastai/fastcore versions recorded in ``pyproject.toml`` are checked: older than the supported minimum is an
    ImportError naming both versions; no record is a warning.

    Loading from a hub needs ``trust_pickle=True`` or ``MODELHUB_TRUST_REMOTE_PICKLE=1`` (unpickling runs code
    from the repo; an explicit ``trust_pickle=False`` refuses even when the variable is set). A local directory
    loads without it.
    """
    check_installed_versions()
    local: Path | None = None
    if isinstance(repo_id, os.PathLike) or os.path.isdir(repo_id):
        local = Path(repo_id)
        if not local.is_dir():
            raise FileNotFoundError(f"{local} is not a directory holding a saved fastai learner.")
        if revision is not None:
            raise ValueError(
                f"revision={revision!r} was given, but {str(repo_id)!r} is a local directory, not a repo."
            )
        folder, source = local, f"the directory {local}"
    else:
        if not isinstance(repo_id, str):
            raise TypeError(f"repo_id must be a repo id or a directory, not {type(repo_id).__name__}.")
        if os.path.isfile(repo_id):
            raise ValueError(
                f"{repo_id!r} is a file; pass the directory that holds {MODEL_FILE} and pyproject.toml instead."
            )
        name, revision = split_revision(repo_id, revision)
        if _looks_like_path(name) and not os.path.exists(name):
            raise FileNotFoundError(f"{name!r} looks like a path, but there is no such directory.")
        validate_repo_id(name, allow_bare_name=True)
        if revision is not None:
            validate_revision(revision)
        if not _trusted(trust_pickle):
            _refuse_untrusted(name, revision, trust_pickle)
        from ..client import snapshot_download

        folder = Path(
            snapshot_download(
                name,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
                allow_patterns=[MODEL_FILE, PYPROJECT_NAME, constants.CONFIG_NAME],
            )
        )
        source = f"{name!r} at revision {revision or constants.DEFAULT_REVISION!r}"
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        message = (
            f"There is no {MODEL_FILE} in {source}: it does not hold a learner saved by push_to_hub_fastai."
        )
        raise FileNotFoundError(message) if local is not None else EntryNotFoundError(message)
    check_recorded_versions(folder, source=source)
    return _load_learner_file(model_path, source)
