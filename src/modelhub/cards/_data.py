"""Card metadata: the YAML front matter of a README.md, as a dict-like object per repo type.

Known keys are attributes with ``None`` defaults; every other key the YAML holds is kept as-is (attribute or, for
keys such as ``widget`` that are not known, a dict entry) so that load -> save never loses metadata. A model card's
``model-index`` becomes ``model_name`` + a list of ``EvalResult`` and is rebuilt from them on save.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, fields
from typing import Any

from ..errors import CardMetadataError
from ._frontmatter import dump_metadata

logger = logging.getLogger(__name__)


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
    """YAML text for a metadata mapping (no trailing line break)."""
    return dump_metadata(data, line_break=line_break).strip()


@dataclass
class EvalResult:
    """One metric of one evaluation, the flat form of a ``model-index`` entry.

    Required: ``task_type`` (e.g. ``"text-classification"``), ``dataset_type`` (a dataset id), ``dataset_name``
    (display name), ``metric_type`` (e.g. ``"accuracy"``), ``metric_value``. Optional: ``task_name``,
    ``dataset_config``, ``dataset_split``, ``dataset_revision``, ``dataset_args``, ``metric_name``,
    ``metric_config``, ``metric_args``, ``verified``, ``verify_token``, ``source_name``, ``source_url`` (a
    source needs its URL). Results sharing task and dataset (``unique_identifier``) form one model-index entry.
    """

    task_type: str
    dataset_type: str
    dataset_name: str
    metric_type: str
    metric_value: Any
    task_name: str | None = None
    dataset_config: str | None = None
    dataset_split: str | None = None
    dataset_revision: str | None = None
    dataset_args: dict[str, Any] | None = None
    metric_name: str | None = None
    metric_config: str | None = None
    metric_args: dict[str, Any] | None = None
    verified: bool | None = None
    verify_token: str | None = None
    source_name: str | None = None
    source_url: str | None = None

    def __post_init__(self) -> None:
        if self.source_name is not None and self.source_url is None:
            raise ValueError(
                f"EvalResult source {self.source_name!r} has no source_url: a source needs its URL "
                "(pass source_url=..., or drop source_name)."
            )

    @property
    def unique_identifier(self) -> tuple[Any, ...]:
        """What makes two results belong to the same evaluation: task and dataset (type, config, split, revision)."""
        return (
            self.task_type,
            self.dataset_type,
            self.dataset_config,
            self.dataset_split,
            self.dataset_revision,
        )

    def is_equal_except_value(self, other: EvalResult) -> bool:
        """Same metric of the same evaluation, whatever the value (and its value-derived ``verify_token``)."""
        return all(
            getattr(self, f.name) == getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("metric_value", "verify_token")
        )


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value if v is not None]
    return value


def eval_results_to_model_index(model_name: str, eval_results: list[EvalResult]) -> list[dict[str, Any]]:
    """The ``model-index`` metadata for ``eval_results``: one entry per task + dataset, its metrics listed."""
    groups: dict[tuple[Any, ...], list[EvalResult]] = {}
    for result in eval_results:
        groups.setdefault(result.unique_identifier, []).append(result)
    entries = []
    for group in groups.values():
        first = group[0]
        entry: dict[str, Any] = {
            "task": {"type": first.task_type, "name": first.task_name},
            "dataset": {
                "name": first.dataset_name,
                "type": first.dataset_type,
                "config": first.dataset_config,
                "split": first.dataset_split,
                "revision": first.dataset_revision,
                "args": first.dataset_args,
            },
            "metrics": [
                {
                    "type": r.metric_type,
                    "value": r.metric_value,
                    "name": r.metric_name,
                    "config": r.metric_config,
                    "args": r.metric_args,
                    "verified": r.verified,
                    "verifyToken": r.verify_token,
                }
                for r in group
            ],
        }
        if first.source_url is not None:
            entry["source"] = {"url": first.source_url, "name": first.source_name}
        entries.append(entry)
    return _without_none([{"name": model_name, "results": entries}])


MAX_EVAL_RESULTS = 10_000  # metrics in one model-index; real cards list a few dozen, leaderboards hundreds


def model_index_to_eval_results(model_index: list[dict[str, Any]]) -> tuple[str, list[EvalResult]]:
    """``(model_name, eval_results)`` from ``model-index`` metadata; KeyError/TypeError when it is malformed.

    A model-index lists entries with a ``name`` and ``results``, each result a ``task`` (``type``), a ``dataset``
    (``type``, ``name``) and ``metrics`` (``type``, ``value``); the name of the last entry is returned.
    """
    if not model_index:
        raise ValueError("model-index must be a non-empty list of {name, results} entries.")
    name = ""
    results: list[EvalResult] = []
    for entry in model_index:
        name = entry["name"]
        for result in entry["results"]:
            task, dataset = result["task"], result["dataset"]
            source = result.get("source") or {}
            # YAML aliases let a small card list a result or a metric list many times over (a list of 100k
            # aliases of a result holding 100k metrics is 10^10 metrics): bounded before anything is built
            if len(results) + len(result["metrics"]) > MAX_EVAL_RESULTS:
                raise ValueError(
                    f"model-index lists more than {MAX_EVAL_RESULTS} metrics (YAML aliases repeating entries?)."
                )
            for metric in result["metrics"]:
                results.append(
                    EvalResult(
                        task_type=task["type"],
                        task_name=task.get("name"),
                        dataset_type=dataset["type"],
                        dataset_name=dataset["name"],
                        dataset_config=dataset.get("config"),
                        dataset_split=dataset.get("split"),
                        dataset_revision=dataset.get("revision"),
                        dataset_args=dataset.get("args"),
                        metric_type=metric["type"],
                        metric_value=metric["value"],
                        metric_name=metric.get("name"),
                        metric_config=metric.get("config"),
                        metric_args=metric.get("args"),
                        verified=metric.get("verified"),
                        verify_token=metric.get("verifyToken"),
                        source_name=source.get("name"),
                        source_url=source.get("url"),
                    )
                )
    return name, results


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


def _checked_eval_results(eval_results: Any, model_name: str | None) -> list[EvalResult]:
    if isinstance(eval_results, EvalResult):
        eval_results = [eval_results]
    if not isinstance(eval_results, list) or not all(isinstance(r, EvalResult) for r in eval_results):
        raise ValueError(
            f"eval_results must be an EvalResult or a list of them, not {type(eval_results).__name__}."
        )
    if model_name is None:
        raise ValueError("eval_results need a model_name (the name the model-index gives the model).")
    return eval_results


class ModelCardData(CardData):
    """Metadata of a model card (the keys the Hub understands, plus any others).

    Args:
        base_model: id(s) of the model(s) this one derives from.
        datasets: dataset id(s) used for training.
        eval_results: an ``EvalResult`` or a list of them; saved as ``model-index`` (needs ``model_name``).
        language: ISO 639 code(s) of the data, e.g. ``"en"``.
        library_name: library that loads this model, e.g. ``"my-lib"``.
        license: license id, e.g. ``"apache-2.0"`` (``"other"`` with ``license_name`` / ``license_link``).
        license_name, license_link: name and URL of a license outside the Hub's list.
        metrics: metric names.
        model_name: the model's name in ``model-index`` (leaderboards).
        pipeline_tag: task, e.g. ``"text-classification"``.
        tags: tags for search and filtering; duplicates are dropped, order kept.
        ignore_metadata_errors: a malformed ``model-index`` is dropped with a warning instead of raising.
        **kwargs: any other metadata (``model-index``, ``widget``...), preserved on save.
    """

    def __init__(
        self,
        *,
        base_model: str | list[str] | None = None,
        datasets: str | list[str] | None = None,
        eval_results: EvalResult | list[EvalResult] | None = None,
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
        model_index = kwargs.pop("model-index", None)
        if model_index:
            try:
                self.model_name, self.eval_results = model_index_to_eval_results(model_index)
            except (KeyError, TypeError, ValueError) as exc:
                if not ignore_metadata_errors:
                    raise CardMetadataError(
                        f"The card's model-index cannot be read ({type(exc).__name__}: {exc}): each entry needs "
                        "'name' and 'results', each result 'task.type', 'dataset.type', 'dataset.name' and "
                        "'metrics' with 'type' and 'value'. Fix it, or load with ignore_metadata_errors=True "
                        "(it is then kept as plain data, without eval_results)."
                    ) from exc
                logger.warning(
                    "The card's model-index cannot be read (%s: %s); keeping it as plain data.",
                    type(exc).__name__,
                    exc,
                )
                kwargs["model-index"] = model_index  # not lost: saved back as it was
        super().__init__(**kwargs)
        if self.eval_results:
            try:
                self.eval_results = _checked_eval_results(self.eval_results, self.model_name)
            except ValueError as exc:
                if not ignore_metadata_errors:
                    raise
                logger.warning("Ignoring eval_results: %s", exc)
                self.eval_results = None
                if (
                    model_index
                ):  # e.g. an entry without a name: kept as it was, like any unreadable model-index
                    self.__dict__["model-index"] = model_index

    def _to_dict(self, data: dict[str, Any]) -> None:
        eval_results = data.pop("eval_results", None)
        if (
            eval_results is not None
        ):  # an empty list too: `model-index: [{name, results: []}]` stays as it was
            data["model-index"] = eval_results_to_model_index(data.pop("model_name", None), eval_results)


class DatasetCardData(CardData):
    """Metadata of a dataset card.

    Args:
        language, license, annotations_creators, language_creators, multilinguality, size_categories,
        source_datasets, task_categories, task_ids: the Hub's dataset tags (a string or a list each).
        paperswithcode_id: the dataset's Papers with Code id.
        pretty_name: a display name, e.g. ``"Cats vs. Dogs"``.
        train_eval_index: evaluation spec, saved as ``train-eval-index``.
        config_names: names of the dataset's configurations.
        **kwargs: any other metadata (``configs``, ``dataset_info``...), preserved on save.
    """

    def __init__(
        self,
        *,
        language: str | list[str] | None = None,
        license: str | list[str] | None = None,
        annotations_creators: str | list[str] | None = None,
        language_creators: str | list[str] | None = None,
        multilinguality: str | list[str] | None = None,
        size_categories: str | list[str] | None = None,
        source_datasets: list[str] | None = None,
        task_categories: str | list[str] | None = None,
        task_ids: str | list[str] | None = None,
        paperswithcode_id: str | None = None,
        pretty_name: str | None = None,
        train_eval_index: dict[str, Any] | list[Any] | None = None,
        config_names: str | list[str] | None = None,
        ignore_metadata_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        self.annotations_creators = annotations_creators
        self.language_creators = language_creators
        self.language = language
        self.license = license
        self.multilinguality = multilinguality
        self.size_categories = size_categories
        self.source_datasets = source_datasets
        self.task_categories = task_categories
        self.task_ids = task_ids
        self.paperswithcode_id = paperswithcode_id
        self.pretty_name = pretty_name
        self.config_names = config_names
        self.train_eval_index = train_eval_index or kwargs.pop("train-eval-index", None)
        super().__init__(**kwargs)

    def _to_dict(self, data: dict[str, Any]) -> None:
        data["train-eval-index"] = data.pop("train_eval_index")


class SpaceCardData(CardData):
    """Metadata of a Space card (its configuration: https://huggingface.co/docs/hub/spaces-config-reference).

    Args:
        title: the Space's title.
        sdk: ``gradio``, ``streamlit``, ``docker`` or ``static``.
        sdk_version, python_version: versions for the gradio / streamlit SDKs.
        app_file: the application's main file, relative to the repo root.
        app_port: the port a ``docker`` Space listens on.
        license: license id.
        duplicated_from: id of the Space this one was duplicated from.
        models, datasets: ids of related models and datasets.
        tags: tags; duplicates dropped, order kept.
        **kwargs: any other configuration (``emoji``, ``colorFrom``, ``pinned``...), preserved on save.
    """

    def __init__(
        self,
        *,
        title: str | None = None,
        sdk: str | None = None,
        sdk_version: str | None = None,
        python_version: str | None = None,
        app_file: str | None = None,
        app_port: int | None = None,
        license: str | None = None,
        duplicated_from: str | None = None,
        models: list[str] | None = None,
        datasets: list[str] | None = None,
        tags: list[str] | None = None,
        ignore_metadata_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        self.title = title
        self.sdk = sdk
        self.sdk_version = sdk_version
        self.python_version = python_version
        self.app_file = app_file
        self.app_port = app_port
        self.license = license
        self.duplicated_from = duplicated_from
        self.models = models
        self.datasets = datasets
        self.tags = _unique_list(tags)
        super().__init__(**kwargs)
