"""Home and search pages over HTTP against the real server: the filters by tag, library, pipeline tag and license,
the sorts, the pages of results, the dataset listing, and what private repos leave out of the facets and counts.
Every repo here carries a unique word, so the answers are exact on a hub shared with other tests."""

from __future__ import annotations

import re

import httpx

from modelhub.client import HubApi

from .._hub import Hub
from .conftest import set_password, sign_in


def _card(library: str, task: str, license_: str, tag: str) -> bytes:
    return f"---\nlibrary_name: {library}\npipeline_tag: {task}\nlicense: {license_}\ntags: [{tag}]\n---\n# x\n".encode()


def _listed(html: str) -> list[str]:
    """The repo ids of a result page, in their order."""
    return re.findall(r'class="repo-item-name" href="/(?:datasets/)?([^"]+)"', html)


def _count(html: str) -> int:
    return int(re.search(r'<span class="count">(\d+) (?:models?|datasets?)</span>', html).group(1))


def test_filters_by_tag_library_task_and_license_and_private_facets(hub: Hub) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    word = hub.unique_name("facet")
    a, b, hidden = (hub.new_repo_id(f"{word}-{x}") for x in ("a", "b", "hidden"))
    api.create_repo(a)
    api.create_repo(b)
    api.create_repo(hidden, private=True)
    cards = {
        a: _card(f"lib-{word}", "text-classification", "mit", f"tag-{word}"),
        b: _card(f"other-{word}", "image-classification", "apache-2.0", f"else-{word}"),
        hidden: _card(f"lib-{word}", "text-classification", "mit", f"secret-{word}"),
    }
    for rid, card in cards.items():
        api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=rid)
    anon = httpx.Client(base_url=hub.url, timeout=60)
    for flt, want in (
        (f"tag-{word}", [a]),
        (f"lib-{word}", [a]),  # a library name
        ("image-classification", [b]),  # a pipeline tag
        ("license:apache-2.0", [b]),
        ("license:mit", [a]),
    ):
        html = anon.get("/models", params={"search": word, "filter": flt}).text
        assert sorted(_listed(html)) == want and _count(html) == len(want), flt
    # two filters: both must hold
    both = anon.get(
        "/models", params=[("search", word), ("filter", "license:mit"), ("filter", f"else-{word}")]
    )
    assert _listed(both.text) == [] and _count(both.text) == 0
    # the facets count only what the viewer may read: the private repo's tag and its library count are not there
    home = anon.get("/").text
    assert f"secret-{word}" not in home
    assert re.search(rf">lib-{word} <span class=\"n\">1</span>", home)
    assert _count(anon.get("/models", params={"search": word}).text) == 2
    set_password(hub.server, "alice")
    alice = sign_in(hub.url, "alice")
    mine = alice.get("/").text
    assert f"secret-{word}" in mine and re.search(rf">lib-{word} <span class=\"n\">2</span>", mine)
    assert _count(alice.get("/models", params={"search": word}).text) == 3
    # a facet chip is a link that applies its filter
    chip = re.search(rf'href="(/models\?[^"]*filter=tag-{word}[^"]*)"', home).group(1).replace("&amp;", "&")
    assert _listed(anon.get(chip).text) == [a]


def test_sorts_and_pages_of_results(hub: Hub) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    word = hub.unique_name("page")
    made = [hub.new_repo_id(f"{word}-{i:02d}") for i in range(32)]
    for rid in made:
        api.create_repo(rid)
    api.upload_file(path_or_fileobj=b"touched\n", path_in_repo="t.txt", repo_id=made[5])  # now the newest
    anon = httpx.Client(base_url=hub.url, timeout=60)
    first = anon.get("/models", params={"search": word}).text  # sort: recently updated
    assert _count(first) == 32 and len(_listed(first)) == 30 and _listed(first)[0] == made[5]
    assert "Page 1 of 2" in first and "p=1" in first
    second = anon.get("/models", params={"search": word, "p": "1"}).text
    assert len(_listed(second)) == 2 and "Page 2 of 2" in second
    assert set(_listed(first)) | set(_listed(second)) == set(
        made
    )  # every repo once, on one page or the other
    by_name = anon.get("/models", params={"search": word, "sort": "name"}).text
    assert _listed(by_name) == sorted(made)[:30]
    created = anon.get("/models", params={"search": word, "sort": "created"}).text
    assert _listed(created)[0] == made[-1]
    # the pager's links keep the search and the sort
    nxt = re.search(r'href="\?([^"]*p=1)"', by_name).group(1).replace("&amp;", "&")
    assert _listed(anon.get("/models?" + nxt).text) == sorted(made)[30:]


