"""Access-token management against a real server: list, revoke (effective at once), expiry, last use, and the
upgrade of a database created before tokens had ``expires_at`` / ``last_used_at`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from modelhub.server.domain.accounts import hash_token

from .._hub import HubServer
from .._services import new_database

INVALID = "Invalid credentials in Authorization header"
HEADER = ["id", "name", "role", "created", "last_used", "expires"]


def _rows(out: str) -> list[dict[str, str]]:
    lines = out.splitlines()
    assert lines[0].split("\t") == HEADER
    rows = [dict(zip(HEADER, line.split("\t"), strict=True)) for line in lines[1:]]
    return rows


def _token_list(server: HubServer, user: str, *extra: str) -> list[dict[str, str]]:
    return _rows(server.admin("token", "list", user, *extra))


def _admin_fails(server: HubServer, *args: str) -> subprocess.CompletedProcess[str]:
    cmd, env = server.admin_command(*args)
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert res.stdout == ""
    return res


def _whoami(url: str, token: str):
    import httpx

    return httpx.get(f"{url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}, timeout=30)


def _create_token(server: HubServer, user: str, name: str, *extra: str) -> str:
    return server.admin("token", "create", user, "--role", "write", "--name", name, *extra)


def _wait_last_used(server: HubServer, user: str, name: str, *extra: str) -> str:
    """The token's last-used time once the server recorded it (it writes off the request path)."""
    deadline = time.monotonic() + 20
    while True:
        (row,) = [r for r in _token_list(server, user, *extra) if r["name"] == name]
        if row["last_used"] != "never" or time.monotonic() > deadline:
            return row["last_used"]
        time.sleep(0.2)


