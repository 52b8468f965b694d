"""The model card written beside a fastai learner (README.md tagged ``fastai``), through modelhub.cards."""

from __future__ import annotations

from pathlib import Path

from .. import constants

# jinja2, rendered by ModelCard.from_template; `card_data` is the YAML metadata.
FASTAI_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ model_name | default("fastai model", true) }}

A fastai `Learner` exported with `Learner.export` (`model.pkl`). `pyproject.toml` records the Python, fastai and
fastcore versions that saved it.

## Usage

```python
from modelhub import from_pretrained_fastai

# model.pkl is a pickle: loading it runs code from this repo, so trust must be explicit.
learner = from_pretrained_fastai("{{ repo_id | default("namespace/name", true) }}", trust_pickle=True)
```

## Model description
More information needed

## Intended uses & limitations
More information needed

## Training and evaluation data
More information needed
"""


def write_model_card(folder: Path, repo_id: str | None = None) -> bool:
    """Write ``folder/README.md`` unless one exists (a card the user wrote is never replaced).

    Returns whether a card was written.
    """
    from ..cards import ModelCard, ModelCardData

    path = folder / constants.REPOCARD_NAME
    if path.exists():
        return False
    card_data = ModelCardData(library_name="fastai", tags=["fastai"])
    card = ModelCard.from_template(card_data, template_str=FASTAI_CARD_TEMPLATE, repo_id=repo_id)
    card.save(path)
    return True
