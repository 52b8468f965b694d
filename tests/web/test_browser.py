"""The web pages in a real browser: headless Chromium (Debian's ``chromium`` package) driven by Playwright.

One flow, as a team would use the hub: sign in, create a token and repos in the browser, push a model with the
modelhub client and a transformers model with the official client, read their cards, browse files and a
safetensors table, switch branch, review a PR opened by a second account, merge it, revoke the token. Screenshots
of the main pages at laptop and phone widths go to ``$MODELHUB_TEST_ARTIFACTS/web`` (default: a temporary
folder), whose path the test prints."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from modelhub.client import HubApi

from .._hub import Hub
from .conftest import PASSWORD, set_password

pytestmark = [pytest.mark.web, pytest.mark.torch, pytest.mark.interop, pytest.mark.slow]
CHROMIUM = os.environ.get("MODELHUB_CHROMIUM", "/usr/bin/chromium")
VIEWPORTS = {"laptop": {"width": 1366, "height": 860}, "phone": {"width": 390, "height": 844}}

PUSH_MIXIN = textwrap.dedent(
    """
    import sys, torch
    from torch import nn
    from modelhub import PyTorchModelHubMixin

    class TinyNet(nn.Module, PyTorchModelHubMixin, library_name="tinynet", tags=["vision"], license="mit",
                  pipeline_tag="image-classification"):
        def __init__(self, hidden: int = 16, classes: int = 3):
            super().__init__()
            self.body = nn.Linear(hidden, hidden)
            self.head = nn.Linear(hidden, classes)

    TinyNet(hidden=16).push_to_hub(sys.argv[1])
    """
)
PUSH_TRANSFORMERS = textwrap.dedent(
    """
    import sys
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=64)
    BertForSequenceClassification(config).push_to_hub(sys.argv[1])
    """
)
EVIL_README = (
    "---\nlicense: mit\n---\n# Inert\n\n<script>window.pwned = 1</script>\n"
    '<a id="js" href="javascript:window.pwned=2">click me</a>\n\n<img src="x.png" onerror="window.pwned=3">\n'
)


def _run(script: str, repo_id: str, hub: Hub, token: str, tmp: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=hub.url, HF_TOKEN=token, HF_HOME=str(tmp / "home"), HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1")  # fmt: skip
    res = subprocess.run(
        [sys.executable, "-c", script, repo_id], env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/test.sh does)"
        if os.environ.get("CI"):  # CI installs it: a missing browser there is a broken setup, not a skip
            pytest.fail(why)
        pytest.skip(why)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("MODELHUB_TEST_ARTIFACTS")
    folder = Path(root) / "web" if root else tmp_path_factory.mktemp("web-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nweb screenshots: {folder}")
    print(f"web screenshots: {folder}")
    return folder


def _sign_in(page, url: str, user: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.auth button[type=submit]")
    page.wait_for_url(f"{url}/")
    assert page.locator(".usermenu .username").inner_text() == user


def _shoot(browser, cookies: list, url: str, name: str, folder: Path) -> None:
    for label, size in VIEWPORTS.items():
        ctx = browser.new_context(viewport=size)
        ctx.add_cookies(cookies)
        pg = ctx.new_page()
        pg.goto(url)
        pg.screenshot(path=str(folder / f"{name}-{label}.png"), full_page=True)
        if label == "phone":  # nothing wider than the screen: no sideways scrolling on a phone
            assert pg.evaluate("document.documentElement.scrollWidth") <= size["width"] + 1, name
        ctx.close()


def test_browser_flow(hub: Hub, browser, artifacts: Path, tmp_path: Path) -> None:
    url = hub.url
    set_password(hub.server, "alice")
    bob = hub.unique_name("bob")
    hub.create_user(bob)
    set_password(hub.server, bob)
    team = hub.create_org(hub.unique_name("team"), ["alice", bob])
    vault = hub.create_org(
        hub.unique_name("vault"), ["alice"]
    )  # only this test writes here: counts are exact

    alice_ctx = browser.new_context(viewport=VIEWPORTS["laptop"])
    page = alice_ctx.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    _sign_in(page, url, "alice")

    # a token, shown once
    page.goto(f"{url}/settings/tokens")
    page.fill("input[name=name]", "browser-made")
    page.select_option("select[name=role]", "write")
    page.click("form.form-inline button[type=submit]")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("hf_")
    assert HubApi(endpoint=url, token=token).whoami()["name"] == "alice"

    # repos from the form: a model under the team, a private one
    def create(owner: str, name: str, private: bool = False, kind: str = "model") -> str:
        page.goto(f"{url}/new")
        page.select_option("select[name=owner]", owner)
        page.fill("input[name=name]", name)
        page.select_option("select[name=type]", kind)
        page.check(f"input[name=visibility][value={'private' if private else 'public'}]")
        page.click("form.form-card button[type=submit]")
        page.wait_for_url(f"{url}/{'datasets/' if kind == 'dataset' else ''}{owner}/{name}")
        return f"{owner}/{name}"

    model_id = create(team, "tinynet")
    secret_id = create(vault, hub.unique_name("secret"), private=True)
    HubApi(endpoint=url, token=token).create_repo(f"{vault}/open")
    bert_id = f"alice/{hub.unique_name('bert')}"
    _run(PUSH_MIXIN, model_id, hub, token, tmp_path)
    _run(PUSH_TRANSFORMERS, bert_id, hub, token, tmp_path)

    # cards: badges and snippets for each library
    page.goto(f"{url}/{model_id}")
    badges = page.locator(".badges").inner_text()
    assert "tinynet" in badges and "mit" in badges and "image-classification" in badges
    sidebar = page.locator(".sidebar").inner_text()  # the class that pushed it, named by its card
    assert "from tinynet import TinyNet" in sidebar and f'TinyNet.from_pretrained("{model_id}")' in sidebar
    page.goto(f"{url}/{bert_id}")
    assert "transformers" in page.locator(".badges").inner_text()
    sidebar = page.locator(".sidebar").inner_text()
    # the Auto class of the head that config.json names (BertForSequenceClassification)
    assert f'AutoModelForSequenceClassification.from_pretrained("{bert_id}")' in sidebar

    # a dataset from the same form, at its /datasets URL, its CSV shown as a table
    data_id = create("alice", hub.unique_name("reviews"), kind="dataset")
    HubApi(endpoint=url, token=token).upload_file(
        path_or_fileobj=b"---\nlicense: cc-by-4.0\n---\n# Reviews\n", path_in_repo="README.md", repo_id=data_id,
        repo_type="dataset",
    )  # fmt: skip
    HubApi(endpoint=url, token=token).upload_file(
        path_or_fileobj=b"text,label\ngood,1\nbad,0\n", path_in_repo="train.csv", repo_id=data_id,
        repo_type="dataset",
    )  # fmt: skip
    page.goto(f"{url}/datasets/{data_id}")
    assert f'load_dataset("{data_id}")' in page.locator(".sidebar").inner_text()
    assert "cc-by-4.0" in page.locator(".badges").inner_text()
    page.click("nav.tabs a:has-text('Files')")
    page.click("table.files a:has-text('train.csv')")
    page.wait_for_url(f"{url}/datasets/{data_id}/blob/main/train.csv")
    assert page.locator("table.csv tbody tr").count() == 2

    # files, then the tensor table of the weights
    page.goto(f"{url}/{model_id}")
    page.click("nav.tabs a:has-text('Files')")
    page.wait_for_url(f"{url}/{model_id}/tree/main")
    row = page.locator("table.files tr", has_text="model.safetensors")
    assert "LFS" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"{url}/{model_id}/blob/main/model.safetensors")
    tensors = page.locator("table.tensors tbody tr")
    assert tensors.count() == 4
    assert "body.weight" in page.locator("table.tensors").inner_text()
    assert "[16, 16]" in page.locator("table.tensors").inner_text()

    # a branch, reached through the selector
    api = HubApi(endpoint=url, token=token)
    api.create_branch(model_id, branch="dev")
    api.upload_file(path_or_fileobj=b"dev notes\n", path_in_repo="NOTES.md", repo_id=model_id, revision="dev")
    page.goto(f"{url}/{model_id}/tree/main")
    assert page.locator("table.files", has_text="NOTES.md").count() == 0
    page.select_option(".rev-select select", label="dev")
    page.wait_for_url(f"{url}/{model_id}/tree/dev")
    assert "NOTES.md" in page.locator("table.files").inner_text()

    # a PR from the second account, a comment, the merge by the owner
    bob_token = hub.create_token(bob, "write")
    pr = HubApi(endpoint=url, token=bob_token).upload_file(
        path_or_fileobj=b"# TinyNet\n\nBetter docs.\n", path_in_repo="USAGE.md", repo_id=model_id,
        create_pr=True, commit_message="Add usage docs",
    )  # fmt: skip
    bob_ctx = browser.new_context(viewport=VIEWPORTS["laptop"])
    bob_page = bob_ctx.new_page()
    _sign_in(bob_page, url, bob)
    bob_page.goto(f"{url}/{model_id}/discussions/{pr.pr_num}")
    bob_page.fill("textarea[name=comment]", "Ready for review: adds **usage** docs.")
    bob_page.click("text=Comment >> nth=-1")
    bob_page.wait_for_selector(".comment-body strong")
    page.goto(f"{url}/{model_id}/discussions")
    page.click("text=Add usage docs")
    assert "Ready for review" in page.locator(".timeline").inner_text()
    assert "+Better docs." in page.locator(".difftable").inner_text()
    pr_url = page.url
    page.click("button.btn-merge")
    page.wait_for_selector(".state-merged")
    assert httpx.get(f"{url}/{model_id}/resolve/main/USAGE.md").text.startswith("# TinyNet")

    # card HTML stays inert: no script runs, the javascript: link goes nowhere
    evil_id = f"alice/{hub.unique_name('inert')}"
    api.create_repo(evil_id)
    api.upload_file(path_or_fileobj=EVIL_README.encode(), path_in_repo="README.md", repo_id=evil_id)
    page.goto(f"{url}/{evil_id}")
    assert page.evaluate("window.pwned") is None
    page.click("text=click me")
    assert page.evaluate("window.pwned") is None and page.url == f"{url}/{evil_id}"

    # a form post without the CSRF token is refused (a forged cross-site post carries the cookie only)
    forged = bob_page.request.post(f"{url}/settings/tokens", form={"name": "forged", "role": "write"})
    assert forged.status == 403

    # the second user sees neither the private repo nor its count
    for where in ("/", "/models", f"/{vault}"):
        bob_page.goto(url + where)
        assert secret_id.split("/")[1] not in bob_page.content()
    bob_page.goto(f"{url}/{vault}")
    assert int(bob_page.locator("h2:has-text('Models') .count").inner_text()) == 1
    page.goto(f"{url}/{vault}")
    assert int(page.locator("h2:has-text('Models') .count").inner_text()) == 2
    bob_page.goto(f"{url}/{secret_id}")
    assert "does not exist, or you cannot see it" in bob_page.content()

    # screenshots of the main pages, laptop and phone
    cookies = alice_ctx.cookies()
    for name, target in (
        ("home", f"{url}/"),
        ("repo", f"{url}/{model_id}"),
        ("repo-transformers", f"{url}/{bert_id}"),
        ("dataset", f"{url}/datasets/{data_id}/blob/main/train.csv"),
        ("files", f"{url}/{model_id}/tree/main"),
        ("safetensors", f"{url}/{model_id}/blob/main/model.safetensors"),
        ("pr", pr_url),
        ("commits", f"{url}/{model_id}/commits/main"),
        ("owner", f"{url}/{team}"),
        ("tokens", f"{url}/settings/tokens"),
    ):
        _shoot(browser, cookies, target, name, artifacts)

    # revoke the token in the browser: the API refuses it from then on
    page.goto(f"{url}/settings/tokens")
    page.locator("tr", has_text="browser-made").locator("button", has_text="Revoke").click()
    page.wait_for_load_state()
    assert any("Revoke the token browser-made" in m for m in dialogs)
    assert "browser-made" not in page.locator(".list-table table").inner_text()
    refused = httpx.get(f"{url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    alice_ctx.close()
    bob_ctx.close()
