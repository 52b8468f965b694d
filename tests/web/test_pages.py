"""The web pages over plain HTTP against the real server: what they show, who sees what, and the form rules
(CSRF, sessions, tokens). The browser flow is in ``test_browser.py``."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from modelhub.client import HubApi
from modelhub.server.web.render import filesize

from .._hub import Hub
from .._safetensors import safetensors_bytes as _safetensors
from .conftest import csrf_of, set_password, sign_in

EVIL_CARD = """---
license: mit
library_name: my-lib
pipeline_tag: image-classification
language: [en]
datasets: [cifar10]
base_model: acme/base
tags: [vision]
---
# Evil card

| col | val |
|-----|-----|
| a   | 1   |

```python
def f():
    return 42
```

<script>window.pwned = 1</script>
<a href="javascript:window.pwned=2">click</a>
<img src="pic.png" onerror="window.pwned=3">
<a href="JaVaScRiPt:alert(1)">caps</a>
<iframe src="https://example.org"></iframe>
<div style="position:fixed" onclick="x()">styled</div>
"""


def _api(hub: Hub) -> HubApi:
    return HubApi(endpoint=hub.url, token=hub.token)


def test_card_renders_badges_and_snippets_and_raw_html_is_inert(hub: Hub) -> None:
    api = _api(hub)
    rid = hub.new_repo_id("card")
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=EVIL_CARD.encode(), path_in_repo="README.md", repo_id=rid,
                    commit_message="Add the card")  # fmt: skip
    html = httpx.get(f"{hub.url}/{rid}").text
    assert "<table>" in html and '<code class="hl">' in html  # markdown table, highlighted fence
    for bad in ("<script>window", "javascript:", "JaVaScRiPt", "onerror", "onclick", "<iframe", "style="):
        assert bad not in html.split("<main", 1)[1], bad
    assert f'src="/{rid}/raw/main/pic.png"' in html  # relative image -> the repo's file
    for label in ("mit", "my-lib", "image-classification", "en", "cifar10", "acme/base", "vision"):
        assert f'<span class="badge-v">{label}</span>' in html
    assert "license: mit" not in html and "---" not in html.split("<main", 1)[1]  # never the raw YAML
    assert f"modelhub download {rid}" in html and f"hf_hub_download(repo_id=&#34;{rid}&#34;" in html
    # the About panel: size, last commit, branches
    size = len(EVIL_CARD.encode()) + len(httpx.get(f"{hub.url}/{rid}/raw/main/.gitattributes").content)
    assert f"<dt>Size</dt><dd>{filesize(size)} in 2 files</dd>" in html
    assert re.search(
        rf'<dt>Last commit</dt><dd><a href="/{rid}/commit/[0-9a-f]{{40}}">Add the card</a>', html
    )
    assert f'<dt>Branches</dt><dd><a class="chip" href="/{rid}/tree/main">main</a>' in html
    headers = httpx.get(f"{hub.url}/{rid}").headers
    assert "script-src 'self'" in headers["content-security-policy"]


def test_transformers_repo_gets_the_auto_class_snippet(hub: Hub) -> None:
    api = _api(hub)
    rid = hub.new_repo_id("tf")
    api.create_repo(rid)
    card = "---\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n# LM\n"
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=rid)
    html = httpx.get(f"{hub.url}/{rid}").text
    assert "AutoModelForCausalLM.from_pretrained(&#34;" + rid in html
    assert "pipeline(&#34;text-generation&#34;" in html


def test_listing_sorts_by_downloads_and_shows_the_counts(hub: Hub) -> None:
    """The Hub counts a model's downloads by its config.json: the more downloaded repo is listed first."""
    api = _api(hub)
    tag = hub.unique_name("dl")
    few, many = hub.new_repo_id(f"{tag}-few"), hub.new_repo_id(f"{tag}-many")
    for rid in (few, many):
        api.create_repo(rid)
        api.upload_file(path_or_fileobj=b'{"hidden": 8}', path_in_repo="config.json", repo_id=rid)
    with hub.http(hub.token) as c:
        for rid, n in ((few, 1), (many, 3)):
            for _ in range(n):
                assert c.get(f"/{rid}/resolve/main/config.json").status_code == 200
    html = httpx.get(f"{hub.url}/models", params={"search": tag, "sort": "downloads"}).text
    assert html.index(f'href="/{many}"') < html.index(f'href="/{few}"')
    assert "↓ 3" in html and "↓ 1" in html
    by_name = httpx.get(f"{hub.url}/models", params={"search": tag, "sort": "name"}).text
    assert by_name.index(f'href="/{few}"') < by_name.index(f'href="/{many}"')


