"""Account routes: ``whoami-v2``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain.accounts import Principal, Scope, org_names
from ..storage.db import Account
from . import _http as h
from .errors import ApiError

router = APIRouter()
REPO = "/api/{plural:plural}/{namespace}/{name}"


@router.get("/api/whoami-v2", tags=["accounts"])
def whoami(request: Request) -> Response:
    """Who the token belongs to (name, orgs, token role)."""
    p = h.principal(request)
    if p is None:
        raise ApiError(
            401, "Authentication required: pass a token (Authorization: Bearer ...).", "Unauthorized"
        )
    with h.hub(request).sessions() as db:
        acc = db.get(Account, p.user_id)
        orgs = org_names(db, p.user_id)
    return h.json_response(
        {
            "type": "user",
            "id": str(p.user_id),
            "name": p.name,
            "fullname": acc.fullname if acc else p.name,
            "isAdmin": p.is_admin,
            "orgs": [{"name": o, "type": "org"} for o in orgs],
            "auth": {"type": "access_token", "accessToken": _token_json(p)},
        }
    )


def _token_json(p: Principal) -> dict[str, Any]:
    """A classic token: its role. A fine-grained one as the Hub reports it: role ``fineGrained`` and the entities
    it is limited to, each with the permissions the token's role gives there."""
    if p.scopes is None:
        return {"displayName": p.token_name, "role": p.role}
    perms = ["repo.content.read", "discussion.write", "repo.write"] if p.can_write else ["repo.content.read"]
    scoped = [
        {
            "entity": {"type": _entity_type(p, s), "name": s.name},
            "permissions": perms,
        }
        for s in p.scopes
    ]
    return {
        "displayName": p.token_name,
        "role": "fineGrained",
        "fineGrained": {"canReadGatedRepos": True, "global": [], "scoped": scoped, "baseRole": p.role},
    }


def _entity_type(p: Principal, scope: Scope) -> str:
    if scope.kind == "repo":
        return scope.repo_type
    return "user" if scope.name.lower() == p.name.lower() else "org"
