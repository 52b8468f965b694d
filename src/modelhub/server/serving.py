"""Running the server processes of ``modelhub serve``: the listening sockets, one tuned uvicorn process, and the
supervisor of ``--workers N``.

Why not uvicorn's own supervisor for ``--workers N``: it hands one listening socket to every worker, and the worker
that wakes first accepts a whole burst of connections (uvloop accepts in batches). Keep-alive clients then pile up
on one worker while the other has spare time: ``ss`` counted 41/23 of wrk's 64 connections, and the machine was
20% idle under load. On Linux each worker here gets a socket of its own, bound to the same port with
``SO_REUSEPORT``, and the kernel spreads new connections over the sockets by a hash of their addresses, as nginx's
``reuseport`` does. Elsewhere the workers share one socket, as with uvicorn.

A worker that dies is replaced on the same socket: the connections the kernel queued there meanwhile are served by
the new worker. Each worker asks the kernel for SIGTERM when the supervisor dies (Linux), so none is orphaned.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

# Linux: one socket per worker, balanced by the kernel; elsewhere SO_REUSEPORT does not balance TCP connections
REUSEPORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as modelhub.cli.main's


class PortRefused(Exception):
    """The port cannot be listened on (in use, or not allowed): the message says which and what to do."""


def _socket(host: str, port: int, *, reuseport: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortRefused(
                f"port {port} on {host} is already in use (another server?): stop it or choose --port."
            ) from None
        raise PortRefused(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets listening on host:port (one shared socket where the kernel does not balance), bound before
    any setup so that a port in use changes nothing.

    The first is bound without ``SO_REUSEPORT`` and closed again: a port held by anything, including another
    hub's ``SO_REUSEPORT`` sockets of the same user, which would otherwise silently share it, is refused."""
    if count > 1 and REUSEPORT:
        _socket(host, port, reuseport=False).close()
        socks = []
        try:
            for _ in range(count):
                socks.append(_socket(host, port, reuseport=True))
        except PortRefused:
            for s in socks:
                s.close()
            raise
    else:
        socks = [_socket(host, port, reuseport=False)]
    for s in socks:
        s.listen(2048)
        s.set_inheritable(True)
    return socks


def tune_process() -> None:
    import gc

    gc.collect()
    gc.freeze()  # startup objects never need scanning again: shorter GC pauses on the request path
    # The event loop and the handler threads share the GIL: a thread that needs it waits up to the switch
    # interval while another runs Python code (5 ms by default). 1 ms keeps small requests quick while big
    # transfers stream (benchmarks/event_loop.py), for a throughput cost too small to measure.
    sys.setswitchinterval(0.001)


def log_off_the_event_loop() -> Any:
    """Route log records through a queue to a background thread, so that a slow disk (log file writes throttled
    by the kernel while other processes write a lot) never stalls request handling. Also skip the per-record
    caller/thread/process lookups (the logging HOWTO's "Optimization" section): our lines do not show them.
    Returns the listener to stop at exit (None when there is no handler)."""
    import logging.handlers
    import queue

    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

    root = logging.getLogger()
    handlers = list(root.handlers)
    if not handlers:
        return None
    q: queue.SimpleQueue = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(q, *handlers, respect_handler_level=True)
    for hd in handlers:
        root.removeHandler(hd)
    root.addHandler(logging.handlers.QueueHandler(q))
    listener.start()
    return listener


def serve(app: Any, sock: socket.socket, uvicorn_options: dict[str, Any]) -> None:
    """Serve ``app`` on ``sock`` in this process until SIGINT/SIGTERM (uvicorn's graceful shutdown)."""
    import uvicorn

    listener = log_off_the_event_loop()
    tune_process()
    try:
        uvicorn.Server(uvicorn.Config(app, **uvicorn_options)).run(sockets=[sock])
    finally:
        if listener is not None:
            listener.stop()


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent (the supervisor) dies, even by kill -9."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(sock: socket.socket, env: dict[str, str], uvicorn_options: dict[str, Any]) -> None:
    """One worker process (started by spawn: a fresh interpreter), configured through the environment."""
    # Its own process group: a terminal's Ctrl-C reaches the supervisor only, which then sends each worker one
    # SIGTERM (a second signal would make uvicorn skip its graceful shutdown).
    os.setpgid(0, 0)
    _die_with_parent()
    os.environ.update(env)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("modelhub").setLevel((env.get("MODELHUB_LOG_LEVEL") or "info").upper())
    from .app import create_app

    serve(create_app(), sock, uvicorn_options)


