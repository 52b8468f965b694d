"""Tokens: where they come from, and the standard token files ``modelhub login`` writes.

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
from ..errors import HubError, UnauthorizedError
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


def get_token() -> str | None:
    """The token the environment provides (``HF_TOKEN``, legacy variable, then the token file), or None."""
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(var)
        if value and value.strip():
            return value.strip()
    return _read_secret(constants.token_path())


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
            raise UnauthorizedError(
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


def _write_stored_tokens(tokens: dict[str, str]) -> None:
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
    _write_stored_tokens(tokens)
    if make_active:
        _write_secret(constants.token_path(), token)


def login(
    token: str | None = None,
    *,
    add_to_git_credential: bool = False,
    endpoint: str | None = None,
    verify: bool = True,
) -> dict[str, object] | None:
    """Check ``token`` with ``whoami`` (unless ``verify=False``) and save it as the active token.

    Returns the whoami answer when verified. ``add_to_git_credential`` is accepted for compatibility and ignored
    (modelhub never runs git).
    """
    if token is None:
        import getpass

        token = getpass.getpass("Token (input hidden): ").strip()
    if not token:
        raise HubError(
            "No token given: create one in your hub settings, then run `modelhub login --token hf_...`."
        )
    if token.startswith("api_org"):
        raise HubError("Organization API tokens (api_org...) cannot log in: use a personal access token.")
    info = None
    name = "default"
    if verify:
        from .api import HubApi

        info = HubApi(endpoint=endpoint).whoami(token=token)
        access = (info.get("auth") or {}).get("accessToken") or {}
        name = str(access.get("displayName") or f"token-{info.get('name', 'user')}")
    save_token(token, name)
    if add_to_git_credential:
        logger.info("add_to_git_credential is ignored: modelhub does not use git.")
    if os.environ.get("HF_TOKEN"):
        logger.warning("HF_TOKEN is set in the environment: it takes precedence over the token just saved.")
    return info


def logout(token_name: str | None = None) -> None:
    """Forget the active token (and, with ``token_name``, only that stored token; with None, all of them)."""
    tokens = read_stored_tokens()
    active = _read_secret(constants.token_path())
    if token_name is not None:
        if token_name not in tokens:
            raise HubError(
                f"No stored token named {token_name!r}; stored names: {', '.join(tokens) or 'none'}."
            )
        removed = tokens.pop(token_name)
        _write_stored_tokens(tokens)
        if removed == active:
            constants.token_path().unlink(missing_ok=True)
        return
    constants.token_path().unlink(missing_ok=True)
    constants.stored_tokens_path().unlink(missing_ok=True)
    if os.environ.get("HF_TOKEN"):
        logger.warning("HF_TOKEN is set in the environment: unset it to be fully logged out.")
