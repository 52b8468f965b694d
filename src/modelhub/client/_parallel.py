"""Run one function over many items, in worker threads when that helps (downloads, uploads and hashing release the
GIL), in the calling thread when there is a single item or worker (no pool start-up, plainer tracebacks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_in_threads(fn: Callable[[T], R], items: Sequence[T], max_workers: int) -> list[R]:
    """``[fn(item) for item in items]``, with up to ``max_workers`` threads; results keep the items' order.

    The first exception (in item order) is raised once every started call has finished, so no work is left
    running behind the caller's back.
    """
    if max_workers <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        return list(pool.map(fn, items))
