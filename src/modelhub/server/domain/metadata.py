"""Repo metadata as the Hub computes it from a commit's files: ``library_name`` and ``pipeline_tag`` (the card,
else ``config.json`` for transformers repos), ``config`` (a safe subset of ``config.json`` and
``tokenizer_config.json``), ``transformersInfo``, ``safetensors`` (parameters per dtype and in total, from the
headers of the weight files: a single file, or the shards a ``*.safetensors.index.json`` names) and the tags.

Only bounded prefixes of blobs are read (``MAX_JSON`` for JSON files, the header of a safetensors file up to
``MAX_HEADER``); results are memoized by content (blob SHA-256, tree id), so a repo info answer reads nothing
twice. HTTP-free."""

from __future__ import annotations

import json
import logging
import math
import struct
from dataclasses import dataclass, field
from typing import Any

from ..caches import LRU
from .content import ContentSource
from .trees import FileTree, card_tags

logger = logging.getLogger(__name__)

MAX_JSON = 1 << 20  # config.json, tokenizer_config.json, the shard index: larger ones are ignored
MAX_HEADER = 100 << 20  # a safetensors header (the format's own limit is 100 MB)
MAX_SHARDS = 10_000
_HEADERS: LRU[str, dict[str, int] | None] = LRU(
    4096
)  # blob sha256 -> parameters per dtype (None: unreadable)
_META: LRU[tuple[str, str], RepoMeta] = LRU(1024)  # (tree id, repo type) -> metadata

# architecture suffix -> (pipeline tag, auto class), the first match wins (longest suffixes first)
_ARCHITECTURES = (
    ("ForConditionalGeneration", "text2text-generation", "AutoModelForSeq2SeqLM"),
    ("ForSequenceClassification", "text-classification", "AutoModelForSequenceClassification"),
    ("ForTokenClassification", "token-classification", "AutoModelForTokenClassification"),
    ("ForQuestionAnswering", "question-answering", "AutoModelForQuestionAnswering"),
    ("ForImageClassification", "image-classification", "AutoModelForImageClassification"),
    ("ForAudioClassification", "audio-classification", "AutoModelForAudioClassification"),
    ("ForObjectDetection", "object-detection", "AutoModelForObjectDetection"),
    ("ForMaskedLM", "fill-mask", "AutoModelForMaskedLM"),
    ("ForCausalLM", "text-generation", "AutoModelForCausalLM"),
    ("LMHeadModel", "text-generation", "AutoModelForCausalLM"),
    ("ForCTC", "automatic-speech-recognition", "AutoModelForCTC"),
    ("Model", "feature-extraction", "AutoModel"),
)
_SPEECH_SEQ2SEQ = ("whisper", "speech_to_text", "speech-encoder-decoder")
_TOKENIZER_KEYS = ("bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token", "mask_token")
MAX_CHAT_TEMPLATE = 64 * 1024


