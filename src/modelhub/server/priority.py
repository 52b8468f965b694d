"""CPU priority of bulk work: threads that hash, compress or write big uploads run below request handling."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

BULK_NICE = 10  # how much lower than request handling the threads of bulk work run (Linux: per-thread nice)


def lower_thread_priority() -> None:
    """Run this thread at a lower CPU priority: hashing and writing a big upload then yield the cores to the
    event loop and the request handlers whenever both want them (small requests stay fast under big transfers,
    benchmarks/event_loop.py); on an idle machine the bulk work still gets every free cycle."""
    if sys.platform != "linux":  # elsewhere setpriority applies to the whole process, not to this thread
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + BULK_NICE, 19))
    except OSError:  # a sandbox may refuse it: the work still runs, at normal priority
        pass


def bulk_executor(name: str, workers: int = 1) -> ThreadPoolExecutor:
    """A thread pool for CPU-heavy bulk work (hashing, compression, big writes), at a lower priority."""
    return ThreadPoolExecutor(workers, thread_name_prefix=name, initializer=lower_thread_priority)
