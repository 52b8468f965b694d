"""Tokens: where they come from, and the standard token files ``modelhub login`` writes.

``login`` and ``logout`` themselves live in ``_login`` (``login`` checks the token with ``whoami``, which needs the
HTTP layer, and the HTTP layer needs this module for the ``Authorization`` header).

Order (first hit wins): the ``token`` argument, ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN`` (legacy), the token file
``$HF_HOME/token`` (``HF_TOKEN_PATH``). ``token=False`` sends nothing; ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` stops the
environment / file token from being sent unless the caller passes ``token=True`` or a string.
Files: ``$HF_HOME/token`` (the active token, mode 0600) and ``stored_tokens`` beside it (INI, one section per
token name with ``hf_token = ...``), the same files the official client reads and writes.
"""

from __future__ import annotations

import configparser
import logging
import os
from pathlib import Path

from .. import constants
from ..errors import HubError, LocalTokenNotFoundError
from ._files import atomic_write_text

logger = logging.getLogger(__name__)


def _read_secret(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return value or None


def _write_secret(path: Path, value: str) -> None:
    """Write atomically with mode 0600 in a 0700-created directory: a token must never be world-readable."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(path.parent, 0o700)
        except OSError:
            pass
    atomic_write_text(path, value, mode=0o600)


def read_token_file() -> str | None:
    """The active token saved in the token file (``HF_TOKEN_PATH``), ignoring the environment, or None."""
    return _read_secret(constants.token_path())


def get_token() -> str | None:
    """The token the environment provides (``HF_TOKEN``, legacy variable, then the token file), or None."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(var)
        if value and value.strip():
            return value.strip()
    return read_token_file()


def token_to_send(token: str | bool | None) -> str | None:
    """The token to put in ``Authorization`` for a call given the caller's ``token`` argument."""
    if token is False:
        return None
    if isinstance(token, str):
        if not token.strip():
            raise HubError(
                "The token passed is empty: pass a token string, token=None to use the stored one, or False."
            )
        return token.strip()
    if token is True:
        found = get_token()
        if found is None:
            raise LocalTokenNotFoundError(
                "token=True but no token is configured: run `modelhub login`, set HF_TOKEN, or pass token='hf_...'."
            )
        return found
    if constants.implicit_token_disabled():
        return None
    return get_token()


def read_stored_tokens() -> dict[str, str]:
    """``{name: token}`` from the ``stored_tokens`` INI file (empty if there is none)."""
    path = constants.stored_tokens_path()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        logger.warning("ignoring malformed %s: %s", path, exc)
        return {}
    return {name: parser[name].get("hf_token", "") for name in parser.sections()}


def write_stored_tokens(tokens: dict[str, str]) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    for name in sorted(tokens):
        parser[name] = {"hf_token": tokens[name]}
    path = constants.stored_tokens_path()
    import io

    buf = io.StringIO()
    parser.write(buf)
    _write_secret(path, buf.getvalue())


def save_token(token: str, token_name: str, *, make_active: bool = True) -> None:
    """Store ``token`` under ``token_name`` in ``stored_tokens`` and (by default) make it the active token."""
    if not token or any(c.isspace() for c in token):
        raise HubError("Refusing to store an empty token or one containing whitespace.")
    tokens = read_stored_tokens()
    tokens[token_name] = token
    write_stored_tokens(tokens)
    if make_active:
        _write_secret(constants.token_path(), token)