@dataclass(frozen=True)
class RepoMeta:
    library_name: str | None = None
    pipeline_tag: str | None = None
    config: dict[str, Any] | None = None
    transformers_info: dict[str, Any] | None = None
    safetensors: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What listings keep in ``repos.meta_json`` (no blob read needed to list or filter)."""
        return {"library_name": self.library_name, "pipeline_tag": self.pipeline_tag, "tags": self.tags}


def compute(
    blobs: ContentSource, tree: FileTree, tree_id: str | None, card: dict[str, Any], repo_type: str
) -> RepoMeta:
    """The metadata of a tree (memoized by ``tree_id``; ``card``: its README's front matter). Without a
    ``tree_id`` (inside a commit's transaction) the weight headers are not read: no ``safetensors`` counts."""
    if tree_id is None:
        return _compute(blobs, tree, card, repo_type, weights=False)
    key = (tree_id, repo_type)
    hit = _META.get(key)
    if hit is None:
        hit = _compute(blobs, tree, card, repo_type)
        _META.put(key, hit)
    return hit


def _compute(
    blobs: ContentSource, tree: FileTree, card: dict[str, Any], repo_type: str, weights: bool = True
) -> RepoMeta:
    if repo_type != "model":
        return RepoMeta(tags=card_tags(card))
    config = _json_file(blobs, tree, "config.json")
    library = card.get("library_name") if isinstance(card.get("library_name"), str) else None
    pipeline = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    transformers = isinstance(config, dict) and ("architectures" in config or "model_type" in config)
    if library is None and transformers:
        library = "transformers"
    info = None
    if isinstance(config, dict) and library == "transformers":
        pipeline_from_config, auto_model = _from_architectures(config)
        pipeline = pipeline or pipeline_from_config
        if auto_model:
            info = {"auto_model": auto_model, "pipeline_tag": pipeline}
            if "tokenizer_config.json" in tree or "tokenizer.json" in tree:
                info["processor"] = "AutoTokenizer"
    safe_config = _safe_config(config, _json_file(blobs, tree, "tokenizer_config.json")) if config else None
    files = _weight_files(blobs, tree)
    params = _safetensors(blobs, tree, files) if weights and files else None
    tags = card_tags({**card, "library_name": library, "pipeline_tag": pipeline})
    if files:
        tags.append("safetensors")
    if safe_config and isinstance(safe_config.get("model_type"), str):
        tags.append(safe_config["model_type"])
    return RepoMeta(library, pipeline, safe_config, info, params, list(dict.fromkeys(tags)))


def _json_file(blobs: ContentSource, tree: FileTree, path: str) -> Any:
    entry = tree.get(path)
    if entry is None or entry.size > MAX_JSON:
        return None
    try:
        with blobs.open(entry.sha256) as fh:
            return json.loads(fh.read(MAX_JSON))
    except (OSError, ValueError, RecursionError):
        return None


def _from_architectures(config: dict[str, Any]) -> tuple[str | None, str | None]:
    archs = config.get("architectures")
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""
    model_type = config.get("model_type") if isinstance(config.get("model_type"), str) else ""
    if arch.endswith("ForConditionalGeneration") and model_type in _SPEECH_SEQ2SEQ:
        return "automatic-speech-recognition", "AutoModelForSpeechSeq2Seq"
    for suffix, pipeline, auto in _ARCHITECTURES:
        if arch.endswith(suffix):
            return pipeline, auto
    return None, None


def _safe_config(config: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
    """The part of the config the Hub shows: what identifies the model, never arbitrary (possibly large) values."""
    out: dict[str, Any] = {}
    archs = config.get("architectures")
    if isinstance(archs, list) and all(isinstance(a, str) for a in archs):
        out["architectures"] = archs[:10]
    if isinstance(config.get("model_type"), str):
        out["model_type"] = config["model_type"]
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict):
        out["auto_map"] = {k: v for k, v in list(auto_map.items())[:20] if isinstance(v, str)}
    quant = config.get("quantization_config")
    if isinstance(quant, dict):
        out["quantization_config"] = {k: quant[k] for k in ("quant_method", "bits") if k in quant}
    if isinstance(tokenizer, dict):
        tok = {k: tokenizer[k] for k in _TOKENIZER_KEYS if isinstance(tokenizer.get(k), str)}
        template = tokenizer.get("chat_template")
        if isinstance(template, str) and len(template) <= MAX_CHAT_TEMPLATE:
            tok["chat_template"] = template
        if tok:
            out["tokenizer_config"] = tok
    return out


def _weight_files(blobs: ContentSource, tree: FileTree) -> list[str]:
    """The shards an index names (the first root-level ``*.safetensors.index.json``), else the root-level
    ``*.safetensors`` files."""
    index = sorted(p for p in tree if "/" not in p and p.endswith(".safetensors.index.json"))
    if index:
        data = _json_file(blobs, tree, index[0])
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if isinstance(weight_map, dict):
            shards = {v for v in weight_map.values() if isinstance(v, str)}
            return sorted(s for s in shards if s in tree)[:MAX_SHARDS]
    return sorted(p for p in tree if "/" not in p and p.endswith(".safetensors"))


def _safetensors(blobs: ContentSource, tree: FileTree, files: list[str]) -> dict[str, Any] | None:
    per_dtype: dict[str, int] = {}
    for path in files:
        counts = header_parameters(blobs, tree[path].sha256)
        if counts is None:
            return None  # one unreadable shard: no total rather than a wrong one
        for dtype, n in counts.items():
            per_dtype[dtype] = per_dtype.get(dtype, 0) + n
    return {"parameters": per_dtype, "total": sum(per_dtype.values())}


def header_parameters(blobs: ContentSource, sha256: str) -> dict[str, int] | None:
    """Parameters per dtype from a safetensors file's header (8-byte little-endian length, then JSON)."""
    if (hit := _HEADERS.get(sha256)) is not None:
        return hit
    counts: dict[str, int] | None = None
    try:
        with blobs.open(sha256) as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if 0 < length <= MAX_HEADER:
                header = json.loads(fh.read(length))
                counts = {}
                for name, spec in header.items():
                    if name == "__metadata__" or not isinstance(spec, dict):
                        continue
                    shape, dtype = spec.get("shape"), spec.get("dtype")
                    if not isinstance(dtype, str) or not isinstance(shape, list):
                        raise ValueError(f"tensor {name!r} has no dtype/shape")
                    counts[dtype] = counts.get(dtype, 0) + math.prod(int(d) for d in shape)
    except (OSError, ValueError, struct.error, TypeError, RecursionError) as exc:
        logger.debug("unreadable safetensors header in blob %s: %s", sha256, exc)
        counts = None
    if counts is not None:
        _HEADERS.put(sha256, counts)
    return counts
