"""Values returned by the client API (names and attributes follow the official client's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from ..constants import DEFAULT_ENDPOINT, REPO_TYPES_URL_PREFIXES


def parse_datetime(value: str | None) -> datetime | None:
    """Parse the hub's UTC ISO-8601 dates (``...Z``); None stays None."""
    if not value:
        return None
    text = value.replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def on_endpoint(url: str, endpoint: str | None) -> str:
    """``url`` with a leading ``https://huggingface.co`` replaced by ``endpoint``.

    A hub behind another endpoint (a mirror, a staging hub, a proxy) may still answer with links on the public hub
    (repo and commit URLs, LFS upload hrefs); following them would leave the endpoint the user chose.
    """
    if not endpoint:
        return url
    endpoint = endpoint.rstrip("/")
    if endpoint == DEFAULT_ENDPOINT or not url.startswith(DEFAULT_ENDPOINT):
        return url
    rest = url[len(DEFAULT_ENDPOINT) :]
    if rest and rest[0] not in "/?#":
        return url  # another host that merely starts the same (https://huggingface.co.example)
    return endpoint + rest


def repo_web_url(endpoint: str, repo_id: str, repo_type: str = "model") -> str:
    return f"{endpoint.rstrip('/')}/{REPO_TYPES_URL_PREFIXES[repo_type]}{repo_id}"


class RepoUrl(str):
    """The URL of a repo (a ``str``) with its parts: ``endpoint``, ``repo_type``, ``repo_id``, ``namespace``..."""

    endpoint: str
    repo_type: str
    repo_id: str
    namespace: str | None
    repo_name: str
    url: str

    def __new__(cls, url: str, endpoint: str | None = None) -> RepoUrl:
        url = on_endpoint(url, endpoint)
        self = super().__new__(cls, url)
        base = (endpoint or f"{urlsplit(url).scheme}://{urlsplit(url).netloc}").rstrip("/")
        rest = url[len(base) :].strip("/") if url.startswith(base) else urlsplit(url).path.strip("/")
        repo_type = "model"
        for candidate, prefix in REPO_TYPES_URL_PREFIXES.items():
            if prefix and rest.startswith(prefix):
                repo_type, rest = candidate, rest[len(prefix) :]
                break
        self.endpoint = base
        self.repo_type = repo_type
        self.repo_id = rest
        self.namespace, _, name = rest.rpartition("/")
        self.namespace = self.namespace or None
        self.repo_name = name
        self.url = str(url)
        return self

    def __repr__(self) -> str:
        return f"RepoUrl({str(self)!r}, endpoint={self.endpoint!r}, repo_type={self.repo_type!r}, repo_id={self.repo_id!r})"


class CommitInfo(str):
    """The result of a commit: a ``str`` (the commit URL) with ``oid``, ``commit_message``, ``pr_url``..."""

    commit_url: str
    commit_message: str
    commit_description: str
    oid: str
    pr_url: str | None
    pr_revision: str | None
    pr_num: int | None
    repo_url: RepoUrl

    def __new__(
        cls,
        commit_url: str,
        commit_message: str,
        commit_description: str,
        oid: str,
        pr_url: str | None = None,
        *,
        endpoint: str | None = None,
    ) -> CommitInfo:
        commit_url = on_endpoint(commit_url, endpoint)
        pr_url = on_endpoint(pr_url, endpoint) if pr_url else pr_url
        self = super().__new__(cls, commit_url)
        self.commit_url = commit_url
        self.commit_message = commit_message
        self.commit_description = commit_description
        self.oid = oid
        self.pr_url = pr_url
        self.repo_url = RepoUrl(commit_url.split("/commit/")[0], endpoint=endpoint)
        if pr_url:
            num = pr_url.rstrip("/").rsplit("/", 1)[-1]
            self.pr_num = int(num) if num.isdigit() else None
            self.pr_revision = f"refs/pr/{self.pr_num}" if self.pr_num is not None else None
        else:
            self.pr_num = None
            self.pr_revision = None
        return self

    def __repr__(self) -> str:
        return f"CommitInfo(oid={self.oid!r}, commit_url={self.commit_url!r}, pr_url={self.pr_url!r})"


@dataclass
class BlobLfsInfo:
    size: int
    sha256: str
    pointer_size: int | None = None


