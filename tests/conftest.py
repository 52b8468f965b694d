"""Shared fixtures: a real modelhub server per test session (``hub_server``) and a per-test view of it (``hub``).

Nothing is mocked: ``hub_server`` runs ``python -m modelhub serve`` on 127.0.0.1 with a temporary data directory
and creates user ``alice`` with a write and a read token through ``modelhub admin``. ``hub`` points the
environment (and the official client's import-time constants, if installed) at it, with a fresh HF_HOME.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._hub import Hub, HubServer, point_official_client
from ._services import BACKEND_ENV, stop_all


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("sqlite", "postgres-s3"),
        default=None,
        help=f"storage of the test hubs: SQLite + local disk (default) or PostgreSQL + S3 (env {BACKEND_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    import os

    chosen = config.getoption("--backend")
    if chosen:
        os.environ[BACKEND_ENV] = chosen  # read by tests/_services.backend, also in xdist workers


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_all()  # PostgreSQL / SeaweedFS started by this (worker) process: xdist workers may skip atexit


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    server = HubServer(tmp_path_factory.mktemp("hub") / "data").start()
    try:
        server.create_user("alice")
        server.alice_token = server.create_token("alice", "write")
        server.alice_read_token = server.create_token("alice", "read")
        yield server
    finally:
        server.stop()


@pytest.fixture
def hub(hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hub:
    home = tmp_path / "hf_home"
    home.mkdir()
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for var in (
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE",
        "HUGGINGFACE_HUB_CACHE",
    ):
        monkeypatch.delenv(var, raising=False)
    point_official_client(monkeypatch, hub_server.url, home)
    return Hub(hub_server, hub_server.alice_token, hub_server.alice_read_token, tmp_path)
