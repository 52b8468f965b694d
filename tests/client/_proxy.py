"""A tiny loopback TCP proxy for tests: forwards bytes to the hub and can misbehave on purpose.

It sees raw HTTP/1.1 traffic, records each request line with its ``Range`` header, and, on a connection that
carries a GET whose path contains ``target``, can cut the connection after N response bytes, flip one byte, or
throttle. ``refuse`` makes it close new connections at once (the hub looks down).
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field

_REQ = re.compile(rb"^(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1\.[01]\r\n", re.M)
_RANGE = re.compile(rb"^range: *(bytes=\d+-\d*)\r\n", re.M | re.I)


@dataclass
class Policy:
    target: str | None = None  # substring of the GET path the misbehaviour applies to
    cut_after: int | None = None  # close the connection after this many response bytes (first `cuts` times)
    cuts: int = 1
    corrupt_at: int | None = None  # flip the response byte at this offset (after the response headers start)
    refuse: bool = False
    refuse_after_cut: bool = False  # once a connection was cut, the hub "goes down"
    throttle_bytes_per_s: float | None = None


@dataclass
class Stats:
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, range)
    bytes_to_client: int = 0

    def gets(self, needle: str) -> list[tuple[str, str, str | None]]:
        return [r for r in self.requests if r[0] == "GET" and needle in r[1]]


class FaultyProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.policy = Policy()
        self.stats = Stats()
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._sock.close()
        for c in list(self._conns):
            try:
                c.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            if self.policy.refuse:
                client.close()
                continue
            upstream = socket.create_connection(self.upstream)
            self._conns += [client, upstream]
            state = {"armed": False, "sent_since_armed": 0}
            threading.Thread(target=self._pipe_up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._pipe_down, args=(upstream, client, state), daemon=True).start()

    def _pipe_up(self, src: socket.socket, dst: socket.socket, state: dict) -> None:
        try:
            while data := src.recv(65536):
                for m in _REQ.finditer(data):
                    method, path = m.group(1).decode(), m.group(2).decode()
                    rng = _RANGE.search(data, m.end())
                    with self._lock:
                        self.stats.requests.append((method, path, rng.group(1).decode() if rng else None))
                    p = self.policy
                    if method == "GET" and p.target and p.target in path:
                        state["armed"] = True
                        state["sent_since_armed"] = 0
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _shut(dst)

    def _pipe_down(self, src: socket.socket, dst: socket.socket, state: dict) -> None:
        import time

        try:
            while data := src.recv(65536):
                p = self.policy
                if state["armed"]:
                    start = state["sent_since_armed"]
                    if p.corrupt_at is not None and start <= p.corrupt_at < start + len(data):
                        i = p.corrupt_at - start
                        data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
                    if p.cut_after is not None and p.cuts > 0 and start + len(data) > p.cut_after:
                        keep = max(0, p.cut_after - start)
                        dst.sendall(data[:keep])
                        with self._lock:
                            self.stats.bytes_to_client += keep
                            p.cuts -= 1
                            if p.refuse_after_cut:
                                p.refuse = True
                        break
                    state["sent_since_armed"] += len(data)
                    if p.throttle_bytes_per_s:
                        time.sleep(len(data) / p.throttle_bytes_per_s)
                dst.sendall(data)
                with self._lock:
                    self.stats.bytes_to_client += len(data)
        except OSError:
            pass
        finally:
            _shut(dst)
            _shut(src)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
