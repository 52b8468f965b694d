"""Token resolution order and the standard token files."""

import os
import stat
import subprocess
import sys

import pytest

from modelhub import constants
from modelhub.client import auth, login, logout
from modelhub.errors import HubError, UnauthorizedError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_DISABLE_IMPLICIT_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "home"


def test_order_argument_env_file(home, monkeypatch):
    assert auth.get_token() is None and auth.token_to_send(None) is None
    auth.save_token("hf_file", "laptop")
    assert auth.token_to_send(None) == "hf_file"
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
    assert auth.token_to_send(None) == "hf_legacy"
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    assert auth.token_to_send(None) == "hf_env"
    assert auth.token_to_send("hf_arg") == "hf_arg"
    assert auth.token_to_send(False) is None


def test_implicit_token_disabled(home, monkeypatch):
    auth.save_token("hf_file", "x")
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    assert auth.token_to_send(None) is None
    assert auth.token_to_send(True) == "hf_file"
    assert auth.token_to_send("hf_arg") == "hf_arg"


def test_token_true_without_any_token(home):
    with pytest.raises(UnauthorizedError, match="modelhub login"):
        auth.token_to_send(True)
    with pytest.raises(HubError, match="empty"):
        auth.token_to_send("  ")


def test_files_are_standard_and_private(home):
    auth.save_token("hf_one", "first")
    auth.save_token("hf_two", "second")
    token_file = home / "token"
    assert token_file.read_text() == "hf_two"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    text = (home / "stored_tokens").read_text()
    assert "[first]" in text and "hf_token = hf_one" in text and "[second]" in text
    assert auth.read_stored_tokens() == {"first": "hf_one", "second": "hf_two"}
    # the official client reads the same files (in a fresh process: it reads its environment at import)
    code = (
        "from huggingface_hub import get_token; from huggingface_hub.utils._auth import get_stored_tokens;"
        "print(get_token(), sorted(get_stored_tokens().items()))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")} | {"HF_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "hf_two [('first', 'hf_one'), ('second', 'hf_two')]"


def test_token_file_whitespace_and_path_env(home, monkeypatch, tmp_path):
    other = tmp_path / "elsewhere" / "tok"
    other.parent.mkdir()
    other.write_text("  hf_spaced \n")
    monkeypatch.setenv("HF_TOKEN_PATH", str(other))
    assert constants.token_path() == other
    assert auth.get_token() == "hf_spaced"


def test_logout(home):
    auth.save_token("hf_one", "first")
    auth.save_token("hf_two", "second")
    logout("second")  # the active one: file removed, the other stays stored
    assert not (home / "token").exists()
    assert auth.read_stored_tokens() == {"first": "hf_one"}
    with pytest.raises(HubError, match="No stored token named 'nope'"):
        logout("nope")
    logout()
    assert not (home / "stored_tokens").exists()


def test_login_rejects_org_tokens_without_network(home):
    with pytest.raises(HubError, match="api_org"):
        login("api_org_xyz", verify=False)
    login("hf_unverified", verify=False)
    assert auth.get_token() == "hf_unverified"
