"""Version records of fastai repos: the pyproject.toml layout, PEP 440 parsing and the minimum-version checks.

Pure logic over real files: no fastai needed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import tomllib
from packaging.specifiers import SpecifierSet

from modelhub.mixins._fastai_versions import (
    check_installed_versions,
    check_recorded_versions,
    installed_version,
    may_be_at_least,
    parse_requirement,
    pyproject_text,
    read_recorded_versions,
)

from ._learners import write_pyproject

LOGGER = "modelhub.mixins._fastai_versions"


def test_pyproject_keeps_the_legacy_layout_and_is_valid_toml() -> None:
    text = pyproject_text("3.11.7", "2.8.12", "1.8.1")
    data = tomllib.loads(text)
    # Exactly what older huggingface_hub releases wrote, so their loaders (which split on '=') read ours.
    assert data["build-system"]["requires"] == [
        "setuptools>=40.8.0",
        "wheel",
        "python=3.11.7",
        "fastai=2.8.12",
        "fastcore=1.8.1",
    ]
    assert data["build-system"]["build-backend"] == "setuptools.build_meta:__legacy__"


@pytest.mark.parametrize(
    ("entry", "name", "spec"),
    [
        ("fastai=2.8.12", "fastai", "==2.8.12"),
        ("fastai==2.8.12", "fastai", "==2.8.12"),
        ("fastai = 2.4", "fastai", "==2.4"),
        ("fastai>=2.7,<3", "fastai", "<3,>=2.7"),
        ("FastCore~=1.5.0", "fastcore", "~=1.5.0"),
        ("fastai", "fastai", ""),
        ("fastai[extra]=2.5", "fastai", "==2.5"),
        ("fastai-extras=1.0", "fastai-extras", "==1.0"),
    ],
)
def test_parse_requirement(entry: str, name: str, spec: str) -> None:
    parsed = parse_requirement(entry)
    assert parsed is not None
    assert parsed[0] == name
    assert parsed[1].specifier == SpecifierSet(spec)


@pytest.mark.parametrize("entry", ["fastai=>2", "=2.4", "fastai==two", 42])
def test_unreadable_requirement_is_none(entry: object) -> None:
    assert parse_requirement(entry) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("==2.4", True),
        ("==2.3.9", False),
        ("==2.10", True),  # a string comparison would call 2.10 older than 2.4
        ("<2.4", False),
        ("<=2.4", True),
        (">=2.0", True),
        (">2.4", True),
        ("~=2.3.0", False),
        ("~=2.3", True),
        ("==2.*", True),
        ("==1.*", False),
        ("!=2.4", True),
        ("<2.4,>=2.0", False),
        ("", True),
        ("==2.4rc1", False),
    ],
)
def test_may_be_at_least(spec: str, expected: bool) -> None:
    assert may_be_at_least(SpecifierSet(spec), "2.4") is expected


@pytest.mark.parametrize(
    ("requires", "package", "saved"),
    [
        (("fastai=2.3.1", "fastcore=1.3.27"), "fastai", "2.3.1"),
        (("fastai==2.8.12", "fastcore=1.3.20"), "fastcore", "1.3.20"),
        (("fastai<2.4", "fastcore=1.5"), "fastai", "<2.4"),
    ],
)
def test_old_saved_version_is_refused_naming_both(
    tmp_path: Path, requires: tuple[str, ...], package: str, saved: str
) -> None:
    write_pyproject(tmp_path, *requires)
    with pytest.raises(ImportError) as info:
        check_recorded_versions(tmp_path, source="the test dir")
    message = str(info.value)
    minimum = {"fastai": "2.4", "fastcore": "1.3.27"}[package]
    assert f"saved with {package} {saved}" in message
    assert f"older than {package} {minimum}" in message
    assert "the test dir" in message


def test_new_enough_versions_pass(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_pyproject(
        tmp_path, "setuptools>=40.8.0", "wheel", "python=3.9.1", "fastai=2.10.1", "fastcore>=1.3.27"
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        recorded = check_recorded_versions(tmp_path, source="x", fastai_min_version="2.4")
    assert recorded is not None
    assert recorded["fastai"].pinned_version == "2.10.1"
    assert recorded["fastcore"].pinned_version is None
    assert not [r for r in caplog.records if "older" in r.getMessage()]


def test_missing_file_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert check_recorded_versions(tmp_path, source="x") is None
    assert any("There is no pyproject.toml" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[project]\nname = "m"\n', "no [build-system] table"),
        ('[build-system]\nbuild-backend = "x"\n', "no 'requires' list"),
        ("[build-system\nrequires = [", "Cannot read"),
    ],
)
def test_missing_section_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, expected: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert read_recorded_versions(tmp_path) is None
    assert any(expected in r.getMessage() for r in caplog.records)


def test_other_packages_are_not_taken_for_fastai(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The old loader matched by prefix, so "fastai-extras=1.0" counted as fastai 1.0.
    write_pyproject(tmp_path, "fastai-extras=1.0", "fastcore=1.5.0", "fastai=>2")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        recorded = check_recorded_versions(tmp_path, source="x")
    assert recorded is not None and "fastai" not in recorded
    messages = [r.getMessage() for r in caplog.records]
    assert any("records no fastai version" in m for m in messages)
    assert any("unreadable entry 'fastai=>2'" in m for m in messages)


def test_installed_older_than_saved_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("fastcore", reason="fastcore is not installed")
    write_pyproject(tmp_path, "fastai=2.8", "fastcore=999.0")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        check_recorded_versions(tmp_path, source="x")
    assert any("saved with fastcore 999.0" in r.getMessage() for r in caplog.records)


def test_installed_versions_below_the_minimum_are_refused() -> None:
    pytest.importorskip("fastai", reason="fastai is not installed")
    assert check_installed_versions() == (installed_version("fastai"), installed_version("fastcore"))
    with pytest.raises(ImportError, match=r"fastai \S+ is installed, but .* needs fastai>=999"):
        check_installed_versions(fastai_min_version="999")
    with pytest.raises(ImportError, match=r"fastcore \S+ is installed, but .* needs fastcore>=999"):
        check_installed_versions(fastcore_min_version="999")
