"""Account routes: ``whoami-v2``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain.accounts import org_names
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
            "auth": {"type": "access_token", "accessToken": {"displayName": p.token_name, "role": p.role}},
        }
    )
