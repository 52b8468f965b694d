"""``HubApi``: repos, refs, commits, discussions and uploads on a hub (ours or huggingface.co).

Every method takes the keyword arguments of the official client's ``HfApi`` method of the same name. The endpoint
and token are read when a call is made (``HF_ENDPOINT``, ``HF_TOKEN``, token file), unless given to the
constructor or to the call.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from .. import constants
from .._common.validation import is_commit_hash, validate_repo_id, validate_repo_type, validate_revision
from ..constants import REPO_TYPES_API_PLURAL
from ..errors import (
    BadRequestError,
    ConflictError,
    GatedRepoError,
    HfHubHTTPError,
    HubConnectionError,
    HubError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    RevisionResolutionError,
    UnauthorizedError,
)
from . import http
from ._refs import RefsMixin
from ._revisions import ResolvedRevision, forget_resolved_revisions
from .cache_layout import RepoCache
from .operations import CommitOperation, CommitOperationAdd, CommitOperationDelete
from .types import (
    CommitInfo,
    GitCommitInfo,
    GitRefInfo,
    GitRefs,
    RepoFile,
    RepoFolder,
    RepoInfo,
    RepoUrl,
    parse_datetime,
    repo_web_url,
)

logger = logging.getLogger(__name__)

BUSY_MESSAGE = "Cannot create repo: another conflicting operation is in progress"
BUSY_RETRIES = 5


def _q(value: str) -> str:
    return http.quote_segment(value)


class HubApi(RefsMixin):
    """Client of the hub HTTP API. ``endpoint``/``token`` default to the environment, read at each call."""

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | bool | None = None,
        library_name: str | None = None,
        library_version: str | None = None,
        user_agent: dict[str, str] | str | None = None,
        headers: dict[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.token = token
        self.library_name = library_name
        self.library_version = library_version
        self.user_agent = user_agent
        self.extra_headers = headers
        self.proxies = proxies

    # --- plumbing -------------------------------------------------------------------------------------------------
    def endpoint_url(self) -> str:
        return self.endpoint or constants.endpoint()

    def headers(self, token: str | bool | None = None) -> dict[str, str]:
        """Request headers for a call; the call's ``token`` wins over the constructor's."""
        return http.build_headers(
            token if token is not None else self.token,
            library_name=self.library_name,
            library_version=self.library_version,
            user_agent_extra=self.user_agent,
            headers=self.extra_headers,
        )

    def _api(self, repo_type: str, repo_id: str, *parts: str) -> str:
        tail = "/".join(parts)
        return f"{self.endpoint_url()}/api/{REPO_TYPES_API_PLURAL[repo_type]}/{repo_id}" + (
            f"/{tail}" if tail else ""
        )

    def _ctx(
        self, repo_id: str | None = None, repo_type: str | None = None, revision: str | None = None, **kw: Any
    ) -> http.Context:
        return http.Context(
            repo_id=repo_id, repo_type=repo_type, revision=revision, endpoint=self.endpoint_url(), **kw
        )

    def _call(
        self,
        method: str,
        url: str,
        *,
        token: str | bool | None = None,
        ctx: http.Context | None = None,
        **kwargs: Any,
    ) -> Any:
        return http.request(method, url, headers=self.headers(token), proxies=self.proxies, ctx=ctx, **kwargs)

    def _paginate(
        self, url: str, *, token: str | bool | None, params: dict[str, Any] | None, ctx: http.Context
    ) -> Iterator[Any]:
        """The items of a paginated JSON-array listing (every page)."""
        return http.paginate(url, headers=self.headers(token), params=params, proxies=self.proxies, ctx=ctx)

    # --- users ----------------------------------------------------------------------------------------------------
    def whoami(self, token: str | bool | None = None) -> dict[str, Any]:
        """Who the token belongs to (``name``, ``orgs``, ``auth.accessToken.role``)."""
        headers = self.headers(token)
        if "authorization" not in headers:
            raise UnauthorizedError(
                "whoami needs a token: run `modelhub login`, set HF_TOKEN, or pass token='hf_...'."
            )
        return http.request(
            "GET",
            f"{self.endpoint_url()}/api/whoami-v2",
            headers=headers,
            proxies=self.proxies,
            ctx=self._ctx(action="identify"),
        ).json()

    # --- cards --------------------------------------------------------------------------------------------------------
    def validate_yaml(
        self, content: str, *, repo_type: str | None = None, token: str | bool | None = None
    ) -> None:
        """Have the hub check a README.md's metadata (``POST /api/validate-yaml``); ValueError if it is refused."""
        try:
            self._call(
                "POST",
                f"{self.endpoint_url()}/api/validate-yaml",
                token=token,
                json={"repoType": validate_repo_type(repo_type), "content": content},
                ctx=self._ctx(repo_type=repo_type, action="validate the card"),
            )
        except BadRequestError as exc:
            messages: list[str] = []
            try:
                body = exc.response.json()
                messages = [str(e.get("message", e)) for e in body.get("errors", [])]
            except (AttributeError, ValueError, TypeError):
                pass
            raise ValueError(
                f"The hub refused the card's metadata: {'; '.join(messages) or exc}. Fix the YAML block at the "
                "top of the README.md."
            ) from exc

    # --- repos --------------------------------------------------------------------------------------------------------
    def create_repo(
        self,
        repo_id: str,
        *,
        token: str | bool | None = None,
        private: bool | None = None,
        repo_type: str | None = None,
        exist_ok: bool = False,
        space_sdk: str | None = None,
    ) -> RepoUrl:
        """Create ``namespace/name`` (or ``name`` in the token's namespace). ``exist_ok`` reuses an existing one."""
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        organization, _, name = repo_id.rpartition("/")
        body: dict[str, Any] = {"name": name, "organization": organization or None}
        if repo_type != "model":
            body["type"] = repo_type
        if private is not None:
            body["visibility"] = "private" if private else "public"
            body["private"] = bool(private)  # older servers read this one
        if repo_type == "space":
            body["sdk"] = space_sdk or "static"
        endpoint = self.endpoint_url()
        for attempt in range(BUSY_RETRIES + 1):
            response = http.request(
                "POST",
                f"{endpoint}/api/repos/create",
                headers=self.headers(token),
                json=body,
                proxies=self.proxies,
                ctx=self._ctx(repo_id, repo_type, action="create repos"),
                raise_errors=False,
            )
            # the Hub answers 409 "another conflicting operation is in progress" while it is busy with the repo
            if response.status_code != 409 or BUSY_MESSAGE not in response.text or attempt == BUSY_RETRIES:
                break
            time.sleep(http.retry_delay(attempt, response))
        if response.status_code == 409 and exist_ok:
            try:
                url = response.json()["url"]
            except (ValueError, KeyError):
                url = repo_web_url(endpoint, repo_id, repo_type)
            return RepoUrl(url, endpoint=endpoint)
        if response.status_code in (401, 403) and exist_ok and organization:
            try:
                self.repo_info(repo_id, repo_type=repo_type, token=token)
                return RepoUrl(repo_web_url(endpoint, repo_id, repo_type), endpoint=endpoint)
            except HubError:
                pass
        if response.status_code == 409:
            raise ConflictError(
                f"Repository {repo_id!r} ({repo_type}) already exists on {endpoint}: pass exist_ok=True to reuse it, "
                f"or choose another name. (server said: {http.server_message(response)})",
                response,
            )
        http.raise_for_status(response, self._ctx(repo_id, repo_type, action="create repos"))
        return RepoUrl(response.json()["url"], endpoint=endpoint)

    def delete_repo(
        self,
        repo_id: str,
        *,
        token: str | bool | None = None,
        repo_type: str | None = None,
        missing_ok: bool = False,
    ) -> None:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        organization, _, name = repo_id.rpartition("/")
        body: dict[str, Any] = {"name": name, "organization": organization or None}
        if repo_type != "model":
            body["type"] = repo_type
        try:
            self._call(
                "DELETE",
                f"{self.endpoint_url()}/api/repos/delete",
                token=token,
                json=body,
                ctx=self._ctx(repo_id, repo_type, action="delete this repo"),
            )
        except RepositoryNotFoundError:
            if not missing_ok:
                raise
        forget_resolved_revisions(repo_id, repo_type)

    def update_repo_settings(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        gated: Any = None,
        token: str | bool | None = None,
        repo_type: str | None = None,
    ) -> None:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        body: dict[str, Any] = {}
        if private is not None:
            body["visibility"] = "private" if private else "public"
        if gated is not None:
            body["gated"] = gated
        self._call(
            "PUT",
            self._api(repo_type, repo_id, "settings"),
            token=token,
            json=body,
            ctx=self._ctx(repo_id, repo_type, action="change settings"),
        )

    def repo_info(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        repo_type: str | None = None,
        token: str | bool | None = None,
        files_metadata: bool = False,
        timeout: float | None = None,
    ) -> RepoInfo:
        """Metadata of a repo at ``revision`` (default branch): ``sha``, ``private``, ``siblings``..."""
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        parts = ("revision", _q(validate_revision(revision))) if revision is not None else ()
        params = {"blobs": "true"} if files_metadata else None
        response = self._call(
            "GET",
            self._api(repo_type, repo_id, *parts),
            token=token,
            params=params,
            timeout=timeout,
            ctx=self._ctx(repo_id, repo_type, revision),
        )
        return RepoInfo.from_json(response.json(), repo_type)

    def resolve_revision(
        self,
        repo_id: str,
        *,
        repo_type: str | None = None,
        revision: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
    ) -> ResolvedRevision:
        """``revision`` (default branch when None) resolved to its commit, recorded in the cache's ``refs/``.

        Pass the result as ``revision=`` to every download of a multi-file load: all of them then read that one
        commit, with no request on a warm cache. A ResolvedRevision of this repo is returned as is (one of another
        repo is resolved again from the revision it was asked for); a commit id is its own resolution. When the hub
        cannot be reached (or answers 5xx), or offline, the commit recorded in the cache is used;
        RevisionResolutionError when there is none. RepositoryNotFoundError / RevisionNotFoundError as the hub says.
        """
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        if isinstance(revision, ResolvedRevision):
            if revision.fits(repo_id, repo_type):
                return revision
            revision = revision.initial
        if revision is not None and is_commit_hash(revision):
            return ResolvedRevision(revision, revision, repo_id, repo_type)
        wanted = validate_revision(revision or constants.DEFAULT_REVISION)
        cache = RepoCache(cache_dir, repo_id, repo_type)
        error: Exception | None = None
        if local_files_only or constants.is_offline():
            why = "local_files_only=True" if local_files_only else "offline mode is on (HF_HUB_OFFLINE=1)"
        else:
            try:
                sha = self.repo_info(repo_id, repo_type=repo_type, revision=revision, token=token).sha
            except (HubConnectionError, OfflineModeIsEnabled) as exc:
                error = exc
            except HfHubHTTPError as exc:
                if (exc.status_code or 0) < 500:
                    raise  # the hub answered: no such repo or revision, no access
                error = exc
            else:
                if sha is None:
                    raise RevisionNotFoundError(
                        f"Revision {wanted!r} of {repo_id!r} has no commit (the repo is empty): push a commit first."
                    )
                cache.write_ref(wanted, sha)
                return ResolvedRevision(sha, revision, repo_id, repo_type)
            why = f"the hub could not be reached ({type(error).__name__}: {error})"
        commit = cache.read_ref(wanted)
        if commit is None:
            raise RevisionResolutionError(
                f"Cannot resolve revision {wanted!r} of {repo_type} {repo_id!r}: {why}, and the cache has no commit "
                f"recorded for it ({cache.ref_path(wanted)}). Go online once (or download the repo) to record it."
            ) from error
        if error is not None:
            logger.warning("%s; using the commit recorded in the cache for %s@%s", why, repo_id, wanted)
        return ResolvedRevision(commit, revision, repo_id, repo_type)

    def model_info(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        token: str | bool | None = None,
        files_metadata: bool = False,
        timeout: float | None = None,
    ) -> RepoInfo:
        return self.repo_info(
            repo_id,
            revision=revision,
            repo_type="model",
            token=token,
            files_metadata=files_metadata,
            timeout=timeout,
        )

    def dataset_info(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        token: str | bool | None = None,
        files_metadata: bool = False,
    ) -> RepoInfo:
        return self.repo_info(
            repo_id, revision=revision, repo_type="dataset", token=token, files_metadata=files_metadata
        )

    def repo_exists(
        self, repo_id: str, *, repo_type: str | None = None, token: str | bool | None = None
    ) -> bool:
        """True if the repo exists (a gated repo exists even when the token has no access to it)."""
        try:
            self.repo_info(repo_id, repo_type=repo_type, token=token)
        except GatedRepoError:
            return True
        except RepositoryNotFoundError:
            return False
        return True

    def revision_exists(
        self, repo_id: str, revision: str, *, repo_type: str | None = None, token: str | bool | None = None
    ) -> bool:
        """True if ``revision`` exists in the repo (False also when the repo does not exist or is not visible)."""
        try:
            self.repo_info(repo_id, revision=revision, repo_type=repo_type, token=token)
        except (RevisionNotFoundError, RepositoryNotFoundError):
            return False
        return True

    def file_exists(
        self,
        repo_id: str,
        filename: str,
        *,
        repo_type: str | None = None,
        revision: str | None = None,
        token: str | bool | None = None,
    ) -> bool:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        rev = validate_revision(revision or constants.DEFAULT_REVISION)
        url = f"{repo_web_url(self.endpoint_url(), repo_id, repo_type)}/resolve/{_q(rev)}/{http.quote_path(filename)}"
        try:
            self._call(
                "HEAD",
                url,
                token=token,
                follow_redirects=False,
                ctx=self._ctx(repo_id, repo_type, rev, filename=filename),
            )
        except GatedRepoError:  # it may well exist: say the repo needs access rather than "no"
            raise
        except (RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError):
            return False
        return True

    # --- listing ------------------------------------------------------------------------------------------------------
    def list_repo_tree(
        self,
        repo_id: str,
        path_in_repo: str | None = None,
        *,
        recursive: bool = False,
        expand: bool = False,
        revision: str | None = None,
        repo_type: str | None = None,
        token: str | bool | None = None,
    ) -> Iterator[RepoFile | RepoFolder]:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        rev = validate_revision(revision or constants.DEFAULT_REVISION)
        parts = ["tree", _q(rev)]
        if path_in_repo:
            parts.append(_q(path_in_repo.strip("/")))
        params = {"recursive": str(recursive).lower(), "expand": str(expand).lower()}
        ctx = self._ctx(repo_id, repo_type, rev, filename=path_in_repo)
        for item in self._paginate(
            self._api(repo_type, repo_id, *parts), token=token, params=params, ctx=ctx
        ):
            yield RepoFile.from_json(item) if item.get("type") == "file" else RepoFolder.from_json(item)

    def list_repo_files(
        self,
        repo_id: str,
        *,
        revision: str | None = None,
        repo_type: str | None = None,
        token: str | bool | None = None,
    ) -> list[str]:
        return [
            entry.path
            for entry in self.list_repo_tree(
                repo_id, recursive=True, revision=revision, repo_type=repo_type, token=token
            )
            if isinstance(entry, RepoFile)
        ]

    def list_repo_refs(
        self,
        repo_id: str,
        *,
        repo_type: str | None = None,
        include_pull_requests: bool = False,
        token: str | bool | None = None,
    ) -> GitRefs:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        data = self._call(
            "GET",
            self._api(repo_type, repo_id, "refs"),
            token=token,
            params={"include_prs": "1"} if include_pull_requests else None,
            ctx=self._ctx(repo_id, repo_type),
        ).json()

        def refs(items: list[dict[str, Any]] | None) -> list[GitRefInfo]:
            return [
                GitRefInfo(name=r["name"], ref=r["ref"], target_commit=r["targetCommit"]) for r in items or []
            ]

        return GitRefs(
            branches=refs(data.get("branches")),
            tags=refs(data.get("tags")),
            converts=refs(data.get("converts")),
            pull_requests=refs(data.get("pullRequests")) if include_pull_requests else None,
        )

    def list_repo_commits(
        self,
        repo_id: str,
        *,
        repo_type: str | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        formatted: bool = False,
    ) -> list[GitCommitInfo]:
        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        rev = validate_revision(revision or constants.DEFAULT_REVISION)
        params = {"expand[]": "formatted"} if formatted else None
        result = []
        for item in self._paginate(
            self._api(repo_type, repo_id, "commits", _q(rev)),
            token=token,
            params=params,
            ctx=self._ctx(repo_id, repo_type, rev),
        ):
            fmt = item.get("formatted") or {}
            result.append(
                GitCommitInfo(
                    commit_id=item["id"],
                    authors=[a.get("user", "") for a in item.get("authors", [])],
                    created_at=parse_datetime(item.get("date")),
                    title=item.get("title", ""),
                    message=item.get("message", ""),
                    formatted_title=fmt.get("title"),
                    formatted_message=fmt.get("message"),
                )
            )
        return result

    # --- commits and uploads ------------------------------------------------------------------------------------------
    def create_commit(
        self,
        repo_id: str,
        operations: Iterable[CommitOperation],
        *,
        commit_message: str,
        commit_description: str | None = None,
        token: str | bool | None = None,
        repo_type: str | None = None,
        revision: str | None = None,
        create_pr: bool | None = None,
        num_threads: int = 5,
        parent_commit: str | None = None,
    ) -> CommitInfo:
        from .upload import create_commit

        return create_commit(
            self,
            repo_id,
            operations,
            commit_message=commit_message,
            commit_description=commit_description,
            token=token,
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            parent_commit=parent_commit,
            num_threads=num_threads,
        )

    def upload_file(
        self,
        *,
        path_or_fileobj: str | os.PathLike[str] | bytes | BinaryIO,
        path_in_repo: str,
        repo_id: str,
        token: str | bool | None = None,
        repo_type: str | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        commit_description: str | None = None,
        create_pr: bool | None = None,
        parent_commit: str | None = None,
    ) -> CommitInfo:
        op = CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=path_or_fileobj)
        return self.create_commit(
            repo_id,
            [op],
            commit_message=commit_message or f"Upload {op.path_in_repo} with modelhub",
            commit_description=commit_description,
            token=token,
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            parent_commit=parent_commit,
        )

    def upload_folder(
        self,
        *,
        repo_id: str,
        folder_path: str | os.PathLike[str],
        path_in_repo: str | None = None,
        commit_message: str | None = None,
        commit_description: str | None = None,
        token: str | bool | None = None,
        repo_type: str | None = None,
        revision: str | None = None,
        create_pr: bool | None = None,
        parent_commit: str | None = None,
        allow_patterns: str | list[str] | None = None,
        ignore_patterns: str | list[str] | None = None,
        delete_patterns: str | list[str] | None = None,
    ) -> CommitInfo:
        """Upload the files of ``folder_path`` (filtered by the patterns) in one commit; ``delete_patterns`` removes
        the remote files under ``path_in_repo`` that match and are not being uploaded."""
        from .upload import upload_folder_operations

        validate_repo_id(repo_id, allow_bare_name=True)
        repo_type = validate_repo_type(repo_type)
        ops = upload_folder_operations(
            self,
            repo_id=repo_id,
            folder_path=folder_path,
            path_in_repo=path_in_repo,
            repo_type=repo_type,
            revision=revision or constants.DEFAULT_REVISION,
            token=token,
            allow_patterns=allow_patterns,
            ignore_patterns=ignore_patterns,
            delete_patterns=delete_patterns,
        )
        if not ops:
            raise HubError(
                f"Nothing to upload from {str(folder_path)!r}: no file matches allow_patterns={allow_patterns!r} "
                f"/ ignore_patterns={ignore_patterns!r}."
            )
        return self.create_commit(
            repo_id,
            ops,
            commit_message=commit_message or "Upload folder using modelhub",
            commit_description=commit_description,
            token=token,
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            parent_commit=parent_commit,
        )

    def delete_file(
        self,
        path_in_repo: str,
        repo_id: str,
        *,
        token: str | bool | None = None,
        repo_type: str | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        create_pr: bool | None = None,
        parent_commit: str | None = None,
    ) -> CommitInfo:
        """Delete one file in a commit."""
        return self.create_commit(
            repo_id,
            [CommitOperationDelete(path_in_repo=path_in_repo, is_folder=False)],
            commit_message=commit_message or f"Delete {path_in_repo} with modelhub",
            token=token,
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            parent_commit=parent_commit,
        )

    def delete_folder(
        self,
        path_in_repo: str,
        repo_id: str,
        *,
        token: str | bool | None = None,
        repo_type: str | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        create_pr: bool | None = None,
        parent_commit: str | None = None,
    ) -> CommitInfo:
        """Delete a folder and everything below it in a commit."""
        return self.create_commit(
            repo_id,
            [CommitOperationDelete(path_in_repo=path_in_repo, is_folder=True)],
            commit_message=commit_message or f"Delete folder {path_in_repo} with modelhub",
            token=token,
            repo_type=repo_type,
            revision=revision,
            create_pr=create_pr,
            parent_commit=parent_commit,
        )

    # --- downloads (thin wrappers so an HubApi's endpoint/token apply) ----------------------------------------------
    def hf_hub_download(self, repo_id: str, filename: str, **kwargs: Any) -> str:
        from .download import hub_download

        for key, value in self._download_defaults().items():
            kwargs.setdefault(key, value)
        return hub_download(repo_id, filename, **kwargs)

    hub_download = hf_hub_download

    def snapshot_download(self, repo_id: str, **kwargs: Any) -> str:
        from .download import snapshot_download

        for key, value in self._download_defaults().items():
            kwargs.setdefault(key, value)
        return snapshot_download(repo_id, **kwargs)

    def _download_defaults(self) -> dict[str, Any]:
        """What this HubApi was configured with, as download keyword arguments."""
        return {
            "endpoint": self.endpoint,
            "token": self.token,
            "proxies": self.proxies,
            "headers": self.extra_headers,
            "library_name": self.library_name,
            "library_version": self.library_version,
            "user_agent": self.user_agent,
        }