def test_private_repos_are_invisible_to_those_who_cannot_read_them(hub: Hub) -> None:
    api = _api(hub)
    public, private = hub.new_repo_id("pub"), hub.new_repo_id("priv")
    api.create_repo(public)
    api.create_repo(private, private=True)
    bob = hub.unique_name("bob")
    hub.create_user(bob)
    set_password(hub.server, bob)
    set_password(hub.server, "alice")
    anon = httpx.Client(base_url=hub.url, timeout=60)
    bob_web, alice_web = sign_in(hub.url, bob), sign_in(hub.url, "alice")
    bob_token = hub.create_token(bob, "read")
    if True:  # one block for the three viewers
        for client, sees, token in (
            (anon, False, None),
            (bob_web, False, bob_token),
            (alice_web, True, hub.token),
        ):
            for page in ("/", "/models", "/alice", f"/models?search={private.split('/')[1]}"):
                html = client.get(page).text
                assert f'href="/{public}"' in html or "search=" in page
                assert (f'href="/{private}"' in html) == sees, (page, sees)
            owner = client.get("/alice").text
            count = int(re.search(r'Models <span class="count">(\d+)</span>', owner).group(1))
            with hub.http(token) as api_client:  # the API, asked by the same viewer, agrees
                listed = api_client.get("/api/models", params={"author": "alice"}).json()
            assert count == len(listed) and (private in [r["id"] for r in listed]) == sees
        missing = hub.new_repo_id("missing")
        for client in (anon, bob_web):
            hidden, absent = client.get(f"/{private}"), client.get(f"/{missing}")
            assert hidden.status_code == absent.status_code == 404
            strip = lambda t: re.sub(r"next=[^\"]*", "", t)  # noqa: E731 - the sign-in link names the page
            assert strip(hidden.text) == strip(absent.text)
            assert client.get(f"/{private}/tree/main").status_code == 404
            assert client.get(f"/{private}/raw/main/.gitattributes").status_code == 404
        assert alice_web.get(f"/{private}").status_code == 200


def test_files_blob_safetensors_and_history_pages(hub: Hub) -> None:
    api = _api(hub)
    rid = hub.new_repo_id("files")
    api.create_repo(rid)
    weights = _safetensors(
        {"layer.0.weight": ("F32", [8, 4]), "layer.10.bias": ("F16", [8]), "emb": ("I64", [3, 2])}
    )
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=rid)
    api.upload_file(
        path_or_fileobj=b'{"hidden_size": 4, "model_type": "toy"}', path_in_repo="config.json", repo_id=rid
    )
    api.upload_file(path_or_fileobj=b"def main():\n    return 1\n", path_in_repo="src/run.py", repo_id=rid)
    api.upload_file(path_or_fileobj=b"def main():\n    return 2\n", path_in_repo="src/run.py", repo_id=rid,
                    commit_message="return two")  # fmt: skip
    web = httpx.Client(base_url=hub.url, timeout=60)
    tree = web.get(f"/{rid}/tree/main").text
    assert "model.safetensors" in tree and ">src</a>" in tree and "LFS" in tree and "return two" in tree
    sub = web.get(f"/{rid}/tree/main/src").text
    assert "run.py" in sub and "return two" in sub
    blob = web.get(f"/{rid}/blob/main/src/run.py").text
    assert '<span class="k">def</span>' in blob  # highlighted
    config = web.get(f"/{rid}/blob/main/config.json").text
    assert (
        '<span class="w">  </span><span class="nt">"hidden_size"</span>' in config
    )  # re-indented, highlighted
    table = web.get(f"/{rid}/blob/main/model.safetensors").text
    names = re.findall(r'<td class="mono">([^<]+)</td><td><span class="dtype">', table)
    assert names == ["emb", "layer.0.weight", "layer.10.bias"]  # natural order
    assert ">32<" in table.replace(",", "") and "[8, 4]" in table and "F16" in table
    # a sharded checkpoint: the index's table covers every shard
    shard1 = _safetensors({"a.weight": ("F32", [2, 2])})
    shard2 = _safetensors({"b.weight": ("F32", [3])})
    index = {
        "metadata": {"total_size": 28},
        "weight_map": {"a.weight": "m-1.safetensors", "b.weight": "m-2.safetensors"},
    }
    api.upload_file(path_or_fileobj=shard1, path_in_repo="m-1.safetensors", repo_id=rid)
    api.upload_file(path_or_fileobj=shard2, path_in_repo="m-2.safetensors", repo_id=rid)
    api.upload_file(
        path_or_fileobj=json.dumps(index).encode(), path_in_repo="m.safetensors.index.json", repo_id=rid
    )
    sharded = web.get(f"/{rid}/blob/main/m.safetensors.index.json").text
    assert "a.weight" in sharded and "b.weight" in sharded and "m-2.safetensors" in sharded
    # history: list, commit page with a line diff
    commits = web.get(f"/{rid}/commits/main").text
    assert commits.count('class="commit-title"') >= 6 and "return two" in commits
    first = re.search(rf'href="/{rid}/commit/([0-9a-f]{{40}})">return two', commits)
    assert first is not None
    commit = web.get(f"/{rid}/commit/{first.group(1)}").text
    assert '<tr class="del"><td>-    return 1</td></tr>' in commit
    assert '<tr class="add"><td>+    return 2</td></tr>' in commit
    # a branch: the selector lists it and its pages open at it
    api.create_branch(rid, branch="dev")
    assert f'value="/{rid}/tree/dev"' in web.get(f"/{rid}/tree/main").text
    assert f'value="/{rid}/tree/dev"' in web.get(f"/{rid}").text  # the card page has the selector too
    assert "run.py" in web.get(f"/{rid}/tree/dev/src").text
    assert web.get(f"/{rid}/blob/main/nope.txt").status_code == 404
    raw = web.get(f"/{rid}/raw/main/src/run.py")
    assert raw.text == "def main():\n    return 2\n" and raw.headers["content-type"].startswith("text/plain")
    assert "sandbox" in raw.headers["content-security-policy"]


