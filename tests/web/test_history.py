"""History and community pages over HTTP against the real server: the branch / tag selector on every repo page,
the commit list's pages, discussions opened and commented in the browser forms, who gets which PR buttons, and
the file views (per type, with their download links)."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from modelhub.client import CommitOperationAdd, HubApi

from .._hub import Hub
from .conftest import csrf_of, set_password, sign_in

hf_api = pytest.importorskip("huggingface_hub")  # the official client reads the threads back (an oracle)


def _selector(html: str) -> tuple[str | None, dict[str, str]]:
    """The revision selector of a page: the selected label and {label: URL} of its options (None if absent)."""
    found = re.search(r'<select data-nav aria-label="Branch or tag">(.*?)</select>', html, re.S)
    assert found, "no branch/tag selector on the page"
    options = re.findall(
        r'<option(?: selected)? value="([^"]*)"(?: selected)?>([^<]+)</option>', found.group(1)
    )
    selected = re.search(r"<option[^>]*selected[^>]*>([^<]+)</option>", found.group(1))
    return (selected.group(1) if selected else None), {label: url for url, label in options}


def test_every_repo_page_has_the_branch_and_tag_selector(hub: Hub, alice_web: httpx.Client) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("sel")
    api.create_repo(rid)
    info = api.upload_file(path_or_fileobj=b"hello\n", path_in_repo="docs/a.txt", repo_id=rid)
    api.create_branch(rid, branch="dev")
    api.create_tag(rid, tag="v1.0")
    pr = api.upload_file(path_or_fileobj=b"pr\n", path_in_repo="b.txt", repo_id=rid, create_pr=True)
    disc = hf_api.HfApi(endpoint=hub.url, token=hub.token).create_discussion(rid, title="A question")
    pages = {
        "": ("main", "tree"),
        "/tree/main": ("main", "tree"),
        "/tree/main/docs": ("main", "tree"),
        "/blob/main/docs/a.txt": ("main", "blob"),
        "/commits/main": ("main", "commits"),
        "/tree/v1.0": ("v1.0", "tree"),
        f"/commit/{info.oid}": (info.oid[:7], "commits"),
        "/discussions": ("main", "tree"),
        f"/discussions/{pr.pr_num}": (f"refs/pr/{pr.pr_num}", "tree"),
        f"/discussions/{disc.num}": ("main", "tree"),
        "/discussions/new": ("main", "tree"),
        "/settings": ("main", "tree"),
    }
    for suffix, (selected, kind) in pages.items():
        html = alice_web.get(f"/{rid}{suffix}").text
        shown, options = _selector(html)
        assert shown == selected, suffix
        assert {"main", "dev", "v1.0"} <= set(options), suffix
        assert options["dev"].startswith(f"/{rid}/{kind}/dev"), (suffix, options)
        assert options["v1.0"].startswith(f"/{rid}/{kind}/v1.0"), (suffix, options)
    # in a folder, the selector keeps the folder; each target opens
    _, options = _selector(alice_web.get(f"/{rid}/tree/main/docs").text)
    assert options["dev"] == f"/{rid}/tree/dev/docs"
    for url in options.values():
        assert alice_web.get(url).status_code == 200, url


def test_commit_list_pages(hub: Hub) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("hist")
    api.create_repo(rid)
    for i in range(52):  # with "initial commit": 53 commits, 50 a page
        api.create_commit(
            rid, [CommitOperationAdd(path_in_repo="n.txt", path_or_fileobj=f"{i}\n".encode())],
            commit_message=f"step {i:02d}",
        )  # fmt: skip
    web = httpx.Client(base_url=f"{hub.url}/{rid}", timeout=60)
    first = web.get("/commits/main").text
    titles = re.findall(r'class="commit-title" href="[^"]+">([^<]+)</a>', first)
    assert len(titles) == 50 and titles[0] == "step 51" and titles[-1] == "step 02"
    assert "53 commits" in first and "Page 1 of 2" in first
    assert re.search(r'<span class="avatar small">A</span> alice committed <span title="\d{4}-', first)
    second = web.get("/commits/main", params={"p": "1"}).text
    assert re.findall(r'class="commit-title" href="[^"]+">([^<]+)</a>', second) == [
        "step 01", "step 00", "initial commit",
    ]  # fmt: skip
    assert "Page 2 of 2" in second and 'href="?p=0"' in second


def test_discussion_opened_and_commented_in_the_browser_forms(hub: Hub, alice_web: httpx.Client) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("talk")
    hf = hf_api.HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(rid)
    form = alice_web.get(f"/{rid}/discussions/new").text
    opened = alice_web.post(f"/{rid}/discussions/new", data={"title": "Which license?", "description": "Asking *why*.",
                                                              "csrf_token": csrf_of(form)})  # fmt: skip
    assert opened.status_code == 303
    url = opened.headers["location"]
    num = int(url.rsplit("/", 1)[1])
    page = alice_web.get(url).text
    assert "Which license?" in page and "<em>why</em>" in page
    said = alice_web.post(
        f"{url}/comment", data={"comment": "MIT, see `LICENSE`.", "csrf_token": csrf_of(page)}
    )
    assert said.status_code == 303
    thread = hf.get_discussion_details(rid, num)
    assert thread.title == "Which license?" and not thread.is_pull_request
    assert [c.content for c in thread.events if c.type == "comment"][-1] == "MIT, see `LICENSE`."
    assert "<code>LICENSE</code>" in alice_web.get(url).text
    assert "Which license?" in alice_web.get(f"/{rid}/discussions").text
    # the author closes it; the list filtered by status agrees
    page = alice_web.get(url).text
    closed = alice_web.post(f"{url}/status", data={"status": "closed", "csrf_token": csrf_of(page)})
    assert closed.status_code == 303 and hf.get_discussion_details(rid, num).status == "closed"
    assert "Which license?" in alice_web.get(f"/{rid}/discussions?status=closed").text
    assert "Which license?" not in alice_web.get(f"/{rid}/discussions?status=open").text
    # anonymous visitors read the thread, get no form, and cannot post one
    anon = httpx.Client(base_url=hub.url, timeout=60)
    seen = anon.get(url).text
    assert "MIT, see" in seen and 'name="comment"' not in seen and "Sign in</a> to comment" in seen


def test_pr_buttons_follow_the_rules(hub: Hub, alice_web: httpx.Client) -> None:
    """The PR's author (no write access) may close it but not merge it; the owner may do both; others neither."""
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("rules")
    hf = hf_api.HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(rid)
    bob, carol = hub.unique_name("bob"), hub.unique_name("carol")
    for user in (bob, carol):
        hub.create_user(user)
        set_password(hub.server, user)
    pr = HubApi(endpoint=hub.url, token=hub.create_token(bob, "write")).upload_file(
        path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=rid, create_pr=True, commit_message="Add x"
    )
    where = f"/{rid}/discussions/{pr.pr_num}"
    bob_web, carol_web = sign_in(hub.url, bob), sign_in(hub.url, carol)
    owner, author, other = (c.get(where).text for c in (alice_web, bob_web, carol_web))
    assert "Merge pull request" in owner and "Close pull request" in owner
    assert "Merge pull request" not in author and "Close pull request" in author
    assert "Merge pull request" not in other and "Close pull request" not in other
    refused = carol_web.post(f"{where}/status", data={"status": "closed", "csrf_token": csrf_of(other)})
    assert refused.status_code == 403 and hf.get_discussion_details(rid, pr.pr_num).status == "open"
    done = bob_web.post(f"{where}/status", data={"status": "closed", "csrf_token": csrf_of(author)})
    assert done.status_code == 303 and hf.get_discussion_details(rid, pr.pr_num).status == "closed"
    assert "Reopen" in bob_web.get(where).text and "Merge pull request" not in alice_web.get(where).text