@dataclass
class LastCommitInfo:
    oid: str
    title: str
    date: datetime | None


@dataclass
class RepoFile:
    """A file of a repo tree (``list_repo_tree``)."""

    path: str
    size: int
    blob_id: str
    lfs: BlobLfsInfo | None = None
    last_commit: LastCommitInfo | None = None

    @property
    def rfilename(self) -> str:
        return self.path

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepoFile:
        lfs = data.get("lfs")
        last = data.get("lastCommit")
        return cls(
            path=data["path"],
            size=int(data.get("size", 0)),
            blob_id=data.get("oid", ""),
            lfs=BlobLfsInfo(size=int(lfs["size"]), sha256=lfs["oid"], pointer_size=lfs.get("pointerSize"))
            if lfs
            else None,
            last_commit=LastCommitInfo(
                oid=last["id"], title=last.get("title", ""), date=parse_datetime(last.get("date"))
            )
            if last
            else None,
        )


@dataclass
class RepoFolder:
    """A folder of a repo tree (``list_repo_tree``)."""

    path: str
    tree_id: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RepoFolder:
        return cls(path=data["path"], tree_id=data.get("oid", ""))


@dataclass
class RepoSibling:
    rfilename: str
    size: int | None = None
    blob_id: str | None = None
    lfs: BlobLfsInfo | None = None


@dataclass
class RepoInfo:
    """``repo_info`` / ``model_info``: the fields modelhub and the mixins read; the rest stays in ``raw``."""

    id: str
    sha: str | None
    private: bool
    author: str | None = None
    gated: Any = False
    disabled: bool = False
    last_modified: datetime | None = None
    created_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    library_name: str | None = None
    pipeline_tag: str | None = None
    card_data: dict[str, Any] | None = None
    downloads: int | None = None
    likes: int | None = None
    siblings: list[RepoSibling] | None = None
    repo_type: str = "model"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], repo_type: str = "model") -> RepoInfo:
        siblings = None
        if data.get("siblings") is not None:
            siblings = []
            for s in data["siblings"]:
                lfs = s.get("lfs")
                siblings.append(
                    RepoSibling(
                        rfilename=s["rfilename"],
                        size=s.get("size"),
                        blob_id=s.get("blobId"),
                        lfs=BlobLfsInfo(
                            size=int(lfs["size"]), sha256=lfs["sha256"], pointer_size=lfs.get("pointerSize")
                        )
                        if lfs
                        else None,
                    )
                )
        return cls(
            id=data["id"],
            sha=data.get("sha"),
            private=bool(data.get("private", False)),
            author=data.get("author"),
            gated=data.get("gated", False),
            disabled=bool(data.get("disabled", False)),
            last_modified=parse_datetime(data.get("lastModified")),
            created_at=parse_datetime(data.get("createdAt")),
            tags=list(data.get("tags") or []),
            library_name=data.get("library_name"),
            pipeline_tag=data.get("pipeline_tag"),
            card_data=data.get("cardData"),
            downloads=data.get("downloads"),
            likes=data.get("likes"),
            siblings=siblings,
            repo_type=repo_type,
            raw=data,
        )


ModelInfo = RepoInfo
DatasetInfo = RepoInfo
SpaceInfo = RepoInfo


@dataclass
class GitRefInfo:
    name: str
    ref: str
    target_commit: str


@dataclass
class GitRefs:
    branches: list[GitRefInfo]
    tags: list[GitRefInfo]
    converts: list[GitRefInfo]
    pull_requests: list[GitRefInfo] | None = None


@dataclass
class GitCommitInfo:
    commit_id: str
    authors: list[str]
    created_at: datetime | None
    title: str
    message: str
    formatted_title: str | None = None
    formatted_message: str | None = None


@dataclass
class Discussion:
    num: int
    title: str
    status: str
    is_pull_request: bool
    author: str | None
    created_at: datetime | None
    repo_id: str
    repo_type: str
    endpoint: str

    @property
    def git_reference(self) -> str | None:
        return f"refs/pr/{self.num}" if self.is_pull_request else None

    @property
    def url(self) -> str:
        return f"{repo_web_url(self.endpoint, self.repo_id, self.repo_type)}/discussions/{self.num}"