def test_forms_refuse_a_post_without_the_csrf_token(hub: Hub, alice_web: httpx.Client) -> None:
    before = hub.server.admin("token", "list", "alice").count("\n")
    for data in ({"name": "x", "role": "write"}, {"name": "x", "role": "write", "csrf_token": "forged"}):
        r = alice_web.post("/settings/tokens", data=data)
        assert r.status_code == 403 and "CSRF" in r.text
    good = csrf_of(alice_web.get("/settings/tokens").text)
    cross = alice_web.post(
        "/settings/tokens", data={"name": "x", "csrf_token": good}, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert hub.server.admin("token", "list", "alice").count("\n") == before  # nothing created
    anon = httpx.Client(base_url=hub.url)
    assert anon.post("/login", data={"username": "alice", "password": "x"}).status_code == 403


def test_sign_in_session_cookie_and_sign_out(hub: Hub) -> None:
    set_password(hub.server, "alice")
    client = httpx.Client(base_url=hub.url, timeout=60)
    form = client.get("/login")
    wrong = client.post(
        "/login", data={"username": "alice", "password": "nope", "csrf_token": csrf_of(form.text)}
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    ok = client.post(
        "/login", data={"username": "alice", "password": "correct horse battery", "csrf_token": csrf_of(form.text),
                        "next": "//evil.example/x"},
    )  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never off-site
    cookie = next(v for k, v in ok.headers.multi_items() if k == "set-cookie" and "modelhub_session" in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # http: no Secure
    home = client.get("/").text
    assert "Sign out" in home and ">alice</span>" in home
    out = client.post("/logout", data={"csrf_token": csrf_of(home)})
    assert out.status_code == 303
    # the old cookie is dead server-side too, not just dropped by the browser
    replay = httpx.get(
        f"{hub.url}/settings/tokens", cookies={"modelhub_session": cookie.split(";")[0].split("=", 1)[1]}
    )
    assert replay.status_code == 401


def test_tokens_page_creates_lists_and_revokes(hub: Hub, alice_web: httpx.Client) -> None:
    page = alice_web.get("/settings/tokens").text
    r = alice_web.post(
        "/settings/tokens", data={"name": "web-made", "role": "write", "csrf_token": csrf_of(page)}
    )
    token = re.search(r'<code id="new-token">(hf_[A-Za-z0-9]+)</code>', r.text).group(1)
    assert r.headers["cache-control"] == "no-store"
    assert token not in alice_web.get("/settings/tokens").text  # shown once
    assert (
        httpx.get(f"{hub.url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}).json()["name"]
        == "alice"
    )
    listing = alice_web.get("/settings/tokens").text
    tid = re.search(r'action="/settings/tokens/(\d+)/revoke"[^<]*<input type="hidden" name="csrf_token" value="[^"]+">'
                    r'<button[^>]*data-confirm="Revoke the token web-made', listing)  # fmt: skip
    assert tid is not None
    done = alice_web.post(f"/settings/tokens/{tid.group(1)}/revoke", data={"csrf_token": csrf_of(listing)})
    assert done.status_code == 303
    assert (
        httpx.get(f"{hub.url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}).status_code == 401
    )


def test_create_repo_change_visibility_and_delete_by_forms(hub: Hub, alice_web: httpx.Client) -> None:
    name = hub.unique_name("webrepo")
    page = alice_web.get("/new").text
    r = alice_web.post("/new", data={"owner": "alice", "name": name, "type": "model", "visibility": "private",
                                     "csrf_token": csrf_of(page)})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/alice/{name}"
    assert httpx.get(f"{hub.url}/alice/{name}").status_code == 404  # private
    settings = alice_web.get(f"/alice/{name}/settings").text
    alice_web.post(
        f"/alice/{name}/settings/visibility", data={"visibility": "public", "csrf_token": csrf_of(settings)}
    )
    assert httpx.get(f"{hub.url}/alice/{name}").status_code == 200
    wrong = alice_web.post(
        f"/alice/{name}/settings/delete", data={"confirm": "nope", "csrf_token": csrf_of(settings)}
    )
    assert wrong.status_code == 400 and httpx.get(f"{hub.url}/alice/{name}").status_code == 200
    gone = alice_web.post(
        f"/alice/{name}/settings/delete", data={"confirm": f"alice/{name}", "csrf_token": csrf_of(settings)}
    )
    assert gone.status_code == 303 and httpx.get(f"{hub.url}/alice/{name}").status_code == 404


def test_pull_request_page_comment_and_merge_permissions(hub: Hub, alice_web: httpx.Client) -> None:
    api = _api(hub)
    rid = hub.new_repo_id("pr")
    api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"one\n", path_in_repo="a.txt", repo_id=rid)
    info = api.upload_file(path_or_fileobj=b"two\n", path_in_repo="a.txt", repo_id=rid, create_pr=True,
                           commit_message="Change a")  # fmt: skip
    num = info.pr_num
    bob = hub.unique_name("bob")
    hub.create_user(bob)
    set_password(hub.server, bob)
    bob_web = sign_in(hub.url, bob)
    if True:  # as bob, who may read but not write
        page = bob_web.get(f"/{rid}/discussions/{num}").text
        assert "Merge pull request" not in page and "Close pull request" not in page and "Comment" in page
        assert '<tr class="add"><td>+two</td></tr>' in page and "Change a" in page
        said = bob_web.post(f"/{rid}/discussions/{num}/comment", data={"comment": "LGTM **bold** <script>x</script>",
                                                                       "csrf_token": csrf_of(page)})  # fmt: skip
        assert said.status_code == 303
        refused = bob_web.post(f"/{rid}/discussions/{num}/merge", data={"csrf_token": csrf_of(page)})
        assert refused.status_code == 403
    page = alice_web.get(f"/{rid}/discussions/{num}").text
    assert "<strong>bold</strong>" in page and "<script>x" not in page and "Merge pull request" in page
    assert alice_web.get(f"/{rid}/discussions").text.count("Change a") == 1
    merged = alice_web.post(f"/{rid}/discussions/{num}/merge", data={"csrf_token": csrf_of(page)})
    assert merged.status_code == 303
    assert httpx.get(f"{hub.url}/{rid}/resolve/main/a.txt").text == "two\n"
    after = alice_web.get(f"/{rid}/discussions/{num}").text
    assert "state-merged" in after and "Merge pull request" not in after


@pytest.mark.parametrize("page", ["/docs"])
def test_api_docs_work_offline(hub: Hub, page: str) -> None:
    html = httpx.get(hub.url + page).text
    assert "SwaggerUIBundle" in html and "cdn" not in html.lower() and "https://" not in html
    for asset in re.findall(r'(?:src|href)="(/-/[^"]+)"', html):
        assert httpx.get(hub.url + asset).status_code == 200, asset
    assert httpx.get(hub.url + "/openapi.json").json()["info"]["title"] == "modelhub"


def test_unknown_urls_answer_a_page_to_browsers_and_json_to_clients(hub: Hub) -> None:
    browser = httpx.get(f"{hub.url}/alice/x/y/z/w", headers={"accept": "text/html,application/xhtml+xml"})
    assert browser.status_code == 404 and "There is no page at this address" in browser.text
    api = httpx.get(f"{hub.url}/api/nothing-here", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
