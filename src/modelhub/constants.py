"""File names, defaults and the environment variables of the Hugging Face ecosystem.

Environment variables are read when called, not at import, so that a process (or a test) may change them.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- file names ---------------------------------------------------------------------------------------------
CONFIG_NAME = "config.json"
REPOCARD_NAME = "README.md"
SAFETENSORS_SINGLE_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
SAFETENSORS_WEIGHTS_FILE_PATTERN = "model{suffix}.safetensors"
PYTORCH_WEIGHTS_NAME = "pytorch_model.bin"
PYTORCH_WEIGHTS_INDEX_FILE = "pytorch_model.bin.index.json"
PYTORCH_WEIGHTS_FILE_PATTERN = "pytorch_model{suffix}.bin"
DEFAULT_MAX_SHARD_SIZE = "5GB"
# other frameworks' weight file names, as upstream exports them (modelhub writes none of these)
TF2_WEIGHTS_NAME = "tf_model.h5"
TF_WEIGHTS_NAME = "model.ckpt"
FLAX_WEIGHTS_NAME = "flax_model.msgpack"

# --- repos ----------------------------------------------------------------------------------------------------
DEFAULT_REVISION = "main"
REPO_TYPE_MODEL = "model"
REPO_TYPE_DATASET = "dataset"
REPO_TYPE_SPACE = "space"
REPO_TYPES = (REPO_TYPE_MODEL, REPO_TYPE_DATASET, REPO_TYPE_SPACE)
# API paths: /api/{plural}/...
REPO_TYPES_API_PLURAL = {"model": "models", "dataset": "datasets", "space": "spaces"}
# web / resolve / LFS paths: /{prefix}{repo_id}/...
REPO_TYPES_URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}

DEFAULT_ENDPOINT = "https://huggingface.co"
HUGGINGFACE_CO_URL_HOME = "https://huggingface.co/"
HUGGINGFACE_CO_URL_TEMPLATE = "https://huggingface.co/{repo_id}/resolve/{revision}/{filename}"

_TRUE = {"1", "ON", "YES", "TRUE"}


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean environment variable, true for 1/ON/YES/TRUE in any case (the ecosystem's convention)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().upper() in _TRUE


def endpoint() -> str:
    """Base URL of the hub: ``HF_ENDPOINT`` without trailing slash, default huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hf_home() -> Path:
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface"


def hub_cache_dir() -> Path:
    """``HF_HUB_CACHE`` (legacy ``HUGGINGFACE_HUB_CACHE``), default ``$HF_HOME/hub``."""
    value = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    return Path(value).expanduser() if value else hf_home() / "hub"


def token_path() -> Path:
    value = os.environ.get("HF_TOKEN_PATH")
    return Path(value).expanduser() if value else hf_home() / "token"


def stored_tokens_path() -> Path:
    return token_path().parent / "stored_tokens"


def is_offline() -> bool:
    return env_flag("HF_HUB_OFFLINE") or env_flag("TRANSFORMERS_OFFLINE")


def progress_bars_disabled() -> bool:
    return env_flag("HF_HUB_DISABLE_PROGRESS_BARS")


def implicit_token_disabled() -> bool:
    return env_flag("HF_HUB_DISABLE_IMPLICIT_TOKEN")


def etag_timeout() -> float:
    return float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or 10)


def download_timeout() -> float:
    return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT") or 10)
