"""Repo cards: README.md files with YAML metadata, rendered from jinja2 templates, with the upstream names."""

from ._card import (
    DEFAULT_DATASETCARD_TEMPLATE,
    DEFAULT_MODELCARD_TEMPLATE,
    TEMPLATES_DIR,
    DatasetCard,
    ModelCard,
    RepoCard,
    SpaceCard,
)
from ._data import (
    CardData,
    DatasetCardData,
    EvalResult,
    ModelCardData,
    SpaceCardData,
    eval_results_to_model_index,
    model_index_to_eval_results,
)
from ._eval_results import EvalResultEntry, eval_result_entries_to_yaml, parse_eval_result_entries
from ._metadata import metadata_eval_result, metadata_load, metadata_save, metadata_update

__all__ = [
    "DEFAULT_DATASETCARD_TEMPLATE",
    "DEFAULT_MODELCARD_TEMPLATE",
    "TEMPLATES_DIR",
    "CardData",
    "DatasetCard",
    "DatasetCardData",
    "EvalResult",
    "EvalResultEntry",
    "ModelCard",
    "ModelCardData",
    "RepoCard",
    "SpaceCard",
    "SpaceCardData",
    "eval_result_entries_to_yaml",
    "eval_results_to_model_index",
    "metadata_eval_result",
    "metadata_load",
    "metadata_save",
    "metadata_update",
    "model_index_to_eval_results",
    "parse_eval_result_entries",
]
