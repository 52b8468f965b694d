"""Evaluation results in the newer ``.eval_results/*.yaml`` files of a model repo (one score per benchmark task),
the successor of a card's ``model-index``: https://huggingface.co/docs/hub/eval-results."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class EvalResultEntry:
    """One score: ``value`` of the model on task ``task_id`` of the benchmark dataset ``dataset_id``.

    Optional: ``dataset_revision`` (the benchmark's commit), ``verify_token``, ``date`` (ISO-8601), ``notes``, and a
    source (``source_url``, required as soon as ``source_name``, ``source_user`` or ``source_org`` is given).
    """

    dataset_id: str
    task_id: str
    value: Any
    dataset_revision: str | None = None
    verify_token: str | None = None
    date: str | None = None
    source_url: str | None = None
    source_name: str | None = None
    source_user: str | None = None
    source_org: str | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        named = [n for n in ("source_name", "source_user", "source_org") if getattr(self, n) is not None]
        if named and self.source_url is None:
            raise ValueError(
                f"EvalResultEntry has {', '.join(named)} but no source_url: a source needs its URL."
            )


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None}


def eval_result_entries_to_yaml(entries: list[EvalResultEntry]) -> list[dict[str, Any]]:
    """The list a ``.eval_results/<name>.yaml`` file holds, ready for ``yaml.safe_dump``."""
    out = []
    for e in entries:
        item: dict[str, Any] = {
            "dataset": _drop_none({"id": e.dataset_id, "task_id": e.task_id, "revision": e.dataset_revision}),
            "value": e.value,
        }
        item.update(_drop_none({"verifyToken": e.verify_token, "date": e.date}))
        if e.source_url is not None:
            item["source"] = _drop_none(
                {"url": e.source_url, "name": e.source_name, "user": e.source_user, "org": e.source_org}
            )
        if e.notes is not None:
            item["notes"] = e.notes
        out.append(item)
    return out


def parse_eval_result_entries(data: list[dict[str, Any]]) -> list[EvalResultEntry]:
    """Entries from a ``.eval_results/*.yaml`` list, or from the hub's ``evalResults`` (``{"data": ...}`` items;
    an item the hub flagged with ``error`` is skipped with a warning)."""
    entries = []
    for item in data:
        if "error" in item:
            logger.warning(
                "Skipping the invalid eval results file %r: %s", item.get("filename"), item["error"]
            )
            continue
        body = item.get("data", item)
        dataset = body.get("dataset") or {}
        source = body.get("source") or {}
        entries.append(
            EvalResultEntry(
                dataset_id=dataset["id"],
                task_id=dataset["task_id"],
                value=body["value"],
                dataset_revision=dataset.get("revision"),
                verify_token=body.get("verifyToken"),
                date=body.get("date"),
                source_url=source.get("url"),
                source_name=source.get("name"),
                source_user=source.get("user"),
                source_org=source.get("org"),
                notes=body.get("notes"),
            )
        )
    return entries
