"""The stall probe: does the server keep answering while one heavy request runs?

``while_running(url, fn)`` runs ``fn`` (which makes the heavy request) on a thread and meanwhile polls
``GET /api/health`` on a fresh connection every 20 ms; it returns ``fn``'s result and the worst health latency.
A handler that blocks the event loop (a slow parse, a database wait, a regex) shows up as a latency as long as
the block; the tests require < 200 ms. The loop is bounded by ``fn`` finishing and by ``timeout``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
STALL_LIMIT = 0.2


def while_running(
    url: str, fn: Callable[[], T], timeout: float = 120.0, min_probes: int = 5
) -> tuple[T, float]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # re-raised below, in the test's thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worst = 0.0
    probes = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/api/health")  # connection set up before the heavy request starts
        worker.start()
        deadline = time.monotonic() + timeout
        while (worker.is_alive() or probes < min_probes) and time.monotonic() < deadline:
            start = time.perf_counter()
            assert client.get("/api/health").status_code == 200
            worst = max(worst, time.perf_counter() - start)
            probes += 1
            time.sleep(0.02)
    worker.join(timeout=max(0.0, deadline - time.monotonic()))
    if "error" in box:
        raise box["error"]
    if worker.is_alive():
        raise AssertionError(f"the heavy request did not finish within {timeout} s")
    return box["result"], worst


def assert_no_stall(
    url: str, fn: Callable[[], T], limit: float = STALL_LIMIT, **kwargs: Any
) -> tuple[T, float]:
    """``while_running``, failing the test when ``GET /api/health`` took ``limit`` seconds or more."""
    result, worst = while_running(url, fn, **kwargs)
    assert worst < limit, f"GET /api/health took {worst:.3f} s while the request ran (limit {limit} s)"
    return result, worst
