"""The client commands of the ``modelhub`` CLI, run as a user would (a subprocess), against the real server."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelhub", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        input=input,
    )


def test_help_lists_client_commands():
    out = run("--help")
    assert out.returncode == 0
    for cmd in ("login", "logout", "whoami", "repo", "upload", "download", "ls", "cache", "env"):
        assert cmd in out.stdout
    download_help = run("download", "--help").stdout
    assert "HF_ENDPOINT" in download_help and "modelhub download alice/my-model config.json" in download_help
    assert "namespace/name" in download_help and "files (or glob patterns)" in download_help
    assert "modelhub upload alice/my-model ./model" in run("upload", "--help").stdout
    assert run("repo").returncode == 2  # usage error: missing action


def test_login_whoami_logout(hub):
    home = Path(os.environ["HF_HOME"])
    bad = run("login", "--token", "hf_wrong")
    assert bad.returncode == 1 and "UnauthorizedError" in bad.stderr and not (home / "token").exists()
    ok = run("login", "--token", hub.token)
    assert ok.returncode == 0 and "Logged in as alice" in ok.stdout, ok.stderr
    assert (home / "token").read_text() == hub.token
    who = run("whoami")
    assert who.returncode == 0 and who.stdout.splitlines()[0] == "alice" and "token role: write" in who.stdout
    assert run("logout").returncode == 0 and not (home / "token").exists()
    anon = run("whoami")
    assert anon.returncode == 1 and "modelhub login" in anon.stderr


def test_repo_upload_download_ls(hub, tmp_path):
    env = {"HF_TOKEN": hub.token}
    rid = hub.new_repo_id("cli")
    created = run("repo", "create", rid, "--private", env=env)
    assert created.returncode == 0 and created.stdout.strip() == f"{hub.url}/{rid}"
    again = run("repo", "create", rid, env=env)
    assert again.returncode == 1 and "ConflictError" in again.stderr
    assert run("repo", "create", rid, "--exist-ok", env=env).returncode == 0
    info = json.loads(run("repo", "info", rid, env=env).stdout)
    assert info["id"] == rid and info["private"] is True

    folder = tmp_path / "f"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub" / "w.bin").write_bytes(os.urandom(200_000))
    (folder / "skip.log").write_text("x")
    up = run("upload", rid, str(folder), "--exclude", "*.log", "--commit-message", "cli upload", env=env)
    assert up.returncode == 0 and "/commit/" in up.stdout, up.stderr
    single = run("upload", rid, str(folder / "config.json"), "copies/config.json", env=env)
    assert single.returncode == 0, single.stderr
    pr = run("upload", rid, str(folder / "config.json"), "pr.json", "--create-pr", env=env)
    assert pr.stdout.strip().endswith("/discussions/1"), pr.stderr

    listing = run("ls", rid, "--json", env=env)
    files = {f["path"]: f for f in json.loads(listing.stdout)}
    assert {"config.json", "sub/w.bin", "copies/config.json"} <= set(files) and "skip.log" not in files
    assert files["sub/w.bin"]["lfs"] is True
    assert "sub/w.bin" in run("ls", rid, env=env).stdout

    one = run("download", rid, "sub/w.bin", env=env)
    assert (
        one.returncode == 0
        and Path(one.stdout.strip()).read_bytes() == (folder / "sub" / "w.bin").read_bytes()
    )
    snap = run("download", rid, "--include", "*.json", env=env)
    assert (Path(snap.stdout.strip()) / "copies" / "config.json").is_file()
    both = run(
        "download", rid, "config.json", "--include", "sub/*", "--local-dir", str(tmp_path / "both"), env=env
    )
    assert both.returncode == 0, both.stderr
    got = {
        p.relative_to(tmp_path / "both").as_posix()
        for p in (tmp_path / "both").rglob("*")
        if ".cache" not in p.parts
    }
    assert {"config.json", "sub/w.bin"} <= got and "copies/config.json" not in got
    local = run("download", rid, "--local-dir", str(tmp_path / "out"), "--revision", "refs/pr/1", env=env)
    assert local.returncode == 0 and (tmp_path / "out" / "pr.json").read_text() == '{"a": 1}'

    denied = run("download", rid, "config.json", env={"HF_TOKEN": ""})
    assert denied.returncode == 1 and "RepositoryNotFoundError" in denied.stderr
    missing = run("download", rid, "nope.txt", env=env)
    assert (
        missing.returncode == 1
        and "RemoteEntryNotFoundError" in missing.stderr
        and "nope.txt" in missing.stderr
    )
    no_file = run("upload", rid, str(tmp_path / "nothing"), env=env)
    assert no_file.returncode == 1 and "does not exist" in no_file.stderr

    refused = run("repo", "delete", rid, env=env, input="")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert run("repo", "delete", rid, "--yes", env=env).returncode == 0
    assert run("repo", "delete", rid, "--yes", env=env).returncode == 1
    assert run("repo", "delete", rid, "--yes", "--missing-ok", env=env).returncode == 0


def test_cache_ls_verify_prune_and_env(hub, tmp_path):
    from modelhub.client import HubApi, hub_download

    rid = hub.new_repo_id("cache")
    api = HubApi(token=hub.token)
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=os.urandom(100_000), path_in_repo="w.bin", repo_id=rid)
    old = hub_download(rid, "w.bin", token=hub.token)
    api.upload_file(path_or_fileobj=os.urandom(100_000), path_in_repo="w.bin", repo_id=rid)
    new = hub_download(rid, "w.bin", token=hub.token)
    assert old != new
    listing = run("cache", "ls")
    assert rid in listing.stdout and "main" in listing.stdout
    assert run("cache", "verify").returncode == 0
    Path(new).resolve().write_bytes(b"\0" * 100_000)  # corrupt the current blob, same size
    bad = run("cache", "verify")
    assert bad.returncode == 1 and "corrupted:" in bad.stderr
    dry = run("cache", "prune", "--dry-run", "--verify")
    assert "would delete unreferenced snapshot" in dry.stdout and "would delete corrupted blob" in dry.stdout
    assert Path(old).exists()
    done = run("cache", "prune", "--verify")
    assert done.returncode == 0 and "freed" in done.stdout
    assert not Path(old).exists() and run("cache", "verify").returncode == 0
    assert Path(hub_download(rid, "w.bin", token=hub.token)).stat().st_size == 100_000  # fetched again

    env = run("env", env={"HF_HUB_OFFLINE": "1"})
    assert env.returncode == 0
    assert hub.url in env.stdout and os.environ["HF_HUB_CACHE"] in env.stdout
    assert re.search(r"offline \(HF_HUB_OFFLINE\) +True", env.stdout)


@pytest.mark.parametrize("args", [["download", "bad id"], ["ls", "a/b/c"], ["repo", "info", "--", "-x/y"]])
def test_malformed_repo_id_exit_code(hub, args):
    out = run(*args)
    assert out.returncode == 1 and "Invalid repo id" in out.stderr
