"""A stand-in hub that serves single-segment repo ids (`gpt2`), as huggingface.co does and modelhub does not.

A real HTTP server on 127.0.0.1 in front of the real modelhub hub: a request for the bare id ``NAME`` (in the
``/api/{models,datasets,spaces}/NAME/...``, ``/NAME/resolve/...`` and ``/NAME.git/info/lfs/...`` forms) is
forwarded for ``alice/NAME``, and the answer's ``alice/NAME`` (JSON bodies, ``Location``) is turned back into
``NAME``, so the client sees Hub-shaped answers for a repo without a namespace.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class BareIdHub:
    def __init__(self, upstream: str, namespace: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.namespace = namespace
        self.names: set[str] = set()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def serve(self, name: str) -> str:
        """Serve ``alice/<name>`` of the real hub as the bare id ``<name>``; returns ``name``."""
        self.names.add(name)
        return name

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _rewrite_path(self, path: str) -> str:
        for name in self.names:
            path = re.sub(
                rf"^/(api/(?:models|datasets|spaces)/|(?:datasets/|spaces/)?)({re.escape(name)})(?=[/.?]|$)",
                rf"/\g<1>{self.namespace}/\g<2>",
                path,
            )
        return path

    def _rewrite_back(self, text: str) -> str:
        text = text.replace(self.upstream, self.url)
        for name in self.names:
            text = text.replace(f"{self.namespace}/{name}", name)
        return text

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("transfer-encoding", "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                length = int(self.headers.get("content-length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                headers["accept-encoding"] = "identity"
                with httpx.Client(timeout=60) as client:
                    r = client.request(
                        self.command,
                        hub.upstream + hub._rewrite_path(self.path),
                        headers=headers,
                        content=body,
                    )
                content = r.content
                if "json" in r.headers.get("content-type", ""):
                    content = hub._rewrite_back(content.decode()).encode()
                self.send_response(r.status_code)
                for key, value in r.headers.items():
                    if key.lower() in HOP:
                        continue
                    self.send_header(key, hub._rewrite_back(value) if key.lower() == "location" else value)
                if self.command == "HEAD":
                    self.send_header("content-length", r.headers.get("content-length", "0"))
                    self.end_headers()
                    return
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _forward

        return Handler


@contextmanager
def bare_id_hub(hub: Any, monkeypatch: Any) -> Iterator[BareIdHub]:
    """A stand-in in front of the test hub, with HF_ENDPOINT pointing at it for the block."""
    from modelhub.client import http

    standin = BareIdHub(hub.url, "alice")
    monkeypatch.setenv("HF_ENDPOINT", standin.url)
    http.close_clients()
    try:
        yield standin
    finally:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        http.close_clients()
        standin.close()
