"""The admin CLI and ``serve`` cannot hurt you (run as subprocesses, as a user would): no hub is created by a
typo, errors are one line, the first-run banner's commands work as printed, the port is bound before any setup,
the first-run token never reaches a log file, a client hanging up is one access-log line with status 499."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .._hub import HubServer, _clean_env, free_port


def _modelhub(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelhub", *args],
        capture_output=True,
        text=True,
        env=_clean_env() | (env or {}),
        cwd=cwd,
        timeout=120,
    )


def _one_line_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, res
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_admin_needs_a_data_dir_and_never_creates_a_hub(tmp_path: Path) -> None:
    env = {k: "" for k in ("MODELHUB_DATA_DIR", "MODELHUB_DATABASE_URL")}
    res = _modelhub("admin", "user", "create", "alice", env=env, cwd=tmp_path)
    _one_line_error(res, "--data-dir", "MODELHUB_DATA_DIR")
    typo = tmp_path / "hub-dta"
    res = _modelhub("admin", "user", "create", "alice", "--data-dir", str(typo), cwd=tmp_path)
    _one_line_error(res, "No hub in", "modelhub admin init")
    empty = tmp_path / "empty"
    empty.mkdir()
    res = _modelhub("admin", "token", "list", "alice", env={"MODELHUB_DATA_DIR": str(empty)})
    _one_line_error(res, "No hub in")
    assert not typo.exists() and list(empty.iterdir()) == [] and list(tmp_path.iterdir()) == [empty]
    a_file = tmp_path / "hub.txt"
    a_file.write_text("not a hub")
    _one_line_error(_modelhub("admin", "user", "list", "--data-dir", str(a_file)), "is a file")
    _one_line_error(_modelhub("admin", "init", "--data-dir", str(a_file)), "is a file")
    assert a_file.read_text() == "not a hub"
    a_file.unlink()

    assert _modelhub("admin", "init", "--data-dir", str(typo)).returncode == 0
    _one_line_error(_modelhub("admin", "init", "--data-dir", str(typo)), "already")
    ok = _modelhub("admin", "user", "create", "alice", env={"MODELHUB_DATA_DIR": str(typo)})
    assert ok.returncode == 0, ok.stderr
    assert "alice" in _modelhub("admin", "user", "list", "--data-dir", str(typo)).stdout


def test_serve_explains_a_file_as_data_dir_and_a_port_in_use_in_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    port = free_port()
    res = _modelhub("serve", "--port", str(port), "--data-dir", str(a_file))
    _one_line_error(res, "is a file")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        data = tmp_path / "data"
        res = _modelhub("serve", "--port", str(taken), "--data-dir", str(data))
        _one_line_error(res, f"port {taken}", "already in use", "--port")
        assert not data.exists()  # bound before any setup: no hub, no admin user, no token spent
    if Path("/sys/kernel").is_dir():  # sysfs refuses new directories, even to root
        res = _modelhub("serve", "--port", str(port), "--data-dir", "/sys/modelhub-test-hub")
        _one_line_error(res, "cannot be written", "choose a directory")
    res = _modelhub("serve", "--port", str(port), "--data-dir", str(tmp_path / "w"), "--workers", "0")
    _one_line_error(res, "--workers")


def test_first_run_banner_commands_work_as_printed_and_the_token_stays_out_of_the_log(tmp_path: Path) -> None:
    server = HubServer(tmp_path / "data", backend="sqlite").start()
    try:
        log = server.log()
        token_file = server.data_dir / "first-run-token"
        token = token_file.read_text().strip()
        assert token not in log and oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert f"Its write token is in {token_file}" in log  # the banner says where
        assert (
            httpx.get(f"{server.url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}).json()[
                "name"
            ]
            == "admin"
        )
        commands = re.findall(r"^\s+(modelhub admin .*)$", log, flags=re.M)
        assert len(commands) == 2
        for cmd in commands:  # as printed, from another directory, with NAME filled in
            argv = shlex.split(cmd.replace("NAME", "bea"))[1:]
            res = _modelhub(*argv, cwd=tmp_path)
            assert res.returncode == 0, (cmd, res.stderr)
        assert "bea" in server.admin("user", "list")
    finally:
        server.stop()


def test_first_run_token_is_shown_on_a_terminal_and_written_nowhere(tmp_path: Path) -> None:
    """``serve`` in a terminal prints the token there (once); the log (stderr, here a file) never has it."""
    import pty
    import select

    data, port = tmp_path / "tty-hub", free_port()
    main_fd, term_fd = pty.openpty()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelhub", "serve", "--port", str(port), "--data-dir", str(data)],
            stdout=term_fd,
            stderr=log,
            env=_clean_env(),
        )
    os.close(term_fd)
    shown = b""
    try:
        deadline = time.monotonic() + 60
        while b"HF_TOKEN=" not in shown and time.monotonic() < deadline:
            if select.select([main_fd], [], [], 0.5)[0]:
                shown += os.read(main_fd, 65536)
        match = re.search(rb"HF_TOKEN=(hf_\w+)", shown)
        assert match, shown
        token = match.group(1).decode()
        url = f"http://127.0.0.1:{port}/api/whoami-v2"
        while time.monotonic() < deadline:
            try:
                r = httpx.get(url, headers={"authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert r.json()["name"] == "admin"
    finally:
        proc.terminate()
        proc.wait(30)
        os.close(main_fd)
    assert token not in log_path.read_text() and not (data / "first-run-token").exists()
    assert shown.count(token.encode()) == 2  # the token line and the export line


def _hang_up_mid_body(
    hub, method: str, path: str, headers: str, body_start: bytes, length: int = 100_000_000
) -> None:
    """Send a request whose body stops far short of its Content-Length, hang up; one 499 line, no traceback."""
    with socket.create_connection(("127.0.0.1", hub.server.port)) as s:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {length}\r\n\r\n"
        s.sendall(head.encode() + body_start)
        time.sleep(0.5)
    logged = f'"{method} {path.split("?")[0]}'
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = [line for line in hub.log().splitlines() if logged in line]
        if lines:
            break
        time.sleep(0.2)
    assert len(lines) == 1 and " 499 " in lines[0], lines
    before, after = hub.log().split(lines[0])
    assert "Traceback" not in before[-5000:] + after


def test_client_disconnect_mid_upload_is_one_499_line(hub) -> None:
    """An inline commit body, an LFS upload and a Xet xorb, each cut off mid-body by the client."""
    repo = hub.new_repo_id()
    with hub.http(hub.token) as c:
        assert c.post("/api/repos/create", json={"name": repo.split("/")[1]}).status_code == 200
        oid = hashlib.sha256(b"never sent").hexdigest()
        batch = {"operation": "upload", "objects": [{"oid": oid, "size": 100_000_000}]}
        r = c.post(f"/{repo}.git/info/lfs/objects/batch", json=batch)
        lfs_url = r.json()["objects"][0]["actions"]["upload"]["href"]
        cas = c.get(f"/api/models/{repo}/xet-write-token/main").json()["accessToken"]
    body_start = (
        b'{"key": "header", "value": {"summary": "x"}}\n{"key": "file", "value": {"path": "a", "content": "'
    )
    auth = f"Authorization: Bearer {hub.token}\r\n"
    ndjson = auth + "Content-Type: application/x-ndjson\r\n"
    _hang_up_mid_body(hub, "POST", f"/api/models/{repo}/commit/main", ndjson, body_start + b"QUFB" * 100_000)
    _hang_up_mid_body(hub, "PUT", lfs_url.split(hub.url, 1)[1], "", b"a" * 1_000_000)
    xorb = f"/cas/v1/xorbs/default/{'1' * 64}"
    _hang_up_mid_body(hub, "POST", xorb, f"Authorization: Bearer {cas}\r\n", b"a" * 1_000_000, 10_000_000)
    assert os.environ.get("HF_ENDPOINT") == hub.url