class Supervisor:
    """Runs one worker process per socket slot (``workers`` of them), replaces a worker that exits, and stops them
    all on SIGINT/SIGTERM: SIGTERM to each, which finishes its requests within ``grace`` seconds, then SIGKILL.

    A worker that exits within ``QUICK_EXIT`` seconds of its start ``MAX_QUICK_EXITS`` times in a row is not
    restarting but failing (bad settings, an unreachable database): the supervisor stops and returns 1."""

    QUICK_EXIT = 10.0
    MAX_QUICK_EXITS = 5
    BACKOFF = 2.0  # seconds before the first restart after a quick exit, doubling up to BACKOFF_MAX
    BACKOFF_MAX = 10.0

    def __init__(
        self,
        sockets: list[socket.socket],
        workers: int,
        env: dict[str, str],
        uvicorn_options: dict[str, Any],
        grace: float = 35.0,
        target: Callable[..., None] = _worker,
    ) -> None:
        self._sockets = sockets
        self._workers = workers
        self._env = env
        self._options = uvicorn_options
        self._grace = grace
        self._target = target
        # spawn: no fork of a process that has threads and database connections
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = threading.Event()
        self._procs: list[Any] = []
        self._started: list[float] = []
        self._quick: list[int] = []

    def _spawn(self, slot: int) -> Any:
        sock = self._sockets[slot % len(self._sockets)]
        proc = self._ctx.Process(
            target=self._target, args=(sock, self._env, self._options), name=f"modelhub-worker-{slot}"
        )
        proc.start()
        return proc

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            now = time.monotonic()
            self._procs = [self._spawn(i) for i in range(self._workers)]
            self._started = [now] * self._workers
            self._quick = [0] * self._workers
            logger.info("supervisor %d: %d worker processes started", os.getpid(), self._workers)
            while not self._stop.wait(0.25):
                if not self._replace_exited():
                    self._shutdown()
                    return 1
            self._shutdown()
            return 0
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._stop.set()

    def _replace_exited(self) -> bool:
        """Start a new worker in the slot of each that exited; False when one keeps failing at start."""
        for i, proc in enumerate(self._procs):
            if proc.is_alive():
                continue
            lived = time.monotonic() - self._started[i]
            self._quick[i] = self._quick[i] + 1 if lived < self.QUICK_EXIT else 0
            if self._quick[i] >= self.MAX_QUICK_EXITS:
                logger.error(
                    "worker %d exited %d times within %.0f s of its start (last exit code %s): stopping; see"
                    " its errors above",
                    i,
                    self._quick[i],
                    self.QUICK_EXIT,
                    proc.exitcode,
                )
                return False
            logger.warning(
                "worker %d (pid %s) exited with code %s after %.0f s: starting a new one",
                i,
                proc.pid,
                proc.exitcode,
                lived,
            )
            if self._quick[i]:  # a failing start is not retried in a tight loop
                self._stop.wait(min(self.BACKOFF * 2 ** (self._quick[i] - 1), self.BACKOFF_MAX))
            if self._stop.is_set():
                return True
            self._procs[i] = self._spawn(i)
            self._started[i] = time.monotonic()
        return True

    def _shutdown(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        deadline = time.monotonic() + self._grace
        for proc in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                logger.warning("worker pid %s did not stop within %.0f s: killing it", proc.pid, self._grace)
                proc.kill()
                proc.join()
        logger.info("supervisor %d: all workers stopped", os.getpid())
