"""Password sign-in is bounded: failed attempts per account at an address, per address, and the answer once
a limit is reached (429 with Retry-After, no password check, API tokens unaffected). Each test has a hub of its
own, so that its failed attempts count against nobody else's sign-ins."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelhub.server.domain import sign_in_limits

from .._hub import HubServer
from .conftest import PASSWORD, csrf_of, set_password, sign_in


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HubServer]:
    s = HubServer(tmp_path / "data").start()
    try:
        for user in ("alice", "bob"):
            s.create_user(user)
            set_password(s, user)
        yield s
    finally:
        s.stop()


def _attempt(client: httpx.Client, user: str, password: str) -> httpx.Response:
    form = client.get("/login")
    return client.post(
        "/login", data={"username": user, "password": password, "csrf_token": csrf_of(form.text)}
    )


def test_an_account_guessed_at_is_refused_before_its_password_is_checked(server: HubServer) -> None:
    token = server.create_token("alice", "read")
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for i in range(sign_in_limits.PER_ACCOUNT_AT_ADDRESS):
            assert _attempt(client, "alice", f"wrong {i}").status_code == 401
        # the right password no longer helps from this address: the limit answers first
        refused = _attempt(client, "Alice", PASSWORD)  # names compare ignoring case
        assert refused.status_code == 429
        assert "Too many failed sign-ins for this account from your address" in refused.text
        assert 0 < int(refused.headers["retry-after"]) <= sign_in_limits.WINDOW.total_seconds() + 1
        assert "modelhub_session" not in refused.headers.get("set-cookie", "")
    # another account at the same address signs in; the guessed-at account's API token still works
    sign_in(server.url, "bob").close()
    api = httpx.get(f"{server.url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"})
    assert api.status_code == 200 and api.json()["name"] == "alice"


def test_a_success_clears_the_account_count_at_that_address(server: HubServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(2):
            for i in range(sign_in_limits.PER_ACCOUNT_AT_ADDRESS - 1):
                assert _attempt(client, "alice", f"wrong {i}").status_code == 401
            assert _attempt(client, "alice", PASSWORD).status_code == 303
        assert _attempt(client, "alice", "wrong again").status_code == 401  # counted afresh, not refused


def test_an_address_guessing_at_many_accounts_is_refused(server: HubServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for i in range(sign_in_limits.PER_ADDRESS):
            # unknown accounts count too (and take as long as known ones: no user enumeration)
            assert _attempt(client, f"nobody{i}", "guess").status_code == 401
        refused = _attempt(client, "bob", PASSWORD)
        assert refused.status_code == 429 and "from your address" in refused.text