def test_dataset_listing_and_pages(hub: Hub) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    word = hub.unique_name("ds")
    rid = hub.new_repo_id(word)
    api.create_repo(rid, repo_type="dataset")
    card = b"---\nlicense: cc-by-4.0\nlanguage: [en, fr]\ntask_categories: [text-classification]\n---\n# Reviews\n"
    api.upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=rid, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"text,label\ngood,1\nbad,0\n", path_in_repo="data/train.csv", repo_id=rid,
                    repo_type="dataset")  # fmt: skip
    anon = httpx.Client(base_url=hub.url, timeout=60)
    listing = anon.get("/datasets", params={"search": word}).text
    assert f'href="/datasets/{rid}"' in listing and _count(listing) == 1
    assert rid not in anon.get("/models", params={"search": word}).text  # a dataset is not a model
    page = anon.get(f"/datasets/{rid}").text
    assert "Dataset card" in page and "<h1>Reviews</h1>" in page
    assert f"load_dataset(&#34;{rid}&#34;)" in page and "--repo-type dataset" in page
    for label in ("cc-by-4.0", "en", "fr"):
        assert f'<span class="badge-v">{label}</span>' in page
    tree = anon.get(f"/datasets/{rid}/tree/main/data").text
    assert f'href="/datasets/{rid}/blob/main/data/train.csv"' in tree
    blob = anon.get(f"/datasets/{rid}/blob/main/data/train.csv").text
    assert '<table class="csv">' in blob and "<th>text</th>" in blob and "<td>good</td>" in blob
    assert anon.get(f"/datasets/{rid}/commits/main").status_code == 200
    assert anon.get(f"/{rid}").status_code == 404  # no model of that name
    owner = anon.get(f"/{rid.split('/')[0]}").text
    assert f'href="/datasets/{rid}"' in owner
    # a private dataset's pages answer the very 404 page of a missing one
    secret = hub.new_repo_id(f"{word}-secret")
    api.create_repo(secret, repo_type="dataset", private=True)
    assert secret not in anon.get("/datasets", params={"search": word}).text
    for suffix in ("", "/tree/main", "/commits/main", "/discussions"):
        hidden, missing = anon.get(f"/datasets/{secret}{suffix}"), anon.get(f"/datasets/{secret}-x{suffix}")
        assert hidden.status_code == missing.status_code == 404
        strip = lambda t: re.sub(r"next=[^\"]*", "", t)  # noqa: E731 - the sign-in link names the page
        assert strip(hidden.text) == strip(missing.text), suffix


def test_an_account_page_links_to_all_its_repos(hub: Hub) -> None:
    """An organization page shows the first page of its repos and links to all of them (paged, private ones
    counted only for members)."""
    api = HubApi(endpoint=hub.url, token=hub.token)
    org = hub.create_org(hub.unique_name("many"), ["alice"])
    made = [f"{org}/m{i:02d}" for i in range(31)]
    for rid in made:
        api.create_repo(rid)
    api.create_repo(f"{org}/hidden", private=True)
    anon = httpx.Client(base_url=hub.url, timeout=60)
    page = anon.get(f"/{org}").text
    assert re.search(r'Models <span class="count">31</span>', page) and len(_listed(page)) == 30
    link = re.search(r'<a class="see-all" href="([^"]+)">See all 31 models', page).group(1)
    assert link == f"/models?author={org}"
    first = anon.get(link).text
    assert _count(first) == 31 and len(_listed(first)) == 30 and "Page 1 of 2" in first
    assert all(r.startswith(f"{org}/") for r in _listed(first))
    nxt = re.search(r'href="\?([^"]*p=1)"', first).group(1).replace("&amp;", "&")
    rest = anon.get("/models?" + nxt).text
    assert set(_listed(first)) | set(_listed(rest)) == set(made) and f"{org}/hidden" not in rest
    # a sort keeps the author
    by_name = anon.get("/models", params={"author": org, "sort": "name"}).text
    assert _listed(by_name) == sorted(made)[:30] and f'name="author" value="{org}"' in by_name
    set_password(hub.server, "alice")
    member = sign_in(hub.url, "alice")
    assert _count(member.get(link).text) == 32 and "See all 32 models" in member.get(f"/{org}").text
