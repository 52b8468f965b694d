"""Model cards: README.md files with YAML metadata, rendered from jinja2 templates."""

from ._card import DEFAULT_MODELCARD_TEMPLATE, TEMPLATES_DIR, ModelCard, RepoCard
from ._data import CardData, ModelCardData

__all__ = [
    "DEFAULT_MODELCARD_TEMPLATE",
    "TEMPLATES_DIR",
    "CardData",
    "ModelCard",
    "ModelCardData",
    "RepoCard",
]
