"""A real modelhub server for the tests: ``python -m modelhub serve`` in a subprocess, managed over HTTP + admin CLI.

Used by the ``hub_server`` / ``hub`` fixtures of ``tests/conftest.py``; tests that need their own server (restart,
other upload modes) create a ``HubServer`` directly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from ._services import backend_storage, s3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class HubServer:
    """One server process on 127.0.0.1 with its own data directory.

    Its storage is the backend the run selected (``tests/_services.backend``: SQLite + local disk, or a new
    PostgreSQL database + a new S3 prefix), unless ``extra_args`` name a database or ``backend="sqlite"``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        extra_args: tuple[str, ...] = (),
        port: int | None = None,
        backend: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.storage_args: tuple[str, ...] = ()
        self.env: dict[str, str] = {}
        if backend != "sqlite" and "--database-url" not in extra_args:
            self.storage_args, self.env = backend_storage()
        else:  # the admin commands name the same hub as the server
            flags = ("--database-url", "--blob-store", "--s3-endpoint-url")
            pairs = zip(extra_args, extra_args[1:], strict=False)
            self.storage_args = tuple(x for k, v in pairs if k in flags for x in (k, v))
        self.env.update(env or {})
        self.extra_args = extra_args
        self.port = port or free_port()
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.alice_token = ""  # set by the hub_server fixture
        self.alice_read_token = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> HubServer:
        for _attempt in range(3):
            log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the subprocess for its lifetime
            cmd = [sys.executable, "-m", "modelhub", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            cmd += ["--data-dir", str(self.data_dir), *self.storage_args, *self.extra_args]
            env = _clean_env() | self.env
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            self.stop()
            if "already in use" in self.log_path.read_text(errors="replace").lower():
                self.port = free_port()
                continue
            break
        raise RuntimeError(
            f"modelhub server did not start; log:\n{self.log_path.read_text(errors='replace')[-4000:]}"
        )

    def stop(self) -> None:
        """Graceful stop (SIGTERM), then kill if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def blob_store(self) -> str | None:
        """The ``s3://BUCKET/PREFIX`` of this hub's blobs, None for local disk (DATA_DIR/blobs)."""
        return dict(zip(self.storage_args[::2], self.storage_args[1::2], strict=True)).get("--blob-store")

    def _s3_prefix(self) -> str | None:
        store = self.blob_store
        return None if store is None else store.removeprefix("s3://").partition("/")[2].strip("/") + "/"

    def stored_blobs(self) -> set[str]:
        """The SHA-256 of every blob in this hub's store (DATA_DIR/blobs or its S3 prefix), partial uploads aside."""
        prefix = self._s3_prefix()
        if prefix is None:
            root = self.data_dir / "blobs"
            return {p.name for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts}
        return {k.rsplit("/", 1)[-1] for k in s3().keys(prefix) if not k.startswith(f"{prefix}tmp/")}

    def partial_uploads(self) -> list[str]:
        """What interrupted uploads left in the store: partial files in DATA_DIR/blobs/tmp, or on S3 objects under
        ``tmp/`` and multipart uploads never completed."""
        prefix = self._s3_prefix()
        if prefix is None:
            return [str(p) for p in (self.data_dir / "blobs" / "tmp").rglob("up-*")]
        return s3().keys(f"{prefix}tmp/") + [u["Key"] for u in s3().multipart_uploads(prefix)]

    def log(self, sync: bool = True) -> str:
        """The server's output so far. With ``sync``, first make a marker request and wait until its access-log
        line is written: the server logs through a queue, so every earlier line is then in the file too."""
        if sync and self.proc is not None and self.proc.poll() is None:
            marker = uuid.uuid4().hex
            httpx.get(f"{self.url}/api/health", params={"sync": marker}, timeout=10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                text = self.log_path.read_text(errors="replace")
                if marker in text:
                    return text
                time.sleep(0.02)
        return self.log_path.read_text(errors="replace")

    def admin_command(self, *args: str) -> tuple[list[str], dict[str, str]]:
        """The argv and environment of ``modelhub admin ARGS`` on this hub (for tests that check failures)."""
        cmd = [sys.executable, "-m", "modelhub", "admin", *args, "--data-dir", str(self.data_dir)]
        if "--database-url" not in args:
            cmd += self.storage_args
        return cmd, _clean_env() | self.env

    def admin(self, *args: str) -> str:
        """Run ``modelhub admin ...`` against this data dir; returns stdout; raises with stderr on failure."""
        cmd, env = self.admin_command(*args)
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
        return res.stdout.strip()

    def create_user(self, name: str) -> str:
        self.admin("user", "create", name)
        return name

    def create_token(self, user: str, role: str = "write") -> str:
        return self.admin("token", "create", user, "--role", role, "--name", f"{role}-{uuid.uuid4().hex[:6]}")

    def create_org(self, name: str, members: list[str] | tuple[str, ...] = ()) -> str:
        args = ["org", "create", name]
        for m in members:
            args += ["--member", m]
        self.admin(*args)
        return name


class Hub:
    """What a test sees: the server URL, alice's tokens and helpers (see docs/architecture.md, "Tests")."""

    def __init__(self, server: HubServer, token: str, read_token: str, tmp_path: Path) -> None:
        self.server = server
        self.url = server.url
        self.token = token
        self.read_token = read_token
        self.user = "alice"
        self.data_dir = server.data_dir
        self.tmp_path = tmp_path

    def new_repo_id(self, prefix: str = "m", namespace: str | None = None) -> str:
        return f"{namespace or self.user}/{prefix}-{uuid.uuid4().hex[:10]}"

    def unique_name(self, prefix: str = "u") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def create_user(self, name: str) -> str:
        return self.server.create_user(name)

    def create_token(self, user: str, role: str = "write") -> str:
        return self.server.create_token(user, role)

    def create_org(self, name: str, members: list[str] | tuple[str, ...] = ()) -> str:
        return self.server.create_org(name, members)

    def log(self) -> str:
        return self.server.log()

    def http(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """A plain HTTP client on the server (for protocol-level tests)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # as the official client does: large files of an S3 hub answer with a redirect to the bucket
        kwargs.setdefault("follow_redirects", True)
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def client_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a client subprocess (transformers, datasets, the official client or its CLI): nothing of
    the caller's HF_* / TRANSFORMERS_* settings, its own ``HF_HOME``, quiet; ``extra`` on top (e.g. HF_ENDPOINT)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1", **extra)
    return env


def point_official_client(monkeypatch: Any, url: str, home: Path) -> None:
    """The official ``huggingface_hub`` reads its environment at import time: patch its constants (and the
    endpoint of its module-level default ``HfApi``) so that in-process tests talk to our server."""
    try:
        import huggingface_hub.constants as c
        from huggingface_hub import hf_api
    except ImportError:
        return
    monkeypatch.setattr(c, "ENDPOINT", url)
    monkeypatch.setattr(c, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(c, "HF_HOME", str(home))
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(c, "HUGGINGFACE_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(c, "HF_ASSETS_CACHE", str(home / "assets"))
    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(c, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(c, "HF_HUB_DISABLE_PROGRESS_BARS", True)
    monkeypatch.setattr(hf_api.api, "endpoint", url)
