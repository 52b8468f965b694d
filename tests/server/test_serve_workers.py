"""``modelhub serve --workers N``: the supervisor (server/serving.py), against the real server.

Each worker listens on a socket of its own (Linux: SO_REUSEPORT), so the kernel spreads connections over them; a
worker killed with SIGKILL is replaced and the port keeps answering; SIGTERM stops every worker; a port in use is
refused before anything starts.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from .._hub import HubServer

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_REUSEPORT balancing is Linux's"
)


def _workers(server: HubServer, count: int, timeout: float = 60.0) -> list[psutil.Process]:
    """The supervisor's worker processes, once there are ``count`` of them and each answers on the port."""
    assert server.proc is not None
    parent = psutil.Process(server.proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [p for p in parent.children() if "spawn_main" in " ".join(p.cmdline())]
        if len(kids) == count and all(_listening(p, server.port) for p in kids):
            return kids
        time.sleep(0.2)
    raise AssertionError(f"expected {count} workers listening on {server.port}; log:\n{server.log()[-3000:]}")


def _listening(proc: psutil.Process, port: int) -> bool:
    try:
        return any(
            c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in proc.net_connections("tcp")
        )
    except psutil.NoSuchProcess:
        return False


def _listen_sockets(port: int) -> int:
    """How many sockets of this machine listen on 127.0.0.1:port (/proc/net/tcp: state 0A is LISTEN)."""
    want = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == want and line.split()[3] == "0A")


def _established(proc: psutil.Process, port: int) -> int:
    return sum(
        1 for c in proc.net_connections("tcp") if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


def _health_on_open_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections, each having had one answered request; the caller closes them."""
    conns = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(b"GET /api/health HTTP/1.1\r\nhost: x\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            assert chunk, got
            got += chunk
        assert got.startswith(b"HTTP/1.1 200"), got
        conns.append(s)
    return conns


@linux_only
def test_each_worker_has_its_own_socket_and_connections_spread(tmp_path: Path) -> None:
    server = HubServer(tmp_path / "data", backend="sqlite", extra_args=("--workers", "2")).start()
    try:
        workers = _workers(server, 2)
        assert _listen_sockets(server.port) == 2  # one per worker, not one shared by both
        conns = _health_on_open_connections(server.port, 40)
        try:
            per_worker = [_established(w, server.port) for w in workers]
            assert sum(per_worker) == 40
            # the kernel hashes each connection to a socket: 40 of them all landing on one has odds of 2**-39
            assert min(per_worker) >= 5, per_worker
        finally:
            for s in conns:
                s.close()
    finally:
        server.stop()


def test_a_killed_worker_is_replaced_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    server = HubServer(tmp_path / "data", backend="sqlite", extra_args=("--workers", "2")).start()
    try:
        first = _workers(server, 2)
        first[0].send_signal(signal.SIGKILL)
        first[0].wait(10)
        with httpx.Client(base_url=server.url, timeout=30) as c:  # the other worker keeps serving meanwhile
            assert c.get("/api/health").status_code == 200
        now = _workers(server, 2)
        assert first[0].pid not in {w.pid for w in now} and first[1].pid in {w.pid for w in now}
        assert "exited with code -9" in server.log() and "starting a new one" in server.log()
        for _ in range(20):  # new connections, hashed to either socket, including the one of the new worker
            assert httpx.get(f"{server.url}/api/health", timeout=30).status_code == 200

        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(60) == 0
        _gone, alive = psutil.wait_procs(now, timeout=10)
        assert not alive, [p.pid for p in alive]
        assert "all workers stopped" in server.log()
        server.proc = None
    finally:
        server.stop()


def test_workers_on_a_port_in_use_are_refused_before_anything_starts(tmp_path: Path) -> None:
    server = HubServer(tmp_path / "data", backend="sqlite").start()
    try:
        other = tmp_path / "other"
        cmd = [sys.executable, "-m", "modelhub", "serve", "--host", "127.0.0.1", "--port", str(server.port)]
        cmd += ["--data-dir", str(other), "--workers", "2"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert res.returncode == 2
        assert f"port {server.port} on 127.0.0.1 is already in use" in res.stderr
        assert not other.exists()  # nothing was set up
        assert httpx.get(f"{server.url}/api/health").status_code == 200
    finally:
        server.stop()


def _exits_at_once(sock: socket.socket, env: dict[str, str], options: dict) -> None:
    """A worker whose start fails (the supervisor's target, run in a spawned process)."""
    raise SystemExit(3)


class _QuickSupervisor:
    """The real supervisor with short waits, so that the test does not sit through its backoff."""

    @staticmethod
    def make(sockets: list[socket.socket]):
        from modelhub.server.serving import Supervisor

        class Quick(Supervisor):
            BACKOFF = 0.05
            BACKOFF_MAX = 0.1

        return Quick(sockets, 2, {}, {}, grace=5.0, target=_exits_at_once)


def test_a_worker_that_keeps_failing_at_start_stops_the_supervisor() -> None:
    from modelhub.server.serving import listening_sockets

    from .._hub import free_port

    sockets = listening_sockets("127.0.0.1", free_port(), 2)
    try:
        started = time.monotonic()
        assert _QuickSupervisor.make(sockets).run() == 1  # not restarted forever
        assert time.monotonic() - started < 60
    finally:
        for s in sockets:
            s.close()
