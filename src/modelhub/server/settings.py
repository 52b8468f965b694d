"""Settings of one server process: from ``modelhub serve`` flags, or from the environment for an app factory run
by another ASGI server (``uvicorn --factory modelhub.server.app:create_app``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "MODELHUB_"


@dataclass
class ServerSettings:
    """Runtime settings of one server process. Limits: docs/security.md."""

    data_dir: Path
    database_url: str
    public_url: str | None = None
    upload_mode: str = "auto"  # auto (= lfs) | lfs | regular: what preupload answers (see docs/server.md)
    blob_store: str | None = None  # None = DATA_DIR/blobs on local disk (storage/blobs.open_blob_store)
    large_file_threshold: int = 10 * 1024 * 1024
    max_json_body: int = 16 * 1024 * 1024
    max_object_size: int = 50 * 2**30
    # a commit body may carry one largest-possible file inline (base64: 4/3 of its size) plus its other lines
    max_commit_body: int = 50 * 2**30 * 4 // 3 + 128 * 2**20
    max_commit_operations: int = 100_000
    max_commit_metadata: int = 64 * 2**20  # the NDJSON lines of a commit, inline contents aside
    page_size: int = 1000
    lfs_url_ttl: int = 3600
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServerSettings:
        """``MODELHUB_DATA_DIR`` (default ``./modelhub-data``), ``MODELHUB_DATABASE_URL`` (default SQLite in the
        data dir), ``MODELHUB_PUBLIC_URL``, ``MODELHUB_UPLOAD_MODE``, ``MODELHUB_BLOB_STORE``, ``MODELHUB_PAGE_SIZE``."""
        from .storage.db import default_database_url

        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get(ENV_PREFIX + "DATA_DIR") or "modelhub-data").resolve()
        mode = env.get(ENV_PREFIX + "UPLOAD_MODE") or "auto"
        if mode not in ("auto", "lfs", "regular"):
            raise ValueError(f"{ENV_PREFIX}UPLOAD_MODE={mode!r}: expected auto, lfs or regular.")
        page = env.get(ENV_PREFIX + "PAGE_SIZE") or "1000"
        if not page.isdigit() or int(page) < 1:
            raise ValueError(f"{ENV_PREFIX}PAGE_SIZE={page!r}: expected a positive integer.")
        return cls(
            data_dir=data_dir,
            database_url=env.get(ENV_PREFIX + "DATABASE_URL") or default_database_url(data_dir),
            public_url=env.get(ENV_PREFIX + "PUBLIC_URL") or None,
            upload_mode=mode,
            blob_store=env.get(ENV_PREFIX + "BLOB_STORE") or None,
            page_size=int(page),
        )
