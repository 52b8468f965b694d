"""Fixtures of the web page tests: passwords for the hub's users, a signed-in browser-like HTTP client."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from .._hub import Hub, HubServer

PASSWORD = "correct horse battery"


def set_password(server: HubServer, user: str, password: str = PASSWORD) -> None:
    """``modelhub admin user password USER``, the password on standard input (as a script would)."""
    cmd, env = server.admin_command("user", "password", user)
    res = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def sign_in(url: str, user: str, password: str = PASSWORD) -> httpx.Client:
    """An HTTP client holding a login session cookie, as a browser would after the sign-in form."""
    client = httpx.Client(base_url=url, timeout=60, follow_redirects=False)
    form = client.get("/login")
    r = client.post("/login", data={"username": user, "password": password, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def alice_web(hub: Hub) -> Iterator[httpx.Client]:
    set_password(hub.server, "alice")
    client = sign_in(hub.url, "alice")
    yield client
    client.close()
