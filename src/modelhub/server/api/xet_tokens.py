"""The hub's Xet token routes: ``xet-read-token`` / ``xet-write-token`` hand out a CAS token scoped to one repo
and to read or write, in the JSON body (hf_xet) and in ``X-Xet-*`` headers (huggingface_hub's download path)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..domain import xetfiles
from . import _http as h
from .errors import NotFound

router = APIRouter()
CAS_PREFIX = "/cas"  # where app.create_app mounts the CAS router (xet/routes.py)


def cas_url(request: Request) -> str:
    return h.base_url(request) + CAS_PREFIX


def _token(request: Request, plural: str, namespace: str, name: str, revision: str, write: bool) -> Response:
    p = h.principal(request)
    rid = h.repo_id_from(namespace, name)
    service = h.hub(request)
    creating_pr = request.query_params.get("create_pr") in ("1", "true", "True")
    with service.sessions() as db:
        # uploads: writers, and contributors sending a pull request (the commit route then checks the ref);
        # downloads: those who may have the files of a gated repo, as for resolve
        repo_type = h.PLURAL_TO_TYPE[plural]
        if write:
            repo = service.uploadable_repo(db, p, repo_type, rid)
        else:
            repo = service.downloadable_repo(db, p, repo_type, rid, h.repo_web_url(request, repo_type, rid))
        # `None?create_pr=1` is what create_commit sends while the PR does not exist yet
        if not (write and (creating_pr or revision == "None")):
            try:
                service.resolve(db, repo, h.revision_from(revision))
            except NotFound:
                if not write:
                    raise
    token, exp = xetfiles.issue_token(
        request.app.state.secret, repo.id, write, p.token_id if p else 0, p.token_hash if p else ""
    )
    url = cas_url(request)
    headers = {"X-Xet-Cas-Url": url, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(exp)}
    return h.json_response({"accessToken": token, "exp": exp, "casUrl": url}, headers=headers)


@router.get("/api/{plural:plural}/{namespace}/{name}/xet-read-token/{revision}", tags=["files"])
def xet_read_token(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """A read-scoped CAS token for the repo (downloads through Xet)."""
    return _token(request, plural, namespace, name, revision, write=False)


@router.get("/api/{plural:plural}/{namespace}/{name}/xet-write-token/{revision}", tags=["files"])
def xet_write_token(request: Request, plural: str, namespace: str, name: str, revision: str) -> Response:
    """A write-scoped CAS token for the repo (uploads through Xet; also hf_xet's refresh route)."""
    return _token(request, plural, namespace, name, revision, write=True)