def test_file_views_by_type_and_their_links(hub: Hub) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("views")
    api.create_repo(rid)
    files = {
        "notes.md": b"# Notes\n\n- one\n",
        "conf.yaml": b"lr: 0.1\nname: demo\n",
        "read.txt": b"plain <b>text</b>\n",
        "t.csv": b"a,b\n1,2\n",
        "blob.bin": bytes(range(256)) * 4,
    }
    api.create_commit(rid, [CommitOperationAdd(path_in_repo=k, path_or_fileobj=v) for k, v in files.items()],
                      commit_message="files")  # fmt: skip
    web = httpx.Client(base_url=hub.url, timeout=60)
    md = web.get(f"/{rid}/blob/main/notes.md").text
    assert "<h1>Notes</h1>" in md and '<span class="gh"># Notes</span>' in md  # rendered, and the source
    yaml = web.get(f"/{rid}/blob/main/conf.yaml").text
    assert '<span class="nt">lr</span>' in yaml
    txt = web.get(f"/{rid}/blob/main/read.txt").text
    assert "plain &lt;b&gt;text&lt;/b&gt;" in txt and "<b>text" not in txt
    assert "<td>1</td><td>2</td>" in web.get(f"/{rid}/blob/main/t.csv").text
    binary = web.get(f"/{rid}/blob/main/blob.bin").text
    assert "This large file is not shown here" in binary  # *.bin: stored as LFS (the default .gitattributes)
    assert hashlib.sha256(files["blob.bin"]).hexdigest() in binary  # its SHA-256, shown
    link = re.search(r'<a href="([^"]+)" download>Download it</a>', binary).group(1)
    assert link == f"/{rid}/resolve/main/blob.bin?download=true"  # a resolve link, as on the Hub
    assert web.get(link).content == files["blob.bin"]
    tree = web.get(f"/{rid}/tree/main").text
    row = re.search(r"blob\.bin</a>.*?</tr>", tree, re.S).group(0)
    assert ">1 kB <" in row and ">files<" in row  # size and last commit per entry
    assert f'title="Large file (LFS), SHA-256 {hashlib.sha256(files["blob.bin"]).hexdigest()}">LFS<' in row
    # a private repo's download goes through raw, which the browser's session may read
    secret = hub.new_repo_id("views-private")
    api.create_repo(secret, private=True)
    api.upload_file(path_or_fileobj=files["blob.bin"], path_in_repo="blob.bin", repo_id=secret)
    set_password(hub.server, "alice")
    alice = sign_in(hub.url, "alice")
    page = alice.get(f"/{secret}/blob/main/blob.bin").text
    link = re.search(r'<a href="([^"]+)" download>Download it</a>', page).group(1)
    assert link == f"/{secret}/raw/main/blob.bin?download=1"
    got = alice.get(link)
    assert got.content == files["blob.bin"] and got.headers["content-disposition"].startswith("attachment")
