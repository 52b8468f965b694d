"""Cache and protocol interop with the official huggingface_hub client (an oracle, run in fresh processes so
that its import-time environment is the one given here)."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelhub.client import HubApi, hub_download, snapshot_download
from modelhub.client.download import forget_resolved_revisions

pytestmark = pytest.mark.interop

BIG = hashlib.sha256(b"interop").digest() * 40000  # 1.25 MB binary: LFS


def _official(
    code: str, *, offline: bool = False, token: str | None = None, extra_env: dict | None = None
) -> dict:
    """Run ``code`` (which sets ``result``) with the official client; return ``result`` as JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_OFFLINE", "HF_TOKEN"))}
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    if token:
        env["HF_TOKEN"] = token
    env.update(extra_env or {})
    script = (
        "import json, huggingface_hub as h\n"
        + textwrap.dedent(code)
        + "\nprint('RESULT=' + json.dumps(result))"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT=")][-1]
    return json.loads(line[len("RESULT=") :])


@pytest.fixture
def repo(hub):
    api = HubApi(token=hub.token)
    rid = hub.new_repo_id("interop")
    api.create_repo(rid)
    from modelhub.client import CommitOperationAdd as Add

    info = api.create_commit(
        rid,
        [Add("config.json", b'{"x": 1}'), Add("w.bin", BIG), Add("sub/t.txt", b"t")],
        commit_message="seed",
    )
    api.create_tag(rid, tag="v1")
    return rid, info.oid


def test_our_cache_read_by_official_client_offline(hub, repo):
    rid, commit = repo
    snap = snapshot_download(rid, token=hub.token)
    hub_download(rid, "config.json", revision="v1", token=hub.token)
    with pytest.raises(Exception):  # noqa: B017 - records .no_exist
        hub_download(rid, "nope.json", token=hub.token)
    got = _official(
        f"""
        result = {{
            "file": h.hf_hub_download({rid!r}, "w.bin"),
            "tag": h.hf_hub_download({rid!r}, "config.json", revision="v1"),
            "by_commit": h.hf_hub_download({rid!r}, "sub/t.txt", revision={commit!r}),
            "snap": h.snapshot_download({rid!r}),
            "missing": repr(h.try_to_load_from_cache({rid!r}, "nope.json")),
        }}
    """,
        offline=True,
    )
    assert got["snap"] == snap
    assert Path(got["file"]).read_bytes() == BIG and got["file"] == str(Path(snap) / "w.bin")
    assert Path(got["tag"]).read_bytes() == b'{"x": 1}'
    assert got["by_commit"].endswith(f"snapshots/{commit}/sub/t.txt")
    assert "object" in got["missing"]  # their _CACHED_NO_EXIST sentinel: our .no_exist entry is understood
    scan = _official(
        """
        info = h.scan_cache_dir()
        result = {"repos": [(r.repo_id, r.repo_type, sorted(r.refs), r.nb_files) for r in info.repos],
                  "warnings": [str(w) for w in info.warnings]}
        """
    )
    assert scan["warnings"] == []
    [(repo_id, repo_type, refs, nb_files)] = [r for r in scan["repos"] if r[0] == rid]
    assert repo_type == "model" and set(refs) >= {"main", "v1"} and nb_files >= 3


def test_official_cache_read_by_us_offline(hub, repo, monkeypatch):
    rid, commit = repo
    got = _official(
        f"""
        result = {{"snap": h.snapshot_download({rid!r}), "one": h.hf_hub_download({rid!r}, "config.json", revision="v1")}}
    """,
        token=hub.token,
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    forget_resolved_revisions()
    assert snapshot_download(rid) == got["snap"]
    assert Path(hub_download(rid, "w.bin")).read_bytes() == BIG
    assert hub_download(rid, "config.json", revision="v1") == got["one"]
    assert Path(hub_download(rid, "sub/t.txt", revision=commit)).read_bytes() == b"t"


def test_mixed_cache_shares_blobs(hub, repo):
    rid, commit = repo
    ours = hub_download(rid, "w.bin", token=hub.token)
    got = _official(
        f"""
        import os
        p = h.hf_hub_download({rid!r}, "w.bin")
        result = {{"path": p, "link": os.readlink(p)}}
    """,
        token=hub.token,
    )
    assert got["path"] == ours and got["link"] == f"../../blobs/{hashlib.sha256(BIG).hexdigest()}"


def test_official_upload_read_by_us_and_ours_by_them(hub, tmp_path):
    rid = hub.new_repo_id("interop-up")
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.bin").write_bytes(BIG)
    (folder / "b.json").write_text("{}")
    _official(
        f"""
        api = h.HfApi()
        api.create_repo({rid!r})
        api.upload_folder(repo_id={rid!r}, folder_path={str(folder)!r})
        result = {{}}
    """,
        token=hub.token,
        extra_env={"HF_HUB_DISABLE_XET": "1"},
    )
    snap = Path(snapshot_download(rid, token=hub.token, cache_dir=tmp_path / "ours"))
    assert (snap / "a.bin").read_bytes() == BIG and (snap / "b.json").read_text() == "{}"
    HubApi(token=hub.token).upload_file(
        path_or_fileobj=b"from modelhub", path_in_repo="c.txt", repo_id=rid, create_pr=True
    )
    got = _official(
        f"""
        p = h.hf_hub_download({rid!r}, "c.txt", revision="refs/pr/1")
        result = {{"text": open(p).read(), "files": sorted(h.list_repo_files({rid!r}, revision="refs/pr/1"))}}
    """,
        token=hub.token,
    )
    assert got["text"] == "from modelhub" and {"a.bin", "b.json", "c.txt"} <= set(got["files"])
