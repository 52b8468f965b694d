"""Raw Hub-protocol helpers for server tests: NDJSON commits and the LFS batch / upload / verify steps."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx


def lfs_prefix(repo_id: str, repo_type: str = "model") -> str:
    return ("" if repo_type == "model" else f"/{repo_type}s") + f"/{repo_id}.git/info/lfs/objects"


def batch(client: httpx.Client, repo_id: str, operation: str, oid: str, size: int) -> httpx.Response:
    body = {"operation": operation, "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}
    return client.post(
        f"{lfs_prefix(repo_id)}/batch", json=body, headers={"Accept": "application/vnd.git-lfs+json"}
    )


def commit(
    client: httpx.Client, repo_id: str, lines: list[dict[str, Any]], revision: str = "main", **params: str
) -> httpx.Response:
    header = {"key": "header", "value": {"summary": "test commit", "description": ""}}
    body = "\n".join(json.dumps(x) for x in [header, *lines]) + "\n"
    return client.post(
        f"/api/models/{repo_id}/commit/{revision}",
        content=body.encode(),
        headers={"content-type": "application/x-ndjson"},
        params=params,
    )


def file_line(path: str, data: bytes) -> dict[str, Any]:
    return {
        "key": "file",
        "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"},
    }


def lfs_line(path: str, oid: str, size: int | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"path": path, "algo": "sha256", "oid": oid}
    if size is not None:
        value["size"] = size
    return {"key": "lfsFile", "value": value}


def upload_lfs(client: httpx.Client, repo_id: str, path: str, data: bytes) -> str:
    """Upload ``data`` through the LFS batch API and commit it at ``path``; returns its SHA-256."""
    oid = hashlib.sha256(data).hexdigest()
    r = batch(client, repo_id, "upload", oid, len(data))
    r.raise_for_status()
    item = r.json()["objects"][0]
    if "actions" in item:
        put = httpx.put(item["actions"]["upload"]["href"], content=data, timeout=60)
        put.raise_for_status()
        client.post(f"{lfs_prefix(repo_id)}/verify", json={"oid": oid, "size": len(data)}).raise_for_status()
    commit(client, repo_id, [lfs_line(path, oid, len(data))]).raise_for_status()
    return oid


def create_repo(client: httpx.Client, repo_id: str, private: bool = False) -> None:
    ns, name = repo_id.split("/")
    r = client.post("/api/repos/create", json={"name": name, "organization": ns, "private": private})
    r.raise_for_status()
