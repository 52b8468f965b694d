"""Settings of the hub: one set for ``modelhub serve``, every ``modelhub admin`` command and the app factory run by
another ASGI server (``uvicorn --factory modelhub.server.app:create_app``).

Where the hub's data is comes from flags, else from environment variables (docs/deploy.md lists them):

| flag | environment | default |
|---|---|---|
| ``--data-dir`` | ``MODELHUB_DATA_DIR`` | none for ``admin``; ``./modelhub-data`` for ``serve`` |
| ``--database-url`` | ``MODELHUB_DATABASE_URL`` | SQLite in the data dir |
| ``--blob-store`` | ``MODELHUB_BLOB_STORE`` | ``DATA_DIR/blobs`` on local disk; or ``s3://bucket/prefix`` |
| ``--s3-endpoint-url`` | ``MODELHUB_S3_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL``) | AWS |

A data dir is needed only for what lives in it: the SQLite database (no ``--database-url``) or local blobs (no
``--blob-store``). S3 credentials and region come from the usual ``AWS_*`` variables (boto3 reads them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "MODELHUB_"
DEFAULT_SERVE_DATA_DIR = "modelhub-data"
STORAGE_ENV = {
    "data_dir": "MODELHUB_DATA_DIR",
    "database_url": "MODELHUB_DATABASE_URL",
    "blob_store": "MODELHUB_BLOB_STORE",
    "s3_endpoint_url": "MODELHUB_S3_ENDPOINT_URL",
}


class ConfigError(ValueError):
    """Settings that cannot work; the message names the flag or variable and what to do."""


@dataclass(frozen=True)
class Storage:
    """Where one hub keeps its metadata and blobs."""

    data_dir: Path | None
    database_url: str
    blob_store: str | None = None  # None = DATA_DIR/blobs on local disk (storage/blobs.open_blob_store)
    s3_endpoint_url: str | None = None

    @property
    def uses_data_dir(self) -> bool:
        return self.data_dir is not None

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, if the database is one."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url.removeprefix("sqlite:///"))
        return None

    def cli_flags(self) -> str:
        """The flags that name this hub on a command line (for messages that print a command to run)."""
        flags = []
        if self.data_dir is not None:
            flags.append(f"--data-dir {_quote(str(self.data_dir))}")
        if not (self.data_dir is not None and self.database_url == _sqlite_url(self.data_dir)):
            # never a password in a message (it may go to a log): name the variable that should hold the URL
            shown = (
                _quote(self.database_url)
                if not _has_password(self.database_url)
                else '"$MODELHUB_DATABASE_URL"'
            )
            flags.append(f"--database-url {shown}")
        if self.blob_store:
            flags.append(f"--blob-store {_quote(self.blob_store)}")
        if self.s3_endpoint_url:
            flags.append(f"--s3-endpoint-url {_quote(self.s3_endpoint_url)}")
        return " ".join(flags)


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except Exception:
        return True  # unparsable: do not echo it


def _sqlite_url(data_dir: Path) -> str:
    from .storage.db import default_database_url

    return default_database_url(data_dir)


def resolve_storage(
    *,
    data_dir: str | None = None,
    database_url: str | None = None,
    blob_store: str | None = None,
    s3_endpoint_url: str | None = None,
    env: Mapping[str, str] | None = None,
    default_data_dir: str | None = None,
    need_blobs: bool = True,
) -> Storage:
    """Flags first, then ``MODELHUB_*`` variables; a ``ConfigError`` when a data dir is needed but not named."""
    env = os.environ if env is None else env
    data = data_dir or env.get(STORAGE_ENV["data_dir"]) or default_data_dir
    db = database_url or env.get(STORAGE_ENV["database_url"]) or None
    blobs = blob_store or env.get(STORAGE_ENV["blob_store"]) or None
    endpoint = (
        s3_endpoint_url or env.get(STORAGE_ENV["s3_endpoint_url"]) or env.get("AWS_ENDPOINT_URL") or None
    )
    if blobs is not None and not blobs.startswith(("s3://", "file://")):
        raise ConfigError(f"--blob-store {blobs!r}: expected s3://BUCKET[/PREFIX] or file:///PATH.")
    if data is None and (db is None or (need_blobs and blobs is None)):
        missing = "the database (--database-url)" if db is None else "the blobs (--blob-store)"
        raise ConfigError(
            "Which hub? Give --data-dir DIR (or set MODELHUB_DATA_DIR): it holds "
            f"{missing}, and none was named. (`modelhub serve --data-dir DIR` creates a hub.)"
        )
    path = Path(data).expanduser().resolve() if data is not None else None
    if db is None:
        assert path is not None
        db = _sqlite_url(path)
    return Storage(path, db, blobs, endpoint)


@dataclass
class ServerSettings:
    """Runtime settings of one server process. Limits: docs/security.md."""

    data_dir: Path | None
    database_url: str
    public_url: str | None = None
    upload_mode: str = "auto"  # auto (= lfs) | lfs | regular: what preupload answers (see docs/server.md)
    blob_store: str | None = None  # None = DATA_DIR/blobs on local disk (storage/blobs.open_blob_store)
    s3_endpoint_url: str | None = None
    large_file_threshold: int = 10 * 1024 * 1024
    max_json_body: int = 16 * 1024 * 1024
    max_object_size: int = 50 * 2**30
    # a commit body may carry one largest-possible file inline (base64: 4/3 of its size) plus its other lines
    max_commit_body: int = 50 * 2**30 * 4 // 3 + 128 * 2**20
    max_commit_operations: int = 100_000
    max_commit_metadata: int = 64 * 2**20  # the NDJSON lines of a commit, inline contents aside
    page_size: int = 1000
    lfs_url_ttl: int = 3600
    download_url_ttl: int = 900  # presigned download redirects of a remote blob store
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def storage(self) -> Storage:
        return Storage(self.data_dir, self.database_url, self.blob_store, self.s3_endpoint_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        """The storage variables of ``resolve_storage`` (``MODELHUB_DATA_DIR`` defaulting to ``./modelhub-data``),
        plus ``MODELHUB_PUBLIC_URL``, ``MODELHUB_UPLOAD_MODE``, ``MODELHUB_PAGE_SIZE``."""
        env = os.environ if env is None else env
        storage = resolve_storage(env=env, default_data_dir=DEFAULT_SERVE_DATA_DIR)
        mode = env.get(ENV_PREFIX + "UPLOAD_MODE") or "auto"
        if mode not in ("auto", "lfs", "regular"):
            raise ConfigError(f"{ENV_PREFIX}UPLOAD_MODE={mode!r}: expected auto, lfs or regular.")
        page = env.get(ENV_PREFIX + "PAGE_SIZE") or "1000"
        if not page.isdigit() or int(page) < 1:
            raise ConfigError(f"{ENV_PREFIX}PAGE_SIZE={page!r}: expected a positive integer.")
        return cls(
            data_dir=storage.data_dir,
            database_url=storage.database_url,
            public_url=env.get(ENV_PREFIX + "PUBLIC_URL") or None,
            upload_mode=mode,
            blob_store=storage.blob_store,
            s3_endpoint_url=storage.s3_endpoint_url,
            page_size=int(page),
        )

    def to_env(self) -> dict[str, str]:
        """The variables ``from_env`` reads back into these settings (``serve --workers`` hands them down)."""
        out = {
            STORAGE_ENV["database_url"]: self.database_url,
            ENV_PREFIX + "UPLOAD_MODE": self.upload_mode,
            ENV_PREFIX + "PAGE_SIZE": str(self.page_size),
        }
        for key, value in (
            ("data_dir", self.data_dir),
            ("blob_store", self.blob_store),
            ("s3_endpoint_url", self.s3_endpoint_url),
        ):
            if value is not None:
                out[STORAGE_ENV[key]] = str(value)
        if self.public_url:
            out[ENV_PREFIX + "PUBLIC_URL"] = self.public_url
        return out
