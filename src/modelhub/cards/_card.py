"""Repo cards: a README.md made of YAML front matter (metadata) and a markdown body.

``load`` reads a local file, card text, or a repo's README.md through ``modelhub.client`` (imported lazily);
``push_to_hub`` uploads one through the client. Line endings of a loaded card are kept on save.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from ..constants import REPOCARD_NAME
from ..errors import CardMetadataError
from ._data import CardData, ModelCardData

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
DEFAULT_MODELCARD_TEMPLATE = TEMPLATES_DIR / "modelcard_template.md"

# Front matter: optional leading blank space, a '---' line, the YAML, a closing '---' line (or end of text).
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\s\S]*?)((?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|\r|$))")


def _line_ending(text: str) -> str:
    for ending in ("\r\n", "\n", "\r"):
        if ending in text:
            return ending
    return "\n"


class RepoCard:
    """A card: ``data`` (a CardData) and ``text`` (the markdown body after the front matter)."""

    card_data_class: type[CardData] = CardData
    default_template_path: Path = DEFAULT_MODELCARD_TEMPLATE
    repo_type = "model"

    def __init__(self, content: str, ignore_metadata_errors: bool = False) -> None:
        self.ignore_metadata_errors = ignore_metadata_errors
        self.content = content

    @property
    def content(self) -> str:
        """The full card: front matter rendered from ``data`` (original key order kept) and the body."""
        eol = _line_ending(self._content)
        yaml_text = self.data.to_yaml(line_break=eol, original_order=self._original_order)
        return f"---{eol}{yaml_text}{eol}---{eol}{self.text}"

    @content.setter
    def content(self, content: str) -> None:
        import yaml

        self._content = content
        match = _FRONT_MATTER.search(content)
        if match:
            self.text = content[match.end() :]
            try:
                data = yaml.safe_load(match.group(2))
            except yaml.YAMLError as exc:
                where = ""
                mark = getattr(exc, "problem_mark", None)
                if mark is not None:  # +2: the opening '---' line, and 1-based numbering
                    where = f" at line {mark.line + 2}, column {mark.column + 1}"
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                raise CardMetadataError(
                    f"Invalid YAML in the card's metadata block{where}: {problem}. "
                    "Fix the YAML between the two '---' lines at the top of the card."
                ) from exc
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise CardMetadataError(
                    f"The card's metadata block must be a YAML mapping (key: value lines), not a "
                    f"{type(data).__name__}: {str(data)[:80]!r}."
                )
        else:
            logger.debug("No metadata block at the top of the card; starting with empty metadata.")
            data = {}
            self.text = content
        # YAML keys may be non-strings (e.g. `1: x`): metadata keys are strings on the Hub.
        data = {str(key): value for key, value in data.items()}
        self.data = self.card_data_class(**data, ignore_metadata_errors=self.ignore_metadata_errors)
        self._original_order = list(data)

    def __str__(self) -> str:
        return self.content

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data={self.data!r}, text={self.text[:40]!r}...)"

    def save(self, filepath: str | Path) -> None:
        """Write the card to ``filepath`` (parent directories created), line endings as loaded."""
        path = Path(filepath)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(str(self))

    @classmethod
    def load(
        cls,
        repo_id_or_path: str | Path,
        repo_type: str | None = None,
        token: str | bool | None = None,
        ignore_metadata_errors: bool = False,
        *,
        revision: str | None = None,
    ) -> RepoCard:
        """A card from a local file, from card text, or from a repo's README.md on the hub.

        A string holding a newline is taken as the card's text. Otherwise an existing file (or the README.md of an
        existing directory) is read; otherwise the value must be a repo id, whose README.md (at ``revision``) is fetched with ``modelhub.client.hub_download``.
        """
        if isinstance(repo_id_or_path, str) and ("\n" in repo_id_or_path or "\r" in repo_id_or_path):
            return cls(repo_id_or_path, ignore_metadata_errors=ignore_metadata_errors)
        path = Path(repo_id_or_path)
        if path.is_dir() and (path / REPOCARD_NAME).is_file():  # a folder written by save_pretrained
            path = path / REPOCARD_NAME
        if not path.is_file():
            from .._common.validation import is_valid_repo_id

            text = str(repo_id_or_path)
            if not isinstance(repo_id_or_path, str) or not is_valid_repo_id(text):
                raise FileNotFoundError(
                    f"Cannot load a card from {text!r}: it is not an existing file, and not a repo id like "
                    "'alice/my-model' either. Pass the path of a README.md, the card's text, or a repo id."
                )
            from ..client import hub_download

            path = Path(
                hub_download(
                    text, REPOCARD_NAME, repo_type=repo_type or cls.repo_type, token=token, revision=revision
                )
            )
        with open(path, encoding="utf-8-sig", newline="") as f:
            return cls(f.read(), ignore_metadata_errors=ignore_metadata_errors)

    def push_to_hub(
        self,
        repo_id: str,
        token: str | None = None,
        repo_type: str | None = None,
        commit_message: str | None = None,
        commit_description: str | None = None,
        revision: str | None = None,
        create_pr: bool | None = None,
        parent_commit: str | None = None,
    ) -> Any:
        """Upload this card as the repo's README.md in one commit; returns the client's CommitInfo."""
        from ..client import HubApi

        with tempfile.TemporaryDirectory(prefix="modelhub-card-") as tmp:
            card_path = Path(tmp) / REPOCARD_NAME
            self.save(card_path)
            return HubApi(token=token).upload_file(
                path_or_fileobj=str(card_path),
                path_in_repo=REPOCARD_NAME,
                repo_id=repo_id,
                token=token,
                repo_type=repo_type or self.repo_type,
                revision=revision,
                commit_message=commit_message or "Update README.md",
                commit_description=commit_description,
                create_pr=create_pr,
                parent_commit=parent_commit,
            )

    @classmethod
    def from_template(
        cls,
        card_data: CardData,
        template_path: str | Path | None = None,
        template_str: str | None = None,
        **template_kwargs: Any,
    ) -> RepoCard:
        """Render a jinja2 template into a card.

        The template sees ``card_data`` (the metadata as YAML), every metadata key, and ``template_kwargs`` (which
        win over metadata keys). ``template_path`` wins over ``template_str``; with neither, the default template.
        """
        import jinja2

        variables = card_data.to_dict()
        variables.update(template_kwargs)
        if template_path is not None:
            template_str = Path(template_path).read_text(encoding="utf-8")
        if template_str is None:
            template_str = Path(cls.default_template_path).read_text(encoding="utf-8")
        try:
            template = jinja2.Template(template_str, keep_trailing_newline=True)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"Invalid card template (line {exc.lineno}): {exc.message}") from exc
        variables.pop("card_data", None)
        return cls(template.render(card_data=card_data.to_yaml(), **variables))


class ModelCard(RepoCard):
    """A model repo's README.md: ``ModelCardData`` metadata and a markdown body."""

    card_data_class = ModelCardData
    default_template_path = DEFAULT_MODELCARD_TEMPLATE
    repo_type = "model"

    @classmethod
    # ignore: card_data narrows to ModelCardData (as in upstream's ModelCard), an LSP violation mypy flags
    def from_template(  # type: ignore[override]
        cls,
        card_data: ModelCardData,
        template_path: str | Path | None = None,
        template_str: str | None = None,
        **template_kwargs: Any,
    ) -> ModelCard:
        """Render a model card from ``card_data`` and a jinja2 template (the default one names the library,
        links ``repo_url`` / ``paper_url`` / ``docs_url`` when given, and fills the usual sections)."""
        card = super().from_template(card_data, template_path, template_str, **template_kwargs)
        assert isinstance(card, ModelCard)
        return card
