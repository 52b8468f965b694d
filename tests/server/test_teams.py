"""A hub for teams, with the official client 2.4.0 against the real server: community pull requests, gated repos
and access requests, organization roles, disabled and deleted users, fine-grained tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import CommitOperationAdd, HfApi  # noqa: E402
from huggingface_hub import errors as hf_errors  # noqa: E402

from ..web.conftest import PASSWORD, csrf_of, set_password, sign_in  # noqa: E402
from ._lfs import commit, lfs_line  # noqa: E402

pytestmark = pytest.mark.interop


def _api(hub, token: str | None = None) -> HfApi:
    return HfApi(endpoint=hub.url, token=token if token is not None else hub.token)


def _user(hub, prefix: str = "bob", role: str = "write") -> tuple[str, HfApi]:
    name = hub.create_user(hub.unique_name(prefix))
    return name, _api(hub, hub.create_token(name, role))


def _repo(hub, api: HfApi, files: dict[str, bytes], **kw) -> str:
    repo_id = hub.new_repo_id("t")
    api.create_repo(repo_id, **kw)
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=d) for p, d in files.items()]
    api.create_commit(repo_id, ops, commit_message="seed")
    return repo_id


def _status(exc: pytest.ExceptionInfo) -> int:
    return exc.value.response.status_code


def _cas_token(hub, token: str, repo_id: str) -> str:
    with hub.http(token) as c:
        r = c.get(f"/api/models/{repo_id}/xet-read-token/main")
    assert r.status_code == 200, r.text
    return r.json()["accessToken"]


def _cas_probe(hub, cas_token: str) -> int:
    """The CAS's answer to a reconstruction of a file that does not exist: 404 while the CAS token still holds,
    401 once what it was issued on (the hub token, the user, their access) no longer does."""
    with hub.http(cas_token) as c:
        return c.get(f"/cas/v2/reconstructions/{'0' * 64}").status_code


# --- 1. community pull requests ------------------------------------------------------------------------------------


def test_pr_from_a_second_user_merged_by_the_owner(hub, tmp_path) -> None:
    owner = _api(hub)
    repo_id = _repo(hub, owner, {"a.txt": b"A"})
    bob, bob_api = _user(hub)
    # bob may not push to main, but may open a PR with content (inline and a large file)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    assert _status(exc) == 403 and "pull request" in str(exc.value)
    big = bytes(range(256)) * 4096  # 1 MiB, binary: travels as LFS or regular as the client decides
    info = bob_api.create_commit(
        repo_id,
        [
            CommitOperationAdd(path_in_repo="b.txt", path_or_fileobj=b"B"),
            CommitOperationAdd(path_in_repo="w.bin", path_or_fileobj=big),
        ],
        commit_message="Add b",
        create_pr=True,
    )
    assert info.pr_num is not None and info.pr_revision == f"refs/pr/{info.pr_num}"
    # the author pushes a second commit to their PR branch
    bob_api.upload_file(
        path_or_fileobj=b"C", path_in_repo="c.txt", repo_id=repo_id, revision=info.pr_revision
    )
    # a third user may neither push to it nor merge or close it
    carol, carol_api = _user(hub, "carol")
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        carol_api.upload_file(
            path_or_fileobj=b"z", path_in_repo="z.txt", repo_id=repo_id, revision=info.pr_revision
        )
    assert _status(exc) == 403
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        carol_api.merge_pull_request(repo_id, info.pr_num)
    assert _status(exc) == 403
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        carol_api.change_discussion_status(repo_id, info.pr_num, "closed")
    assert _status(exc) == 403
    carol_api.comment_discussion(repo_id, info.pr_num, "Looks good")  # any signed-in reader may comment
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # nor its author: only the repo's writers merge
        bob_api.merge_pull_request(repo_id, info.pr_num)
    assert _status(exc) == 403
    # the owner (a writer) may push to it too, then merges
    owner.upload_file(path_or_fileobj=b"D", path_in_repo="d.txt", repo_id=repo_id, revision=info.pr_revision)
    owner.merge_pull_request(repo_id, info.pr_num, comment="Thanks!")
    assert sorted(owner.list_repo_files(repo_id)) == [
        ".gitattributes",
        "a.txt",
        "b.txt",
        "c.txt",
        "d.txt",
        "w.bin",
    ]
    assert Path(hf.hf_hub_download(repo_id, "w.bin", cache_dir=tmp_path)).read_bytes() == big
    details = owner.get_discussion_details(repo_id, info.pr_num)
    assert details.status == "merged" and details.author == bob
    authors = [(e.type, e.author) for e in details.events]
    assert ("commit", bob) in authors and ("commit", hub.user) in authors
    assert ("comment", carol) in authors and ("status-change", hub.user) in authors
    assert owner.list_repo_commits(repo_id)[0].authors == [hub.user]  # d.txt, fast-forwarded
    with hub.http() as anon:  # the PR's page names them too
        page = anon.get(f"/{repo_id}/discussions/{info.pr_num}").text
    for line in (f"<strong>{bob}</strong> added commit", f"<strong>{hub.user}</strong> added commit"):
        assert line in page
    assert f"<strong>{carol}</strong>" in page and f"<strong>{hub.user}</strong> changed the status" in page


def test_pr_author_may_close_own_pr_and_read_token_may_not_contribute(hub) -> None:
    owner = _api(hub)
    repo_id = _repo(hub, owner, {"a.txt": b"A"})
    bob, bob_api = _user(hub)
    pr = bob_api.create_pull_request(repo_id, title="Draft from bob")
    assert pr.author == bob and pr.status == "draft"
    bob_api.upload_file(
        path_or_fileobj=b"N", path_in_repo="n.txt", repo_id=repo_id, revision=pr.git_reference
    )
    assert bob_api.get_discussion_details(repo_id, pr.num).status == "open"  # a first commit opens the draft
    bob_api.change_discussion_status(repo_id, pr.num, "closed")
    assert owner.get_discussion_details(repo_id, pr.num).status == "closed"
    reader = _api(hub, hub.create_token(bob, "read"))
    for call in (
        lambda: reader.create_discussion(repo_id, title="from a read token"),
        lambda: reader.comment_discussion(repo_id, pr.num, "hi"),
        lambda: reader.upload_file(
            path_or_fileobj=b"r", path_in_repo="r.txt", repo_id=repo_id, create_pr=True
        ),
    ):
        with pytest.raises(hf_errors.HfHubHTTPError) as exc:
            call()
        assert _status(exc) == 403


def test_rename_edit_and_hide_comments(hub) -> None:
    owner = _api(hub)
    repo_id = _repo(hub, owner, {"a.txt": b"A"})
    bob, bob_api = _user(hub)
    d = bob_api.create_discussion(repo_id, title="Typo", description="first words")
    renamed = bob_api.rename_discussion(repo_id, d.num, "Typo in README")
    assert (renamed.old_title, renamed.new_title, renamed.author) == ("Typo", "Typo in README", bob)
    comment = bob_api.comment_discussion(repo_id, d.num, "I mean it")
    edited = bob_api.edit_discussion_comment(repo_id, d.num, comment.id, "I really mean it")
    assert edited.edited and edited.content == "I really mean it" and edited.author == bob
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # only the author edits a comment
        owner.edit_discussion_comment(repo_id, d.num, comment.id, "owner words")
    assert _status(exc) == 403
    carol, carol_api = _user(hub, "carol")
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # neither author nor writer
        carol_api.rename_discussion(repo_id, d.num, "Spam")
    assert _status(exc) == 403
    with pytest.warns(UserWarning):
        hidden = owner.hide_discussion_comment(repo_id, d.num, comment.id)
    assert hidden.hidden and hidden.content == "" and hidden.author == bob
    details = owner.get_discussion_details(repo_id, d.num)
    assert details.title == "Typo in README"
    assert [(e.type, e.author) for e in details.events][:2] == [("comment", bob), ("title-change", bob)]


# --- 2. gated repos ------------------------------------------------------------------------------------------------


def test_gated_manual_refused_then_granted(hub, tmp_path) -> None:
    owner = _api(hub)
    repo_id = _repo(hub, owner, {"w.txt": b"weights"})
    owner.update_repo_settings(repo_id, gated="manual")
    bob, bob_api = _user(hub)
    info = bob_api.model_info(repo_id)  # metadata stays visible
    assert info.gated == "manual" and "w.txt" in [s.rfilename for s in info.siblings]
    with pytest.raises(hf_errors.GatedRepoError) as exc:
        hf.hf_hub_download(repo_id, "w.txt", token=bob_api.token, cache_dir=tmp_path)
    assert _status(exc) == 403 and "ask-access" in str(exc.value)
    with pytest.raises(hf_errors.GatedRepoError) as exc:
        hf.hf_hub_download(repo_id, "w.txt", token=False, cache_dir=tmp_path / "anon")
    assert _status(exc) == 401
    with pytest.raises(hf_errors.GatedRepoError):
        bob_api.auth_check(repo_id)
    with hub.http(bob_api.token) as c:  # no CAS token either: Xet downloads are gated like resolve
        r = c.get(f"/api/models/{repo_id}/xet-read-token/main")
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"
    with pytest.raises(hf_errors.GatedRepoError):  # nor may it copy them
        bob_api.duplicate_repo(repo_id)
    sha = owner.list_repo_commits(repo_id)[0].commit_id
    with hub.http(bob_api.token) as c:  # the web pages: the file list and history stay, the contents do not
        assert "w.txt" in c.get(f"/{repo_id}/tree/main").text
        for url in (f"/{repo_id}/raw/main/w.txt", f"/{repo_id}/blob/main/w.txt"):
            r = c.get(url)
            assert r.status_code == 403 and "ask-access" in r.text and "weights" not in r.text
        r = c.get(f"/{repo_id}/commit/{sha}")
        assert (
            r.status_code == 200
            and "w.txt" in r.text
            and "weights" not in r.text
            and "ask for access" in r.text
        )
    # the owner downloads (a writer); bob asks, the owner sees the request and accepts it
    assert Path(hf.hf_hub_download(repo_id, "w.txt", token=hub.token, cache_dir=tmp_path / "o")).read_bytes()
    with hub.http(bob_api.token) as c:
        asked = c.post(f"/api/models/{repo_id}/ask-access", json={"fields": {"company": "ACME"}})
    assert asked.status_code == 200 and asked.json()["status"] == "pending"
    pending = owner.list_pending_access_requests(repo_id)
    assert [(r.username, r.status, r.fields) for r in pending] == [(bob, "pending", {"company": "ACME"})]
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # bob cannot manage requests
        bob_api.accept_access_request(repo_id, bob)
    assert _status(exc) == 403
    owner.accept_access_request(repo_id, bob)
    assert [r.username for r in owner.list_accepted_access_requests(repo_id)] == [bob]
    bob_api.auth_check(repo_id)
    with hub.http(bob_api.token) as c:
        assert c.get(f"/api/models/{repo_id}/xet-read-token/main").status_code == 200
    path = hf.hf_hub_download(repo_id, "w.txt", token=bob_api.token, cache_dir=tmp_path / "b")
    assert Path(path).read_bytes() == b"weights"
    with hub.http(bob_api.token) as c:
        assert c.get(f"/{repo_id}/raw/main/w.txt").content == b"weights"
        assert "weights" in c.get(f"/{repo_id}/commit/{sha}").text
    cas = _cas_token(hub, bob_api.token, repo_id)
    assert _cas_probe(hub, cas) == 404  # allowed (no such file)
    # rejected: refused again at once, also the CAS token it holds
    owner.reject_access_request(repo_id, bob, rejection_reason="no")
    assert [r.username for r in owner.list_rejected_access_requests(repo_id)] == [bob]
    with pytest.raises(hf_errors.GatedRepoError):
        hf.hf_hub_download(repo_id, "w.txt", token=bob_api.token, cache_dir=tmp_path / "b2")
    assert _cas_probe(hub, cas) == 401
    owner.cancel_access_request(repo_id, bob)  # back to pending
    assert [r.username for r in owner.list_pending_access_requests(repo_id)] == [bob]
    # grant_access: a user who never asked
    carol, carol_api = _user(hub, "carol")
    owner.grant_access(repo_id, carol)
    assert Path(
        hf.hf_hub_download(repo_id, "w.txt", token=carol_api.token, cache_dir=tmp_path / "c")
    ).read_bytes()
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        owner.grant_access(repo_id, carol)
    assert _status(exc) == 400
    # the LFS batch download is gated too, and naming a gated file's hash in one's own repo proves nothing
    dave, dave_api = _user(hub, "dave")
    own = f"{dave}/copy"
    dave_api.create_repo(own)
    with hub.http(dave_api.token) as c:
        r = commit(c, own, [lfs_line("stolen.txt", hashlib.sha256(b"weights").hexdigest())])
    assert r.status_code == 400 and "never uploaded" in r.text
    with hub.http(dave_api.token) as c:
        r = c.post(
            f"/{repo_id}.git/info/lfs/objects/batch",
            json={"operation": "download", "objects": [{"oid": "0" * 64, "size": 1}]},
        )
    assert r.status_code == 403 and r.headers["x-error-code"] == "GatedRepo"


def test_gated_auto_accepts_at_once(hub, tmp_path) -> None:
    owner = _api(hub)
    repo_id = _repo(hub, owner, {"w.txt": b"auto"})
    owner.update_repo_settings(repo_id, gated="auto")
    bob, bob_api = _user(hub)
    with pytest.raises(hf_errors.GatedRepoError):
        hf.hf_hub_download(repo_id, "w.txt", token=bob_api.token, cache_dir=tmp_path)
    set_password(hub.server, bob)  # bob asks on the card page's gate panel, signed in, as in a browser
    browser = sign_in(hub.url, bob)
    try:
        card = browser.get(f"/{repo_id}")
        assert card.status_code == 200 and "Ask for access" in card.text
        assert browser.get(f"/{repo_id}/raw/main/w.txt").status_code == 403
        asked = browser.post(f"/{repo_id}/ask-access", data={"csrf_token": csrf_of(card.text)})
        assert asked.status_code == 303
        assert browser.get(f"/{repo_id}/raw/main/w.txt").content == b"auto"  # auto: accepted at once
        assert "Ask for access" not in browser.get(f"/{repo_id}").text
    finally:
        browser.close()
    with hub.http() as anon:
        assert "Sign in</a> to ask for access" in anon.get(f"/{repo_id}").text
    assert (
        Path(hf.hf_hub_download(repo_id, "w.txt", token=bob_api.token, cache_dir=tmp_path)).read_bytes()
        == b"auto"
    )
    owner.update_repo_settings(repo_id, gated=False)  # ungated: open to every reader
    anon = hf.hf_hub_download(repo_id, "w.txt", token=False, cache_dir=tmp_path / "anon")
    assert Path(anon).read_bytes() == b"auto"


# --- 3. organizations with roles, disabled and deleted users -------------------------------------------------------


def test_org_roles_members_and_admin(hub) -> None:
    org = hub.create_org(hub.unique_name("org"), ["alice"])
    hub.server.admin("org", "set-role", org, "alice", "admin")
    reader, reader_api = _user(hub, "reader")
    contrib, contrib_api = _user(hub, "contrib")
    writer, writer_api = _user(hub, "writer")
    owner = _api(hub)
    with hub.http(hub.token) as c:  # an org admin manages members through the API
        for user, role in ((reader, "read"), (contrib, "contributor"), (writer, "write")):
            assert c.put(f"/api/organizations/{org}/members/{user}", json={"role": role}).status_code == 200
    members = {u.username: getattr(u, "role", None) for u in owner.list_organization_members(org)}
    assert members == {"alice": "admin", reader: "read", contrib: "contributor", writer: "write"}
    private_id = f"{org}/private-{hub.unique_name()}"
    owner.create_repo(private_id, private=True)
    owner.upload_file(path_or_fileobj=b"s", path_in_repo="s.txt", repo_id=private_id)
    # read: sees the private repo, may not write or create
    assert reader_api.model_info(private_id).private
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        reader_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=private_id)
    assert _status(exc) == 403
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        reader_api.create_repo(f"{org}/by-reader")
    assert _status(exc) == 403
    # contributor: writes the repos it created, not the others
    own = f"{org}/by-contrib-{hub.unique_name()}"
    contrib_api.create_repo(own, private=True)
    contrib_api.upload_file(path_or_fileobj=b"c", path_in_repo="c.txt", repo_id=own)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        contrib_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=private_id)
    assert _status(exc) == 403
    # write: every repo of the org, but not the members
    writer_api.upload_file(path_or_fileobj=b"w", path_in_repo="w.txt", repo_id=private_id)
    writer_api.upload_file(path_or_fileobj=b"w", path_in_repo="w.txt", repo_id=own)
    with hub.http(writer_api.token) as c:
        assert c.delete(f"/api/organizations/{org}/members/{reader}").status_code == 403
        assert c.put(f"/api/organizations/{org}/members/{writer}", json={"role": "admin"}).status_code == 403
    # an org admin manages the repos others created: settings, deletion
    owner.update_repo_settings(own, gated="manual")
    assert contrib_api.model_info(own).gated == "manual"
    doomed = f"{org}/doomed-{hub.unique_name()}"
    contrib_api.create_repo(doomed)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # a contributor deletes only its own repos
        contrib_api.delete_repo(private_id)
    assert _status(exc) == 403
    owner.delete_repo(doomed)
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        contrib_api.model_info(doomed)
    # an admin changes a member's role through the API: the contributor writes every repo from then on
    with hub.http(hub.token) as c:
        assert c.put(f"/api/organizations/{org}/members/{contrib}", json={"role": "write"}).status_code == 200
    contrib_api.upload_file(path_or_fileobj=b"c2", path_in_repo="c2.txt", repo_id=private_id)
    assert {u.username: u.role for u in owner.list_organization_members(org)}[contrib] == "write"
    # an admin removes a member: the private repo disappears for them at once, with the CAS token they held
    cas = _cas_token(hub, reader_api.token, private_id)
    assert _cas_probe(hub, cas) == 404
    with hub.http(hub.token) as c:
        assert c.delete(f"/api/organizations/{org}/members/{reader}").status_code == 200
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        reader_api.model_info(private_id)
    assert _cas_probe(hub, cas) == 401
    assert reader not in [u.username for u in owner.list_organization_members(org)]
    # roles are changed with the admin CLI too
    hub.server.admin("org", "set-role", org, writer, "read")
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        writer_api.upload_file(path_or_fileobj=b"w2", path_in_repo="w2.txt", repo_id=private_id)
    assert _status(exc) == 403
    assert f"{writer}\tread" in hub.server.admin("org", "members", org)
    overview = owner.get_organization_overview(org)
    assert overview.name == org and overview.num_users == 3 and overview.num_models == 2
    assert hf.get_organization_overview(org, token=False).num_models == 0  # private repos stay invisible


def test_disabled_and_deleted_users_are_refused_on_the_next_request(hub) -> None:
    bob, bob_api = _user(hub)
    assert bob_api.whoami()["name"] == bob
    secret = f"{bob}/secret"
    bob_api.create_repo(secret, private=True)
    cas = _cas_token(hub, bob_api.token, secret)
    set_password(hub.server, bob)
    browser = sign_in(hub.url, bob)
    assert browser.get(f"/{secret}").status_code == 200
    hub.server.admin("user", "disable", bob)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.whoami()
    assert _status(exc) == 401 and "disabled" in exc.value.response.text
    with pytest.raises(hf_errors.HfHubHTTPError):  # on the resolve fast path too
        hf.model_info("alice/none", token=bob_api.token)
    assert _cas_probe(hub, cas) == 401  # the CAS token issued on its token too
    assert browser.get(f"/{secret}").status_code == 404  # its web session is over: anonymous from now on
    form = browser.get("/login")
    again = browser.post(
        "/login", data={"username": bob, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    assert again.status_code != 303 and browser.get(f"/{secret}").status_code == 404  # and it cannot sign in
    browser.close()
    hub.server.admin("user", "enable", bob)
    assert bob_api.whoami()["name"] == bob
    repo_id = f"{bob}/mine"
    bob_api.create_repo(repo_id)
    with pytest.raises(RuntimeError, match="owns 2 repos"):
        hub.server.admin("user", "delete", bob)
    hub.server.admin("user", "delete", bob, "--with-repos")
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.whoami()
    assert _status(exc) == 401
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        _api(hub).model_info(repo_id)
    # a revoked token is refused on the next request as well
    carol, carol_api = _user(hub, "carol")
    assert carol_api.whoami()["name"] == carol
    hub.server.admin("token", "revoke", carol_api.token)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        carol_api.whoami()
    assert _status(exc) == 401


def test_user_overview(hub) -> None:
    bob, bob_api = _user(hub)
    org = hub.create_org(hub.unique_name("org"), [bob])
    bob_api.create_repo(f"{bob}/pub")
    bob_api.create_repo(f"{bob}/priv", private=True)
    seen_by_bob = bob_api.get_user_overview(bob)
    assert seen_by_bob.username == bob and seen_by_bob.num_models == 2
    assert [o.name for o in seen_by_bob.orgs] == [org]
    assert hf.get_user_overview(bob, token=False).num_models == 1
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        bob_api.get_user_overview("no-such-user-x")
    assert _status(exc) == 404


# --- 4. fine-grained tokens ----------------------------------------------------------------------------------------


def test_scoped_token_is_refused_outside_its_scope(hub, tmp_path) -> None:
    owner = _api(hub)
    inside = _repo(hub, owner, {"a.txt": b"A"}, private=True)
    outside = _repo(hub, owner, {"b.txt": b"B"}, private=True)
    token = hub.server.admin("token", "create", "alice", "--role", "write", "--name", "ci", "--scope", inside)
    scoped = _api(hub, token)
    me = scoped.whoami()
    access = me["auth"]["accessToken"]
    assert access["role"] == "fineGrained"
    assert access["fineGrained"]["scoped"] == [
        {
            "entity": {"type": "model", "name": inside},
            "permissions": ["repo.content.read", "discussion.write", "repo.write"],
        }
    ]
    scoped.upload_file(path_or_fileobj=b"ok", path_in_repo="ok.txt", repo_id=inside)
    assert "ok.txt" in scoped.list_repo_files(inside)
    with pytest.raises(hf_errors.RepositoryNotFoundError):  # a private repo outside the scope is invisible
        scoped.model_info(outside)
    with pytest.raises(hf_errors.RepositoryNotFoundError):  # on every file route: resolve, Xet, LFS
        hf.hf_hub_download(outside, "b.txt", token=token, cache_dir=tmp_path)
    with hub.http(token) as c:
        assert c.get(f"/api/models/{outside}/xet-read-token/main").status_code == 404
        batch = {"operation": "download", "objects": [{"oid": hashlib.sha256(b"B").hexdigest(), "size": 1}]}
        assert c.post(f"/{outside}.git/info/lfs/objects/batch", json=batch).status_code == 404
    assert outside not in [m.id for m in scoped.list_models(author="alice")]
    assert inside in [m.id for m in scoped.list_models(author="alice")]
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # creating repos needs a namespace scope
        scoped.create_repo(hub.new_repo_id())
    assert _status(exc) == 403
    public = _repo(hub, owner, {"p.txt": b"P"})
    assert scoped.model_info(public).id == public  # public repos stay readable, as for anyone
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        scoped.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public)
    assert _status(exc) == 403 and "fine-grained" in str(exc.value)
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:  # nor does it open discussions outside its scope
        scoped.create_discussion(public, title="out of scope")
    assert _status(exc) == 403
    # a read-only token limited to a namespace
    ns_read = _api(hub, hub.server.admin("token", "create", "alice", "--role", "read", "--scope", "alice"))
    assert ns_read.whoami()["auth"]["accessToken"]["fineGrained"]["scoped"][0]["entity"] == {
        "type": "user",
        "name": "alice",
    }
    assert ns_read.model_info(outside).private
    with pytest.raises(hf_errors.HfHubHTTPError) as exc:
        ns_read.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=outside)
    assert _status(exc) == 403
    with pytest.raises(RuntimeError, match="Invalid token scope"):
        hub.server.admin("token", "create", "alice", "--scope", "a/b/c/d")
