"""Branches, tags, discussions and pull requests: the part of ``HubApi`` that manages refs.

A mixin of :class:`modelhub.client.api.HubApi`. What it needs of its host (the ``_call``, ``_api``, ``_ctx``
helpers, ``endpoint_url``, ``list_repo_refs``) is the :class:`_ApiHost` protocol, its methods' self-type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from .. import constants
from .._common.validation import validate_repo_id, validate_repo_type, validate_revision
from ..errors import ConflictError, ForbiddenError, HFValidationError
from . import http
from ._revisions import forget_resolved_revisions
from .types import Discussion, GitRefs, parse_datetime


def _q(value: str) -> str:
    return http.quote_segment(value)


class _ApiHost(Protocol):
    """What :class:`RefsMixin` needs of the class it is mixed into (``HubApi`` provides all of it)."""

    def endpoint_url(self) -> str: ...

    def _api(self, repo_type: str, repo_id: str, *parts: str) -> str: ...

    def _ctx(
        self, repo_id: str | None = None, repo_type: str | None = None, revision: str | None = None, **kw: Any
    ) -> http.Context: ...

    def _call(
        self,
        method: str,
        url: str,
        *,
        token: str | bool | None = None,
        ctx: http.Context | None = None,
        **kwargs: Any,
    ) -> Any: ...

    def list_repo_refs(
        self,
        repo_id: str,
        *,
        repo_type: str | None = None,
        include_pull_requests: bool = False,
        token: str | bool | None = None,
    ) -> GitRefs: ...


# --- branches and tags --------------------------------------------------------------------------------------
def _ref_write(
    api: _ApiHost,
    method: str,
    repo_id: str,
    repo_type: str | None,
    kind: str,
    name: str,
    *,
    token: str | bool | None,
    action: str,
    revision: str | None = None,
    body: dict[str, Any] | None = None,
    exist_ok: bool = False,
) -> None:
    """``POST``/``DELETE /api/{type}s/{repo}/{kind}/{name}`` (protocol section 4); a 409 is ignored with
    ``exist_ok``; resolutions of the repo's branches/tags remembered in this process are forgotten."""
    validate_repo_id(repo_id, allow_bare_name=True)
    repo_type = validate_repo_type(repo_type)
    try:
        api._call(
            method,
            api._api(repo_type, repo_id, kind, _q(validate_revision(name))),
            token=token,
            json=body,
            ctx=api._ctx(repo_id, repo_type, revision, action=action),
        )
    except ConflictError as exc:
        if not exist_ok:
            label = (body or {}).get("tag", name) if kind == "tag" else name
            raise ConflictError(
                f"{'Tag' if kind == 'tag' else 'Branch'} {label!r} already exists in {repo_id!r}: pass "
                f"exist_ok=True to keep it, or choose another name.",
                exc.response,
                server_message=exc.server_message,
                request_id=exc.request_id,
            ) from None
    forget_resolved_revisions(repo_id, repo_type)


def _has_branch(
    api: _ApiHost, repo_id: str, repo_type: str | None, branch: str, token: str | bool | None
) -> bool:
    refs = api.list_repo_refs(repo_id, repo_type=repo_type, token=token)
    return any(b.name == branch for b in refs.branches)


