"""Every URL the tools print opens a page of the hub: ``hf repos create``'s and ``hf upload``'s ``url``, the
official client's repo, commit, PR and discussion URLs (models and datasets), and modelhub's own client's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from modelhub.client import HubApi

from .._hub import Hub, client_env

pytestmark = pytest.mark.interop
hf = pytest.importorskip("huggingface_hub")
BROWSER = {"accept": "text/html,application/xhtml+xml"}


def _opens_page(url: str, *expected: str) -> None:
    """``url`` answers 200 with an HTML page showing ``expected`` (as a browser asking for it would get)."""
    r = httpx.get(url, headers=BROWSER, timeout=60)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html"), url
    for text in expected:
        assert text in r.text, (url, text)


def _hf_cli(hub: Hub, tmp_path: Path, *args: str) -> str:
    cli = str(Path(sys.executable).parent / "hf")
    env = client_env(tmp_path / "cli-home", HF_ENDPOINT=hub.url, HF_TOKEN=hub.token)
    res = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    found = re.search(r"\burl[:=]\s*(\S+)", res.stdout)
    assert found, res.stdout
    return found.group(1)


def test_urls_printed_by_the_hf_cli_open_pages(hub: Hub, tmp_path: Path) -> None:
    model, dataset = hub.new_repo_id("cli"), hub.new_repo_id("cli-ds")
    url = _hf_cli(hub, tmp_path, "repos", "create", model)
    assert url == f"{hub.url}/{model}"
    _opens_page(url, model.split("/")[1], "Model card")
    url = _hf_cli(hub, tmp_path, "repos", "create", dataset, "--repo-type", "dataset")
    assert url == f"{hub.url}/datasets/{dataset}"
    _opens_page(url, "Dataset card")
    (tmp_path / "notes.txt").write_text("from the cli\n")
    uploaded = _hf_cli(hub, tmp_path, "upload", model, str(tmp_path / "notes.txt"), "notes.txt")
    _opens_page(uploaded, "notes.txt")
    pr = _hf_cli(hub, tmp_path, "upload", model, str(tmp_path / "notes.txt"), "again.txt", "--create-pr")
    # a PR's upload prints the URL of its commit (on refs/pr/N, not on main): that page opens too
    assert re.fullmatch(rf"{re.escape(hub.url)}/{model}/commit/[0-9a-f]{{40}}", pr), pr
    _opens_page(pr, "again.txt", "+from the cli")


def test_urls_of_the_official_client_open_pages(hub: Hub) -> None:
    api = hf.HfApi(endpoint=hub.url, token=hub.token)
    for repo_type, prefix in (("model", ""), ("dataset", "datasets/")):
        rid = hub.new_repo_id(f"official-{repo_type}")
        repo_url = api.create_repo(rid, repo_type=repo_type)
        assert str(repo_url) == f"{hub.url}/{prefix}{rid}"
        _opens_page(str(repo_url), rid.split("/")[1])
        info = api.upload_file(path_or_fileobj=b"one\n", path_in_repo="a.txt", repo_id=rid, repo_type=repo_type,
                               commit_message="Add a")  # fmt: skip
        assert info.commit_url == f"{hub.url}/{prefix}{rid}/commit/{info.oid}"
        _opens_page(info.commit_url, "Add a", "a.txt", "+one")
        pr = api.upload_file(path_or_fileobj=b"two\n", path_in_repo="a.txt", repo_id=rid, repo_type=repo_type,
                             create_pr=True, commit_message="Change a")  # fmt: skip
        assert pr.pr_url == f"{hub.url}/{prefix}{rid}/discussions/{pr.pr_num}"
        _opens_page(pr.pr_url, "Change a", "+two", "-one")
        disc = api.create_discussion(rid, title="Is this right?", repo_type=repo_type)
        assert disc.url == f"{hub.url}/{prefix}{rid}/discussions/{disc.num}"
        _opens_page(disc.url, "Is this right?")
        # the URL of a file, as hf_hub_url builds it for the blob page
        _opens_page(f"{hub.url}/{prefix}{rid}/blob/main/a.txt", "one")


def test_urls_of_the_modelhub_client_open_pages(hub: Hub) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("ours")
    repo_url = api.create_repo(rid)
    _opens_page(str(repo_url), rid.split("/")[1])
    info = api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=rid, commit_message="Add x")
    _opens_page(info.commit_url, "Add x")
    pr = api.upload_file(path_or_fileobj=b"y\n", path_in_repo="x.txt", repo_id=rid, create_pr=True)
    assert pr.pr_url
    _opens_page(pr.pr_url, "+y")
