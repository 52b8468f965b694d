"""The "use this model" snippets of a repo page, chosen by the repo's library (front matter and files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# pipeline tag -> the transformers Auto class that loads such a model
AUTO_CLASSES = {
    "text-generation": "AutoModelForCausalLM",
    "text2text-generation": "AutoModelForSeq2SeqLM",
    "translation": "AutoModelForSeq2SeqLM",
    "summarization": "AutoModelForSeq2SeqLM",
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "fill-mask": "AutoModelForMaskedLM",
    "image-classification": "AutoModelForImageClassification",
    "feature-extraction": "AutoModel",
}


@dataclass(frozen=True)
class Snippet:
    title: str
    language: str
    code: str


# the head of a transformers architecture (``config.json``'s ``architectures``) -> its Auto class
HEAD_CLASSES = {
    "ForCausalLM": "AutoModelForCausalLM",
    "ForMaskedLM": "AutoModelForMaskedLM",
    "ForSequenceClassification": "AutoModelForSequenceClassification",
    "ForTokenClassification": "AutoModelForTokenClassification",
    "ForQuestionAnswering": "AutoModelForQuestionAnswering",
    "ForImageClassification": "AutoModelForImageClassification",
}


def _auto_class(card: dict[str, Any], architectures: list[str]) -> str:
    for arch in architectures:
        for head, auto in HEAD_CLASSES.items():
            if isinstance(arch, str) and arch.endswith(head):
                return auto
    pipeline_tag = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    return AUTO_CLASSES.get(pipeline_tag or "", "AutoModel")


def _transformers(repo_id: str, card: dict[str, Any], architectures: list[str]) -> list[Snippet]:
    pipeline_tag = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    auto = _auto_class(card, architectures)
    out = [
        Snippet(
            "transformers",
            "python",
            f"from transformers import AutoTokenizer, {auto}\n\n"
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n'
            f'model = {auto}.from_pretrained("{repo_id}")',
        )
    ]
    if pipeline_tag:
        out.append(
            Snippet(
                "pipeline",
                "python",
                f'from transformers import pipeline\n\npipe = pipeline("{pipeline_tag}", model="{repo_id}")',
            )
        )
    return out


def _mixin(repo_id: str, card: dict[str, Any], tags: list[str], model_class: str | None) -> list[Snippet]:
    library = card.get("library_name") if isinstance(card.get("library_name"), str) else None
    base = "PyTorchModelHubMixin" if "pytorch_model_hub_mixin" in tags else "ModelHubMixin"
    cls = model_class or "MyModel"
    source = f"from {library.replace('-', '_')} import {cls}" if library else f"from my_package import {cls}"
    return [
        Snippet(
            f"{library or 'model class'} ({base})",
            "python",
            f"{source}  # the class that pushed it (it mixes in {base})\n\n"
            f'model = {cls}.from_pretrained("{repo_id}")',
        )
    ]


# modelhub's mixin card names the class that saved the model (cards/templates/mixin_modelcard_template.md)
_MIXIN_CLASS = re.compile(r"integration \(class `([A-Za-z_][A-Za-z0-9_]{0,99})`\)")


def mixin_class(card_text: str) -> str | None:
    """The model class a mixin card names, None when it names none."""
    found = _MIXIN_CLASS.search(card_text)
    return found.group(1) if found else None


def snippets(
    repo_type: str,
    repo_id: str,
    card: dict[str, Any],
    tags: list[str],
    files: set[str],
    endpoint: str,
    architectures: list[str] | None = None,
    model_class: str | None = None,
) -> list[Snippet]:
    """Snippets for the repo, the most specific first; the download ones always come last. ``architectures``:
    from the repo's ``config.json`` (transformers models name their head class there); ``model_class``: the class
    a mixin card names (``mixin_class``)."""
    out: list[Snippet] = []
    library = card.get("library_name")
    is_mixin = any(t in tags for t in ("model_hub_mixin", "pytorch_model_hub_mixin"))
    if repo_type == "model":
        if library == "transformers" or (
            not is_mixin and "config.json" in files and "tokenizer_config.json" in files
        ):
            out += _transformers(repo_id, card, architectures or [])
        elif is_mixin:
            out += _mixin(repo_id, card, tags, model_class)
    if repo_type == "dataset":
        out.append(
            Snippet(
                "datasets", "python", f'from datasets import load_dataset\n\nds = load_dataset("{repo_id}")'
            )
        )
    kind = "" if repo_type == "model" else f', repo_type="{repo_type}"'
    first = next(
        (f for f in ("config.json", "model.safetensors", "README.md") if f in files),
        sorted(files)[0] if files else "",
    )
    out.append(
        Snippet(
            "huggingface_hub",
            "python",
            "from huggingface_hub import hf_hub_download, snapshot_download\n\n"
            f'path = hf_hub_download(repo_id="{repo_id}", filename="{first}"{kind})\n'
            f'folder = snapshot_download(repo_id="{repo_id}"{kind})',
        )
    )
    flag = "" if repo_type == "model" else f" --repo-type {repo_type}"
    out.append(
        Snippet("modelhub CLI", "bash", f"export HF_ENDPOINT={endpoint}\nmodelhub download {repo_id}{flag}")
    )
    return out
