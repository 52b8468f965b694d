"""Pattern filtering: fnmatch semantics shared with the Hugging Face ecosystem."""

import pytest

from modelhub.client.patterns import filter_paths, normalize_patterns

FILES = ["config.json", "model.safetensors", "sub/a.bin", "sub/deep/b.bin", "README.md", "logs/x.txt"]


def test_no_patterns_keeps_everything():
    assert filter_paths(FILES) == FILES


def test_star_matches_across_slashes():
    assert filter_paths(FILES, allow_patterns="*.bin") == ["sub/a.bin", "sub/deep/b.bin"]


def test_folder_pattern_gets_star():
    assert normalize_patterns(["sub/"]) == ["sub/*"]
    assert filter_paths(FILES, allow_patterns=["sub/"]) == ["sub/a.bin", "sub/deep/b.bin"]


def test_ignore_after_allow():
    assert filter_paths(FILES, allow_patterns=["*.bin", "*.json"], ignore_patterns="sub/deep/*") == [
        "config.json",
        "sub/a.bin",
    ]


def test_case_sensitive_and_backslashes():
    assert filter_paths(FILES, allow_patterns="*.MD") == []
    assert filter_paths(FILES, allow_patterns="sub\\deep\\*") == ["sub/deep/b.bin"]


def test_key_and_type_errors():
    items = [{"p": "a.txt"}, {"p": "b.bin"}]
    assert filter_paths(items, allow_patterns="*.bin", key=lambda d: d["p"]) == [{"p": "b.bin"}]
    with pytest.raises(TypeError):
        filter_paths(items, allow_patterns="*")
    with pytest.raises(TypeError):
        normalize_patterns([3])