def test_list_shows_tokens_without_secrets(hub) -> None:
    user = hub.create_user(hub.unique_name())
    first = _create_token(hub.server, user, "laptop")
    second = hub.server.admin(
        "token", "create", user, "--role", "read", "--name", "ci", "--expires-in", "30d"
    )
    hub.create_user(other := hub.unique_name())
    _create_token(hub.server, other, "not-mine")

    out = hub.server.admin("token", "list", user)
    for secret in (first, second):
        assert secret not in out and hash_token(secret) not in out
    rows = _rows(out)
    assert [(r["name"], r["role"]) for r in rows] == [("laptop", "write"), ("ci", "read")]
    assert all(r["id"].isdigit() for r in rows) and rows[0]["id"] != rows[1]["id"]
    assert rows[0]["expires"] == "never" and rows[0]["last_used"] == "never"
    created = dt.datetime.strptime(rows[1]["created"], "%Y-%m-%dT%H:%M:%SZ")
    expires = dt.datetime.strptime(rows[1]["expires"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs((expires - created) - dt.timedelta(days=30)) <= dt.timedelta(seconds=1)
    assert abs(created - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(minutes=5)

    res = _admin_fails(hub.server, "token", "list", "nobody-" + user)
    assert "No user named" in res.stderr


def test_revoked_token_is_refused_by_the_running_server_at_once(hub) -> None:
    user = hub.create_user(hub.unique_name())
    token = _create_token(hub.server, user, "soon-revoked")
    keep = _create_token(hub.server, user, "kept")
    repo = f"{user}/private-{hub.unique_name()}"
    with hub.http(token) as c:
        r = c.post(
            "/api/repos/create", json={"name": repo.split("/")[1], "organization": user, "private": True}
        )
        assert r.status_code == 200, r.text
        for _ in range(3):  # warm whatever the server keeps about this token
            assert c.get("/api/whoami-v2").status_code == 200
            assert c.get(f"/api/models/{repo}").status_code == 200
            assert c.head(f"/{repo}/resolve/main/.gitattributes").status_code == 200  # the cached hot path

        hub.server.admin("token", "revoke", token)  # no sleep below: the very next request is refused

        after = [
            c.get("/api/whoami-v2"),
            c.get(f"/api/models/{repo}"),
            c.head(f"/{repo}/resolve/main/.gitattributes"),
        ]
        for r in after:
            assert r.status_code == 401, r.text
            assert r.headers["x-error-code"] == "InvalidCredentials"
            assert r.headers["x-error-message"] == INVALID
    assert [r["name"] for r in _token_list(hub.server, user)] == ["kept"]
    assert _whoami(hub.url, keep).status_code == 200  # only that token went

    res = _admin_fails(hub.server, "token", "revoke", token)  # already gone
    assert "No token" in res.stderr and "token list" in res.stderr


def test_revoke_by_id(hub) -> None:
    user = hub.create_user(hub.unique_name())
    token = _create_token(hub.server, user, "by-id")
    assert _whoami(hub.url, token).status_code == 200
    (row,) = _token_list(hub.server, user)
    hub.server.admin("token", "revoke", row["id"])
    assert _whoami(hub.url, token).status_code == 401
    assert _token_list(hub.server, user) == []


def test_revoke_unknown_token_or_id_fails_clearly(hub) -> None:
    for arg in ("hf_" + "x" * 40, "987654321"):
        res = _admin_fails(hub.server, "token", "revoke", arg)
        assert "error: No token" in res.stderr
        assert "modelhub admin token list USER" in res.stderr  # says what to do
    assert _whoami(hub.url, hub.token).status_code == 200


def test_expired_token_gets_401_saying_so(hub) -> None:
    from modelhub import HubApi
    from modelhub.errors import UnauthorizedError

    user = hub.create_user(hub.unique_name())
    token = _create_token(hub.server, user, "short-lived", "--expires-in", "0.00001")  # 0.864 s
    lasting = _create_token(hub.server, user, "lasting", "--expires-in", "12h")
    time.sleep(1.0)
    r = _whoami(hub.url, token)
    assert r.status_code == 401
    assert r.headers["x-error-code"] == "InvalidCredentials"
    assert r.headers["x-error-message"] == INVALID  # what both clients compare to tell it from a hidden repo
    message = r.json()["error"]
    assert "'short-lived'" in message and "expired at" in message
    assert "modelhub admin token create" in message  # how to get a new one
    with pytest.raises(UnauthorizedError, match="expired"):
        HubApi(endpoint=hub.url, token=token).whoami()
    assert _whoami(hub.url, lasting).status_code == 200

    rows = {r["name"]: r for r in _token_list(hub.server, user)}
    assert rows["short-lived"]["expires"].endswith("(expired)")
    assert not rows["lasting"]["expires"].endswith("(expired)")
    assert rows["short-lived"]["last_used"] == "never"  # a refused request is no use

    for bad in ("0", "-1", "soon", "3w"):
        res = _admin_fails(hub.server, "token", "create", user, "--expires-in", bad)
        assert "Invalid token lifetime" in res.stderr and "30d" in res.stderr


def test_last_used_is_recorded(hub) -> None:
    user = hub.create_user(hub.unique_name())
    token = _create_token(hub.server, user, "used")
    _create_token(hub.server, user, "unused")
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    assert _whoami(hub.url, token).status_code == 200
    used = _wait_last_used(hub.server, user, "used")
    assert used != "never"
    assert dt.datetime.strptime(used, "%Y-%m-%dT%H:%M:%SZ") >= before
    rows = {r["name"]: r for r in _token_list(hub.server, user)}
    assert rows["unused"]["last_used"] == "never"
    # within the minute, further use does not write again
    with hub.http(token) as c:
        for _ in range(5):
            assert c.get("/api/whoami-v2").status_code == 200
    assert {r["name"]: r for r in _token_list(hub.server, user)}["used"]["last_used"] == used


def test_last_use_of_a_token_that_took_a_revoked_tokens_id(tmp_path: Path) -> None:
    # SQLite gives the next row the id of a deleted newest row: the new token must not inherit the old one's
    # "written recently" throttle (its last use stayed "never" for a minute)
    server = HubServer(tmp_path / "data", backend="sqlite").start()  # PostgreSQL never reuses ids
    try:
        user = server.create_user("reuser")
        first = _create_token(server, user, "first")
        assert _whoami(server.url, first).status_code == 200
        assert _wait_last_used(server, user, "first") != "never"
        (old_id,) = [r["id"] for r in _token_list(server, user) if r["name"] == "first"]
        server.admin("token", "revoke", old_id)
        second = _create_token(server, user, "second")
        (new_id,) = [r["id"] for r in _token_list(server, user) if r["name"] == "second"]
        assert new_id == old_id  # the premise: the id was handed out again
        assert _whoami(server.url, second).status_code == 200
        assert _wait_last_used(server, user, "second") != "never"
    finally:
        server.stop()


# --- databases created by the previous version (no expires_at / last_used_at) ------------------------------

# The schema of both tables as the previous version created it (SQLAlchemy's DDL for SQLite); {id} and {ts} are
# filled in per database.
OLD_SCHEMA = [
    """CREATE TABLE accounts (
        id {id} NOT NULL,
        name VARCHAR(96) NOT NULL,
        kind VARCHAR(8) NOT NULL,
        fullname VARCHAR(200) NOT NULL,
        is_admin BOOLEAN NOT NULL,
        created_at {ts} NOT NULL,
        PRIMARY KEY (id),
        UNIQUE (name)
    )""",
    """CREATE TABLE tokens (
        id {id} NOT NULL,
        user_id INTEGER NOT NULL,
        name VARCHAR(100) NOT NULL,
        role VARCHAR(8) NOT NULL,
        token_hash VARCHAR(64) NOT NULL,
        created_at {ts} NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(user_id) REFERENCES accounts (id) ON DELETE CASCADE,
        UNIQUE (token_hash)
    )""",
]
OLD_TOKEN = "hf_" + "OldVersionToken" * 3
OLD_ROWS = [
    "INSERT INTO accounts (name, kind, fullname, is_admin, created_at)"
    " VALUES ('bob', 'user', 'Bob', false, '2024-01-02 03:04:05')",
    "INSERT INTO tokens (user_id, name, role, token_hash, created_at)"
    f" SELECT id, 'old', 'write', '{hash_token(OLD_TOKEN)}', '2024-01-02 03:04:05' FROM accounts",
]


def test_database_of_the_previous_version_gains_the_columns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db_path = data / "modelhub.sqlite3"
    with sqlite3.connect(db_path) as conn:
        for ddl in OLD_SCHEMA:
            conn.execute(ddl.format(id="INTEGER", ts="DATETIME"))
        for sql in OLD_ROWS:
            conn.execute(sql)
    server = HubServer(data, backend="sqlite")
    with pytest.raises(RuntimeError, match="modelhub admin migrate"):
        server.start()  # never migrates silently: it names the command instead
    server.admin("migrate")
    server.start()
    try:
        with sqlite3.connect(db_path) as conn:
            columns = {row[1]: row for row in conn.execute("PRAGMA table_info(tokens)")}
        assert {"expires_at", "last_used_at"} <= set(columns)
        assert columns["expires_at"][3] == 0 and columns["last_used_at"][3] == 0  # nullable

        assert _whoami(server.url, OLD_TOKEN).json()["name"] == "bob"  # the old token still works
        assert _wait_last_used(server, "bob", "old") != "never"
        (row,) = _token_list(server, "bob")
        assert (row["created"], row["expires"]) == ("2024-01-02T03:04:05Z", "never")
        new = _create_token(server, "bob", "new", "--expires-in", "1")
        assert _whoami(server.url, new).status_code == 200

        server.restart()  # opening an up-to-date database changes nothing
        assert _whoami(server.url, OLD_TOKEN).status_code == 200
        server.admin("token", "revoke", OLD_TOKEN)
        assert _whoami(server.url, OLD_TOKEN).status_code == 401
    finally:
        server.stop()


# --- PostgreSQL shared by several server processes -----------------------------------------------------------


@pytest.fixture
def postgres_url() -> str:
    """A new database on the test PostgreSQL server (tests/_services.py)."""
    return new_database()


def test_postgresql_upgrade_and_revocation_across_servers(postgres_url: str, tmp_path: Path) -> None:
    import psycopg

    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as conn:
        for ddl in OLD_SCHEMA:
            conn.execute(ddl.format(id="SERIAL", ts="TIMESTAMP WITHOUT TIME ZONE"))
        for sql in OLD_ROWS:
            conn.execute(sql)
    db = ("--database-url", postgres_url)
    servers = [HubServer(tmp_path / f"data{i}", extra_args=db) for i in range(2)]
    servers[0].admin("migrate", *db)
    try:
        for s in servers:
            s.start()
        for s in servers:
            assert _whoami(s.url, OLD_TOKEN).status_code == 200
        assert _wait_last_used(servers[0], "bob", "old", *db) != "never"
        token = _create_token(servers[0], "bob", "shared", *db)
        for _ in range(3):
            for s in servers:
                assert _whoami(s.url, token).status_code == 200
        (row,) = [r for r in _token_list(servers[0], "bob", *db) if r["name"] == "shared"]
        servers[1].admin("token", "revoke", row["id"], *db)
        for s in servers:
            r = _whoami(s.url, token)
            assert r.status_code == 401 and r.headers["x-error-code"] == "InvalidCredentials"
            assert _whoami(s.url, OLD_TOKEN).status_code == 200
    finally:
        for s in servers:
            s.stop()
