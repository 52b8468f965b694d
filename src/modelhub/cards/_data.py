"""Card metadata: the YAML front matter of a README.md, as a dict-like object.

Known keys are attributes with ``None`` defaults; every other key the YAML holds is kept as-is (attribute or, for
keys such as ``model-index`` that are not identifiers, a dict entry) so that load -> save never loses metadata.
"""

from __future__ import annotations

import copy
from typing import Any


def _unique_list(values: str | list[str] | None) -> list[str] | None:
    """A list without duplicates, order kept; a lone string becomes a one-item list."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def dump_yaml(data: dict[str, Any], line_break: str | None = None) -> str:
    """YAML text for a metadata mapping: keys in the given order, unicode kept readable."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, line_break=line_break).strip()


class CardData:
    """Metadata of a repo card. Behaves like a small dict (``get``, ``pop``, ``[]``, ``in``, ``len``).

    ``to_dict`` drops ``None`` values; ``to_yaml`` renders what goes between the ``---`` lines.
    """

    def __init__(self, ignore_metadata_errors: bool = False, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def to_dict(self) -> dict[str, Any]:
        data = copy.deepcopy(self.__dict__)
        self._to_dict(data)
        return {key: value for key, value in data.items() if value is not None}

    def _to_dict(self, data: dict[str, Any]) -> None:
        """Hook for subclasses to adjust the exported mapping in place."""

    def to_yaml(self, line_break: str | None = None, original_order: list[str] | None = None) -> str:
        """The metadata as YAML; keys listed in ``original_order`` come first, in that order."""
        data = self.to_dict()
        if original_order:
            ordered = {key: data[key] for key in original_order if key in data}
            ordered.update({key: value for key, value in data.items() if key not in ordered})
            data = ordered
        return dump_yaml(data, line_break=line_break) if data else ""

    def get(self, key: str, default: Any = None) -> Any:
        value = self.__dict__.get(key)
        return default if value is None else value

    def pop(self, key: str, default: Any = None) -> Any:
        return self.__dict__.pop(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.__dict__[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__

    def __len__(self) -> int:
        return len(self.__dict__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CardData) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, so unhashable: an idiom typeshed cannot express

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    def __str__(self) -> str:
        return self.to_yaml()


class ModelCardData(CardData):
    """Metadata of a model card (the keys the Hub understands, plus any others).

    Args:
        base_model: id(s) of the model(s) this one derives from.
        datasets: dataset id(s) used for training.
        eval_results: evaluation results (kept as given).
        language: ISO 639 code(s) of the data, e.g. ``"en"``.
        library_name: library that loads this model, e.g. ``"my-lib"``.
        license: license id, e.g. ``"apache-2.0"`` (``"other"`` with ``license_name`` / ``license_link``).
        license_name, license_link: name and URL of a license outside the Hub's list.
        metrics: metric names.
        model_name: a display name for the model.
        pipeline_tag: task, e.g. ``"text-classification"``.
        tags: tags for search and filtering; duplicates are dropped, order kept.
        **kwargs: any other metadata (``model-index``, ``widget``...), preserved on save.
    """

    def __init__(
        self,
        *,
        base_model: str | list[str] | None = None,
        datasets: str | list[str] | None = None,
        eval_results: Any = None,
        language: str | list[str] | None = None,
        library_name: str | None = None,
        license: str | None = None,
        license_name: str | None = None,
        license_link: str | None = None,
        metrics: list[str] | None = None,
        model_name: str | None = None,
        pipeline_tag: str | None = None,
        tags: str | list[str] | None = None,
        ignore_metadata_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        self.base_model = base_model
        self.datasets = datasets
        self.eval_results = eval_results
        self.language = language
        self.library_name = library_name
        self.license = license
        self.license_name = license_name
        self.license_link = license_link
        self.metrics = metrics
        self.model_name = model_name
        self.pipeline_tag = pipeline_tag
        self.tags = _unique_list(tags)
        super().__init__(ignore_metadata_errors=ignore_metadata_errors, **kwargs)
