"""``login`` and ``logout``: save a (checked) token as the active one, or forget stored tokens.

Kept apart from ``auth`` because ``login`` verifies the token with ``whoami`` through ``api`` (and so the HTTP
layer), while the HTTP layer imports ``auth`` to pick the token to send: with both in ``auth`` the client's modules
would import each other in a circle. The token files themselves are read and written by ``auth``.
"""

from __future__ import annotations

import logging
import os

from .. import constants
from ..errors import HubError
from .auth import read_stored_tokens, read_token_file, save_token, write_stored_tokens

logger = logging.getLogger(__name__)


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
        # imported here, not at the top, so that ``logout`` (and the CLI) do not load httpx for nothing
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
    active = read_token_file()
    if token_name is not None:
        if token_name not in tokens:
            raise HubError(
                f"No stored token named {token_name!r}; stored names: {', '.join(tokens) or 'none'}."
            )
        removed = tokens.pop(token_name)
        write_stored_tokens(tokens)
        if removed == active:
            constants.token_path().unlink(missing_ok=True)
        return
    constants.token_path().unlink(missing_ok=True)
    constants.stored_tokens_path().unlink(missing_ok=True)
    if os.environ.get("HF_TOKEN"):
        logger.warning("HF_TOKEN is set in the environment: unset it to be fully logged out.")