HfApi = HubApi
_default = HubApi()

# Module-level functions bound to a default HubApi (endpoint and token read from the environment at each call).
whoami = _default.whoami
create_repo = _default.create_repo
delete_repo = _default.delete_repo
update_repo_settings = _default.update_repo_settings
repo_info = _default.repo_info
resolve_revision = _default.resolve_revision
model_info = _default.model_info
dataset_info = _default.dataset_info
repo_exists = _default.repo_exists
revision_exists = _default.revision_exists
file_exists = _default.file_exists
list_repo_tree = _default.list_repo_tree
list_repo_files = _default.list_repo_files
list_repo_refs = _default.list_repo_refs
list_repo_commits = _default.list_repo_commits
create_branch = _default.create_branch
delete_branch = _default.delete_branch
create_tag = _default.create_tag
delete_tag = _default.delete_tag
get_repo_discussions = _default.get_repo_discussions
create_pull_request = _default.create_pull_request
merge_pull_request = _default.merge_pull_request
change_discussion_status = _default.change_discussion_status
create_commit = _default.create_commit
upload_file = _default.upload_file
upload_folder = _default.upload_folder
delete_file = _default.delete_file
delete_folder = _default.delete_folder


def get_full_repo_name(
    model_id: str, *, organization: str | None = None, token: str | bool | None = None
) -> str:
    """``organization/model_id``, or ``<your user>/model_id`` from ``whoami``."""
    namespace = organization or _default.whoami(token)["name"]
    return f"{namespace}/{model_id}"
