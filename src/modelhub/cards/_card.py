"""Repo cards: a README.md made of YAML front matter (metadata) and a markdown body.

``load`` reads a local file, card text, or a repo's README.md through ``modelhub.client`` (imported lazily);
``validate`` and ``push_to_hub`` go through the client too. Line endings and key order of a loaded card are kept on
save; keys it did not have come after the original ones.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Self

from ..constants import REPOCARD_NAME
from ._data import CardData, DatasetCardData, ModelCardData, SpaceCardData
from ._frontmatter import find_front_matter, line_ending, load_metadata

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
DEFAULT_MODELCARD_TEMPLATE = TEMPLATES_DIR / "modelcard_template.md"
DEFAULT_DATASETCARD_TEMPLATE = TEMPLATES_DIR / "datasetcard_template.md"


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
        eol = line_ending(self._content) or "\n"
        yaml_text = self.data.to_yaml(line_break=eol, original_order=self._original_order)
        return f"---{eol}{yaml_text}{eol}---{eol}{self.text}"

    @content.setter
    def content(self, content: str) -> None:
        self._content = content
        block = find_front_matter(content)
        if block is not None:
            self.text = content[block.end :]
            opening_lines = content[: block.yaml_start].count("\n") or content[: block.yaml_start].count("\r")
            data = load_metadata(content[block.yaml_start : block.yaml_end], line_offset=opening_lines + 1)
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
    ) -> Self:
        """A card from a local file, from card text, or from a repo's README.md on the hub.

        A string holding a line break is the card's text. Otherwise an existing file (or the README.md of an
        existing directory) is read; otherwise the value must be a repo id (``alice/model``, or ``gpt2`` on
        huggingface.co), whose README.md (at ``revision``, in a ``repo_type`` repo, by default the card's kind)
        is fetched through the cache with ``modelhub.client.hub_download``.
        """
        if isinstance(repo_id_or_path, str) and ("\n" in repo_id_or_path or "\r" in repo_id_or_path):
            return cls(repo_id_or_path, ignore_metadata_errors=ignore_metadata_errors)
        path = Path(repo_id_or_path)
        if path.is_dir() and (path / REPOCARD_NAME).is_file():  # a folder written by save_pretrained
            path = path / REPOCARD_NAME
        if not path.is_file():
            from .._common.validation import is_valid_repo_id

            text = str(repo_id_or_path)
            if not isinstance(repo_id_or_path, str) or not is_valid_repo_id(text, allow_bare_name=True):
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

    def validate(self, repo_type: str | None = None) -> None:
        """Have the hub (``HF_ENDPOINT``) check this card's metadata; ValueError with its reasons if refused."""
        from ..client import HubApi

        HubApi().validate_yaml(str(self), repo_type=repo_type or self.repo_type)

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
        """Validate the card with the hub, then upload it as the repo's README.md in one commit.

        Returns the client's CommitInfo (a str: the commit URL; ``.pr_url`` with ``create_pr``). ``parent_commit``
        makes the commit fail if ``revision`` moved since (or opens the pull request from it).
        """
        from ..client import HubApi

        repo_type = repo_type or self.repo_type
        api = HubApi(token=token)
        api.validate_yaml(str(self), repo_type=repo_type, token=token)
        with tempfile.TemporaryDirectory(prefix="modelhub-card-") as tmp:
            card_path = Path(tmp) / REPOCARD_NAME
            self.save(card_path)
            return api.upload_file(
                path_or_fileobj=str(card_path),
                path_in_repo=REPOCARD_NAME,
                repo_id=repo_id,
                token=token,
                repo_type=repo_type,
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
    ) -> Self:
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
    """A model repo's README.md: ``ModelCardData`` metadata and a markdown body.

    ``from_template``'s default template names the library, links ``repo_url`` / ``paper_url`` / ``docs_url``
    when given, and fills the usual sections from variables such as ``model_summary``, ``developers``,
    ``direct_use``, ``training_data``, ``results_summary``, ``citation_bibtex``.
    """

    card_data_class = ModelCardData
    default_template_path = DEFAULT_MODELCARD_TEMPLATE
    repo_type = "model"


class DatasetCard(RepoCard):
    """A dataset repo's README.md: ``DatasetCardData`` metadata and a markdown body.

    ``from_template``'s default template fills its sections from variables such as ``pretty_name``,
    ``dataset_summary``, ``curators``, ``source_data``, ``direct_use``, ``out_of_scope_use``,
    ``dataset_structure``, ``bias_risks_limitations``, ``citation_bibtex``.
    """

    card_data_class = DatasetCardData
    default_template_path = DEFAULT_DATASETCARD_TEMPLATE
    repo_type = "dataset"


class SpaceCard(RepoCard):
    """A Space's README.md: its configuration (``SpaceCardData``: ``sdk``, ``app_file``...) and a body."""

    card_data_class = SpaceCardData
    default_template_path = DEFAULT_MODELCARD_TEMPLATE
    repo_type = "space"
