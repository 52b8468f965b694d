"""Changing a repo's settings from the web pages: visibility, deletion (the JSON API has its own routes)."""

from __future__ import annotations

from sqlalchemy import update

from ..storage.db import Repo
from .accounts import Principal
from .errors import bad_request
from .hub import HubService


def set_visibility(
    service: HubService, principal: Principal | None, repo_type: str, repo_id: str, private: bool
) -> None:
    with service.sessions() as db:
        repo = service.writable_repo(db, principal, repo_type, repo_id)
        db.execute(update(Repo).where(Repo.id == repo.id).values(private=private))
        db.commit()


def delete_repo(
    service: HubService, principal: Principal | None, repo_type: str, repo_id: str, typed: str
) -> None:
    """Delete the repo if ``typed`` (what the user typed to confirm) is its full id."""
    with service.sessions() as db:
        repo = service.writable_repo(db, principal, repo_type, repo_id)
    if typed.strip() != repo_id:
        raise bad_request(
            f"To delete the repo, type its full name {repo_id!r} exactly (you typed {typed[:200]!r})."
        )
    service.delete_repo(repo.id)
