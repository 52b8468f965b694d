"""Metadata helpers on README.md files and repos: ``metadata_load``, ``metadata_save``, ``metadata_update`` and
``metadata_eval_result`` (the upstream functions training scripts use to publish their results)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._card import DatasetCard, ModelCard, RepoCard, SpaceCard
from ._data import CardData, EvalResult, eval_results_to_model_index, model_index_to_eval_results
from ._frontmatter import dump_metadata, find_front_matter, line_ending, load_metadata


def metadata_load(local_path: str | Path) -> dict[str, Any] | None:
    """The metadata of a local README.md; None when it has no metadata block (``{}`` for an empty one)."""
    content = Path(local_path).read_text(encoding="utf-8-sig")
    block = find_front_matter(content)
    if block is None:
        return None
    return load_metadata(content[block.yaml_start : block.yaml_end])


def metadata_save(local_path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` as the metadata block of ``local_path``: replaces an existing block, else goes on top of
    the file (created if missing). The file's line endings are kept; the rest of it is untouched."""
    content = ""
    if os.path.exists(local_path):
        with open(local_path, encoding="utf-8-sig", newline="") as f:
            content = f.read()
    eol = line_ending(content) or "\n"
    block_text = f"---{eol}{dump_metadata(data, line_break=eol)}---{eol}"
    block = find_front_matter(content)
    # a new block goes on top; an old one is replaced, with the white space before it (as upstream does)
    content = block_text + (content[block.end :] if block is not None else content)
    with open(local_path, "w", encoding="utf-8", newline="") as f:
        f.write(content)


def metadata_eval_result(
    *,
    model_pretty_name: str,
    task_pretty_name: str,
    task_id: str,
    metrics_pretty_name: str,
    metrics_id: str,
    metrics_value: Any,
    dataset_pretty_name: str,
    dataset_id: str,
    metrics_config: str | None = None,
    metrics_verified: bool = False,
    dataset_config: str | None = None,
    dataset_split: str | None = None,
    dataset_revision: str | None = None,
    metrics_verification_token: str | None = None,
) -> dict[str, Any]:
    """``{"model-index": [...]}`` holding one result: the model evaluated on a dataset (for ``metadata_update``)."""
    result = EvalResult(
        task_type=task_id,
        task_name=task_pretty_name,
        dataset_type=dataset_id,
        dataset_name=dataset_pretty_name,
        dataset_config=dataset_config,
        dataset_split=dataset_split,
        dataset_revision=dataset_revision,
        metric_type=metrics_id,
        metric_name=metrics_pretty_name,
        metric_value=metrics_value,
        metric_config=metrics_config,
        verified=metrics_verified,
        verify_token=metrics_verification_token,
    )
    return {"model-index": eval_results_to_model_index(model_pretty_name, [result])}


_CARD_CLASSES: dict[str | None, type[RepoCard]] = {
    None: ModelCard,
    "model": ModelCard,
    "dataset": DatasetCard,
    "space": SpaceCard,
}


def _merge_eval_results(card: RepoCard, new: list[EvalResult], model_name: str, overwrite: bool) -> None:
    existing: list[EvalResult] | None = card.data.get("eval_results")
    if not existing:
        card.data["eval_results"] = new
        card.data["model_name"] = model_name
        return
    for result in new:
        same = [old for old in existing if result.is_equal_except_value(old)]
        if not same:
            existing.append(result)
        for old in same:
            if old != result and not overwrite:
                raise ValueError(
                    f"The card already has a value for the metric {result.metric_name or result.metric_type!r} "
                    f"({result.metric_type}) on {result.dataset_name!r}: {old.metric_value!r}, not "
                    f"{result.metric_value!r}. Pass overwrite=True to replace it."
                )
            old.metric_value = result.metric_value
            if old.verified:
                old.verify_token = result.verify_token


def metadata_update(
    repo_id: str,
    metadata: dict[str, Any],
    *,
    repo_type: str | None = None,
    overwrite: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
    commit_description: str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    parent_commit: str | None = None,
) -> Any:
    """Merge ``metadata`` into the README.md of a repo and commit it; returns the commit URL (a CommitInfo).

    A repo without a README.md gets one from the default model or dataset template (a Space cannot be without
    one: ValueError). ``model-index`` results are merged metric by metric; any other key is set. A key that
    already has a different value raises ValueError unless ``overwrite=True``.
    """
    from ..errors import EntryNotFoundError

    card_class = _CARD_CLASSES.get(repo_type)
    if card_class is None:
        raise ValueError(f"Unknown repo_type {repo_type!r}: expected 'model', 'dataset' or 'space'.")
    try:
        card = card_class.load(repo_id, repo_type=repo_type, token=token, revision=revision)
    except EntryNotFoundError:
        if card_class is SpaceCard:
            raise ValueError(
                f"Space {repo_id!r} has no README.md, so its metadata cannot be updated (a Space's README.md is "
                "its configuration: create it first)."
            ) from None
        card = card_class.from_template(CardData())
    for key, value in metadata.items():
        if key == "model-index":
            if value and "name" not in value[0]:
                value = [{**value[0], "name": card.data.get("model_name") or repo_id}, *value[1:]]
            model_name, results = model_index_to_eval_results(value)
            _merge_eval_results(card, results, model_name, overwrite)
            continue
        current = card.data.get(key)
        if current is not None and current != value and not overwrite:
            raise ValueError(
                f"The card's metadata already has {key!r}: {current!r}, not {value!r}. Pass overwrite=True to "
                "replace it."
            )
        card.data[key] = value
    return card.push_to_hub(
        repo_id,
        token=token,
        repo_type=repo_type,
        commit_message=commit_message if commit_message is not None else "Update metadata with modelhub",
        commit_description=commit_description,
        revision=revision,
        create_pr=create_pr,
        parent_commit=parent_commit,
    )
