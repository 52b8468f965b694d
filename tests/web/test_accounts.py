"""Accounts in the browser over HTTP against the real server: every form of the web pages refuses a post without
its CSRF token (and changes nothing), a user made with ``admin user create --password`` signs in, the tokens page
shows when a token was last used, and the session cookie is Secure on a hub served over https."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from modelhub.client import HubApi
from modelhub.server.web import account_pages, pages, repo_pages

from .._hub import Hub, HubServer
from .conftest import PASSWORD, csrf_of, set_password, sign_in


def _form_posts() -> list[str]:
    """The path of every POST route of the web pages (a form's action), with its parameters' names."""
    routers = (pages.router, account_pages.router, repo_pages.router)  # community.py adds to repo_pages'
    return sorted(
        {r.path for rt in routers for r in rt.routes if "POST" in (getattr(r, "methods", None) or ())}
    )


def test_every_form_refuses_a_post_without_its_csrf_token(hub: Hub, alice_web: httpx.Client) -> None:
    api = HubApi(endpoint=hub.url, token=hub.token)
    rid = hub.new_repo_id("csrf")
    api.create_repo(rid)
    pr = api.upload_file(path_or_fileobj=b"x\n", path_in_repo="x.txt", repo_id=rid, create_pr=True)
    ns, name = rid.split("/")
    values = {"prefix": "datasets", "namespace": ns, "name": name, "num": str(pr.pr_num), "token_id": "1"}
    posts = _form_posts()
    assert {"/login", "/logout", "/new", "/settings/tokens"} <= set(posts) and len(posts) >= 12
    forms = {
        "/new": {"owner": "alice", "name": f"{name}-2", "type": "model"},
        "/settings/tokens": {"name": "forged", "role": "write"},
    }
    before = hub.server.admin("token", "list", "alice")
    for path in posts:
        if path.startswith("/{prefix"):
            continue  # the same handlers as the model URLs
        url = re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values[m.group(1)], path)
        data = forms.get(path, {"visibility": "private", "confirm": rid, "comment": "forged", "status": "closed",
                                "title": "forged", "username": "alice", "password": PASSWORD})  # fmt: skip
        for extra in ({}, {"csrf_token": "forged-value-of-the-right-length-000"}):
            r = alice_web.post(url, data={**data, **extra})
            assert r.status_code == 403 and "CSRF" in r.text, (url, r.status_code)
    # nothing happened: the repo is there, public, its PR open and uncommented; no token, no repo was made
    assert httpx.get(f"{hub.url}/{rid}").status_code == 200
    with hub.http(hub.token) as c:
        thread = c.get(f"/api/models/{rid}/discussions/{pr.pr_num}").json()
    assert thread["status"] == "open" and not any(e["type"] == "comment" for e in thread["events"])
    assert httpx.get(f"{hub.url}/alice/{name}-2").status_code == 404
    assert hub.server.admin("token", "list", "alice") == before
    assert alice_web.get("/settings/tokens").status_code == 200  # still signed in: /logout was refused too


def test_admin_user_create_with_a_password_signs_in(hub: Hub) -> None:
    user = hub.unique_name("carol")
    cmd, env = hub.server.admin_command("user", "create", user, "--password")
    res = subprocess.run(
        cmd, input="a long passphrase\n", capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 0 and "with a password" in res.stderr, res.stderr
    client = sign_in(hub.url, user, "a long passphrase")
    # on the SQLite backend: what is stored is an Argon2id hash (argon2-cffi), never the password
    db = hub.server.data_dir / "modelhub.sqlite3"
    if db.exists():
        with closing(sqlite3.connect(db)) as conn:
            (stored,) = conn.execute("SELECT password_hash FROM accounts WHERE name = ?", (user,)).fetchone()
        assert stored.startswith("$argon2id$") and "passphrase" not in stored
    assert f">{user}</span>" in client.get("/").text
    short = subprocess.run(hub.server.admin_command("user", "password", user)[0], input="short\n",
                           capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert short.returncode != 0 and "too short" in short.stderr


def test_tokens_page_shows_the_last_use(hub: Hub, alice_web: httpx.Client) -> None:
    page = alice_web.get("/settings/tokens").text
    name = hub.unique_name("used")
    made = alice_web.post(
        "/settings/tokens", data={"name": name, "role": "read", "csrf_token": csrf_of(page)}
    )
    token = re.search(r'<code id="new-token">(hf_[A-Za-z0-9]+)</code>', made.text).group(1)

    def last_used() -> str:
        row = re.search(rf"<strong>{name}</strong>.*?</tr>", alice_web.get("/settings/tokens").text, re.S)
        return re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)[
            2
        ]  # after the name: role, created, last used

    assert "never" in last_used()
    auth = {"authorization": f"Bearer {token}"}
    assert httpx.get(f"{hub.url}/api/whoami-v2", headers=auth).status_code == 200
    deadline = (
        time.monotonic() + 20
    )  # recorded by a background thread of the server, without delaying the call
    while "never" in (used := last_used()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "never" not in used and re.search(r'title="\d{4}-\d\d-\d\d \d\d:\d\d', used), used


@pytest.fixture
def https_hub(tmp_path: Path) -> Iterator[HubServer]:
    server = HubServer(tmp_path / "data", extra_args=("--public-url", "https://hub.example.org")).start()
    yield server
    server.stop()


def test_session_cookie_is_secure_behind_https(https_hub: HubServer) -> None:
    https_hub.create_user("dana")
    set_password(https_hub, "dana")
    with httpx.Client(base_url=https_hub.url, timeout=60) as client:
        # the browser sends Secure cookies over https only (httpx here talks plain http: they are passed by hand)
        form = client.get("/login")
        csrf_cookie = form.headers["set-cookie"]
        assert "HttpOnly" in csrf_cookie and "Secure" in csrf_cookie
        client.cookies.set("modelhub_csrf", csrf_cookie.split(";")[0].split("=", 1)[1])
        login = {"username": "dana", "password": PASSWORD, "csrf_token": csrf_of(form.text)}
        r = client.post("/login", data=login)
        assert r.status_code == 303
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "modelhub_session" in v)
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
        # a form posted from the hub's public https origin is accepted, one from another origin refused
        client.cookies.set("modelhub_session", cookie.split(";")[0].split("=", 1)[1])
        page = client.get("/settings/tokens")
        assert page.status_code == 200
        data = {"name": "t", "role": "read", "csrf_token": csrf_of(page.text)}
        for origin, status in (("https://evil.example", 403), ("https://hub.example.org", 200)):
            r = client.post("/settings/tokens", data=data, headers={"origin": origin})
            assert r.status_code == status, origin
