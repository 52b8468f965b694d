"""ModelCard / ModelCardData: parsing, round trips, templates and errors (local; hub paths in tests/mixins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelhub import ModelCard, ModelCardData
from modelhub.errors import CardMetadataError

CARD = """---
language: en
license: mit
tags:
- a
- b
model-index:
- name: thing
  results: []
widget:
  - text: hello
custom_key: {nested: [1, 2]}
---

# My model

Body text.
"""


def test_load_text_parses_metadata_and_body() -> None:
    card = ModelCard.load(CARD)
    assert card.data.language == "en"
    assert card.data.license == "mit"
    assert card.data.tags == ["a", "b"]
    assert card.data.model_name == "thing" and card.data.eval_results == []
    assert card.data.to_dict()["model-index"] == [{"name": "thing", "results": []}]
    assert card.data.custom_key == {"nested": [1, 2]}
    assert card.text == "\n# My model\n\nBody text.\n"


def test_round_trip_keeps_unknown_keys_and_order(tmp_path: Path) -> None:
    path = tmp_path / "README.md"
    ModelCard(CARD).save(path)
    again = ModelCard.load(path)
    assert again.data.to_dict() == ModelCard(CARD).data.to_dict()
    text = path.read_text()
    keys = [
        line.split(":")[0] for line in text.split("---")[1].splitlines() if line and not line.startswith(" ")
    ]
    keys = [k for k in keys if not k.startswith("-")]
    assert keys == ["language", "license", "tags", "model-index", "widget", "custom_key"]
    assert again.text == ModelCard(CARD).text


def test_edit_and_save(tmp_path: Path) -> None:
    card = ModelCard(CARD)
    card.data.license = "apache-2.0"
    card.data["new-key"] = 1
    card.text = "new body\n"
    card.save(tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.license == "apache-2.0"
    assert loaded.data["new-key"] == 1
    assert loaded.text == "new body\n"


def test_crlf_line_endings_preserved(tmp_path: Path) -> None:
    text = CARD.replace("\n", "\r\n")
    path = tmp_path / "README.md"
    path.write_bytes(text.encode())
    card = ModelCard.load(path)
    assert card.data.license == "mit"
    card.save(tmp_path / "out.md")
    raw = (tmp_path / "out.md").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_card_without_metadata() -> None:
    card = ModelCard("# Only a body\n")
    assert card.data.to_dict() == {}
    assert card.text == "# Only a body\n"
    assert str(card).startswith("---\n\n---\n# Only a body")


def test_invalid_yaml_is_a_clear_error() -> None:
    with pytest.raises(CardMetadataError, match=r"Invalid YAML .* line \d+"):
        ModelCard("---\nlicense: [mit\ntags: x\n---\nbody\n")


def test_non_mapping_metadata_is_an_error() -> None:
    with pytest.raises(CardMetadataError, match="mapping"):
        ModelCard("---\n- a\n- b\n---\nbody\n")
    assert issubclass(CardMetadataError, ValueError)


def test_load_from_directory(tmp_path: Path) -> None:
    ModelCard(CARD).save(tmp_path / "README.md")
    assert ModelCard.load(tmp_path).data.license == "mit"


def test_load_missing_path_is_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not an existing file"):
        ModelCard.load(str(tmp_path / "nope" / "README.md"))


def test_card_data_dict_api() -> None:
    data = ModelCardData(language="en", tags=["x", "x", "y"], foo="bar")
    assert data.tags == ["x", "y"]
    assert data.to_dict() == {"language": "en", "tags": ["x", "y"], "foo": "bar"}
    assert data.get("license", "none") == "none"
    assert "foo" in data and data["foo"] == "bar"
    data["foo"] = "baz"
    assert data.pop("foo") == "baz"
    assert "foo" not in data
    assert ModelCardData(tags="single").tags == ["single"]
    assert data == ModelCardData(language="en", tags=["x", "y"])


def test_from_template_default() -> None:
    data = ModelCardData(library_name="my-lib", license="mit", tags=["t1"])
    card = ModelCard.from_template(
        data, model_name="Cool", repo_url="https://code", paper_url="https://paper", docs_url="https://docs"
    )
    assert card.data.library_name == "my-lib"
    assert card.data.tags == ["t1"]
    assert "# Cool" in card.text
    for expected in ("my-lib", "https://code", "https://paper", "https://docs", "mit"):
        assert expected in card.text


def test_from_template_string_and_path(tmp_path: Path) -> None:
    data = ModelCardData(license="mit")
    card = ModelCard.from_template(
        data, template_str="---\n{{ card_data }}\n---\n{{ license }} by {{ who }}\n", who="me"
    )
    assert card.text == "mit by me\n"
    template = tmp_path / "t.md"
    template.write_text("---\n{{ card_data }}\n---\nfrom file {{ who }}\n")
    assert ModelCard.from_template(data, template_path=template, who="x").text == "from file x\n"


def test_from_template_syntax_error() -> None:
    with pytest.raises(ValueError, match="Invalid card template"):
        ModelCard.from_template(ModelCardData(), template_str="{% if %}")