class RefsMixin:
    """Branch, tag and discussion methods of ``HubApi`` (each typed ``self: _ApiHost``)."""

    def create_branch(
        self: _ApiHost,
        repo_id: str,
        *,
        branch: str,
        revision: str | None = None,
        token: str | bool | None = None,
        repo_type: str | None = None,
        exist_ok: bool = False,
    ) -> None:
        """Create ``branch`` at ``revision`` (default: the head of the default branch)."""
        body = {"startingPoint": validate_revision(revision)} if revision is not None else {}
        try:
            _ref_write(
                self,
                "POST",
                repo_id,
                repo_type,
                "branch",
                branch,
                token=token,
                action="create branches",
                revision=revision,
                body=body,
                exist_ok=exist_ok,
            )
        except ForbiddenError:
            # as upstream: with exist_ok, a token that may not create branches is fine when the branch is there
            if not (exist_ok and _has_branch(self, repo_id, repo_type, branch, token)):
                raise

    def delete_branch(
        self: _ApiHost,
        repo_id: str,
        *,
        branch: str,
        token: str | bool | None = None,
        repo_type: str | None = None,
    ) -> None:
        _ref_write(
            self,
            "DELETE",
            repo_id,
            repo_type,
            "branch",
            branch,
            token=token,
            action="delete branches",
            revision=branch,
        )

    def create_tag(
        self: _ApiHost,
        repo_id: str,
        *,
        tag: str,
        tag_message: str | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
        repo_type: str | None = None,
        exist_ok: bool = False,
    ) -> None:
        """Tag ``revision`` (default: the default branch) as ``tag``."""
        validate_revision(tag)
        body: dict[str, Any] = {"tag": tag}
        if tag_message is not None:
            body["message"] = tag_message
        rev = revision or constants.DEFAULT_REVISION
        # the URL names the revision being tagged; the new tag's name travels in the body
        _ref_write(
            self,
            "POST",
            repo_id,
            repo_type,
            "tag",
            rev,
            token=token,
            action="create tags",
            revision=rev,
            body=body,
            exist_ok=exist_ok,
        )

    def delete_tag(
        self: _ApiHost,
        repo_id: str,
        *,
        tag: str,
        token: str | bool | None = None,
        repo_type: str | None = None,
    ) -> None:
        _ref_write(
            self, "DELETE", repo_id, repo_type, "tag", tag, token=token, action="delete tags", revision=tag
        )

    # --- discussions and pull requests -------------------------------------------------------------------------------
    def get_repo_discussions(
        self: _ApiHost,
        repo_id: str,
        *,
        author: str | None = None,
        discussion_type: str | None = None,
        discussion_status: str | None = None,
        repo_type: str | None = None,
        token: str | bool | None = None,
    ) -> Iterator[Discussion]:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        page = 0
        while True:
            params: dict[str, Any] = {"p": page}
            if author:
                params["author"] = author
            if discussion_type:
                params["type"] = discussion_type
            if discussion_status:
                params["status"] = discussion_status
            data = self._call(
                "GET",
                self._api(repo_type, repo_id, "discussions"),
                token=token,
                params=params,
                ctx=self._ctx(repo_id, repo_type),
            ).json()
            items = data.get("discussions", [])
            for d in items:
                yield Discussion(
                    num=int(d["num"]),
                    title=d.get("title", ""),
                    status=d.get("status", "open"),
                    is_pull_request=bool(d.get("isPullRequest")),
                    author=(d.get("author") or {}).get("name"),
                    created_at=parse_datetime(d.get("createdAt")),
                    repo_id=repo_id,
                    repo_type=repo_type,
                    endpoint=self.endpoint_url(),
                )
            if not items or data.get("start", 0) + len(items) >= data.get("count", 0):
                return
            page += 1

    def create_pull_request(
        self: _ApiHost,
        repo_id: str,
        title: str,
        *,
        description: str | None = None,
        token: str | bool | None = None,
        repo_type: str | None = None,
    ) -> int:
        """Open an empty pull request; returns its number (push to ``refs/pr/<num>`` to fill it)."""
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        body = {"title": title, "description": description or "", "pullRequest": True}
        data = self._call(
            "POST",
            self._api(repo_type, repo_id, "discussions"),
            token=token,
            json=body,
            ctx=self._ctx(repo_id, repo_type, action="open pull requests"),
        ).json()
        return int(data["num"])

    def merge_pull_request(
        self: _ApiHost,
        repo_id: str,
        discussion_num: int,
        *,
        token: str | bool | None = None,
        comment: str | None = None,
        repo_type: str | None = None,
    ) -> None:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        self._call(
            "POST",
            self._api(repo_type, repo_id, "discussions", str(int(discussion_num)), "merge"),
            token=token,
            json={"comment": comment} if comment else None,
            ctx=self._ctx(repo_id, repo_type, action="merge pull requests"),
        )
        forget_resolved_revisions(repo_id, repo_type)

    def change_discussion_status(
        self: _ApiHost,
        repo_id: str,
        discussion_num: int,
        new_status: str,
        *,
        token: str | bool | None = None,
        comment: str | None = None,
        repo_type: str | None = None,
    ) -> None:
        if new_status not in ("open", "closed"):
            raise HFValidationError(f"new_status must be 'open' or 'closed', not {new_status!r}.")
        repo_type = validate_repo_type(repo_type)
        body: dict[str, Any] = {"status": new_status}
        if comment:
            body["comment"] = comment
        self._call(
            "POST",
            self._api(
                repo_type,
                validate_repo_id(repo_id, allow_bare_name=True),
                "discussions",
                str(int(discussion_num)),
                "status",
            ),
            token=token,
            json=body,
            ctx=self._ctx(repo_id, repo_type),
        )
