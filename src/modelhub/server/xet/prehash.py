"""SHA-256 work ahead of the shard: the file SHA-256 the shard step must verify, mostly computed before it comes.

The shard step has to check each new file's SHA-256 over its reconstructed bytes, which is sequential work over
the whole file. Two things let most of it be done already when the shard arrives, without trusting anything the
client says:

- ``Checkpoints``: SHA-256 states of byte sequences named by the exact terms (xorb, chunk range) that make them
  up. Xorbs are immutable and verified chunk by chunk, so such a name fixes the bytes, and a state found under
  it is correct for any file whose terms begin that way, whichever upload or repo computed it. The shard step
  resumes from the longest prefix of a file's terms that has one and leaves states at the file's term
  boundaries, so a re-upload with a change in the middle hashes only what follows the change.
- ``ChainHasher``: while xorbs are still arriving, a background thread reads each verified xorb back in the order
  the uploads began (per CAS token: hf_xet sends a file's xorbs in file order) and extends a running SHA-256
  over whole xorbs, leaving a checkpoint after each. It is a guess: when a shard's file is those xorbs in that
  order (a large new file), its SHA-256 is done; otherwise the names do not match and nothing is used.

Only performance depends on the guesses; in-process and bounded (lost on restart: the shard step then reads back).
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import blake3

from ..priority import lower_thread_priority

logger = logging.getLogger(__name__)
START = b""  # the name of the empty prefix
MAX_CHECKPOINTS = 4096  # ~200 bytes each
GAP_WAIT_S = 30.0  # how long the chain waits for an upload that began earlier and has not finished
INLINE_WAIT_S = 5.0  # how long a verified xorb waits for its turn to be hashed from memory
IDLE_S = 600.0  # chains of tokens not seen for this long are dropped


def extend(prefix: bytes, xorb: bytes, start: int, end: int) -> bytes:
    """The name of ``prefix`` followed by chunks ``[start, end)`` of ``xorb`` (raw hash)."""
    return blake3.blake3(prefix + xorb + struct.pack("<II", start, end)).digest()


class Checkpoints:
    """SHA-256 states by term-prefix name (an LRU: a miss only costs a re-read)."""

    def __init__(self, limit: int = MAX_CHECKPOINTS) -> None:
        self._states: OrderedDict[bytes, Any] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, name: bytes) -> Any | None:
        """A copy of the state stored under ``name`` (a fresh SHA-256 for ``START``), or None."""
        if name == START:
            return hashlib.sha256()
        with self._lock:
            state = self._states.get(name)
            if state is None:
                return None
            self._states.move_to_end(name)
            return state.copy()

    def put(self, name: bytes, state: Any) -> None:
        with self._lock:
            self._states[name] = state.copy()
            self._states.move_to_end(name)
            while len(self._states) > self._limit:
                self._states.popitem(last=False)


@dataclass
class _Chain:
    next_seq: int = 0  # the next ticket to hand out
    head: int = 0  # the next ticket the hasher takes
    prefix: bytes = START
    done: dict[int, tuple[bytes, int] | None] = field(
        default_factory=dict
    )  # ticket -> (xorb, chunks) or failed
    busy: bool = False
    seen: float = field(default_factory=time.monotonic)


class ChainHasher:
    """Extends one SHA-256 per upload session over its xorbs in ticket order (tickets are taken when an upload
    begins, reported when it ends); ``read(xorb hex, chunks)`` yields a stored xorb's content."""

    def __init__(self, checkpoints: Checkpoints, read: Callable[[bytes, int], Iterator[bytes]]) -> None:
        self.checkpoints = checkpoints
        self._read = read
        self._chains: dict[Hashable, _Chain] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def ticket(self, session: Hashable) -> int:
        with self._cond:
            chain = self._chains.setdefault(session, _Chain())
            chain.seen = time.monotonic()
            chain.next_seq += 1
            return chain.next_seq - 1

    def report(self, session: Hashable, seq: int, xorb: bytes | None, chunks: int = 0) -> None:
        """Upload ``seq`` ended: stored ``xorb`` with ``chunks`` chunks, or failed (None)."""
        with self._cond:
            chain = self._chains.get(session)
            if chain is None or seq < chain.head:  # gone, or skipped as stalled: too late for the chain
                return
            chain.done[seq] = (xorb, chunks) if xorb is not None else None
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="xet-chain-sha256", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def offer(
        self,
        session: Hashable,
        seq: int,
        xorb: bytes,
        chunks: int,
        content: Iterator[bytes | memoryview],
        wait: float = INLINE_WAIT_S,
    ) -> None:
        """Upload ``seq`` stored ``xorb``, whose verified ``content`` is at hand: hashed here and now when it is
        the chain's turn within ``wait`` seconds, else reported (the chain reads the xorb back when its turn
        comes). The uploads it waits for took their tickets earlier, inside the same bounded set of body
        buffers, so they are under way, not queued behind this one; hashing from memory spares reading 64 MiB
        back from disk (written with direct I/O, it is not in the page cache)."""
        deadline = time.monotonic() + wait
        inline = None
        with self._cond:
            while (chain := self._chains.get(session)) is not None and chain.head <= seq:
                if chain.head == seq and not chain.busy:
                    chain.busy, inline = True, chain.prefix
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        if inline is None:
            self.report(session, seq, xorb, chunks)
            return
        assert chain is not None
        self._finish(chain, self._step(inline, (xorb, chunks), content))

    def drain(self, session: Hashable, timeout: float) -> None:
        """Wait (at most ``timeout``) until the session's chain has hashed every upload that has ended."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (chain := self._chains.get(session)) is not None and (
                chain.busy or chain.head in chain.done
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def _next(self) -> tuple[_Chain, int, tuple[bytes, int] | None] | None:
        """The next piece of work (chain, ticket, outcome), skipping tickets that stalled; called locked."""
        now = time.monotonic()
        for key, chain in list(self._chains.items()):
            if chain.busy:
                continue
            if chain.head in chain.done:
                return chain, chain.head, chain.done.pop(chain.head)
            if (
                chain.done and now - chain.seen > GAP_WAIT_S
            ):  # an earlier upload never ended: restart after it
                chain.head, chain.prefix = min(chain.done), START
                return chain, chain.head, chain.done.pop(chain.head)
            if not chain.done and chain.head == chain.next_seq and now - chain.seen > IDLE_S:
                del self._chains[key]
        return None

    def _work(self) -> None:
        lower_thread_priority()  # bulk hashing: small requests go first when both want the cores
        while True:
            with self._cond:
                while (job := self._next()) is None:
                    self._cond.wait(GAP_WAIT_S)
                chain, _seq, outcome = job
                chain.busy = True
                prefix = chain.prefix
            self._finish(chain, self._step(prefix, outcome))

    def _finish(self, chain: _Chain, prefix: bytes) -> None:
        with self._cond:
            chain.busy = False
            chain.head += 1
            chain.prefix = prefix
            chain.seen = time.monotonic()
            self._cond.notify_all()

    def _step(
        self,
        prefix: bytes,
        outcome: tuple[bytes, int] | None,
        content: Iterator[bytes | memoryview] | None = None,
    ) -> bytes:
        """The chain's name after ``outcome`` (a failed upload: a new chain begins)."""
        if outcome is None:
            return START
        try:
            return self._extend(prefix, outcome, content)
        except Exception as exc:  # e.g. the xorb was collected meanwhile: only this guess is lost
            logger.warning("xet: chain SHA-256 stopped: %s", exc)
            return START

    def _extend(
        self, prefix: bytes, outcome: tuple[bytes, int], content: Iterator[bytes | memoryview] | None
    ) -> bytes:
        xorb, chunks = outcome
        state = self.checkpoints.get(prefix)
        if state is None:  # evicted: this xorb begins a new chain
            prefix, state = START, hashlib.sha256()
        for piece in content if content is not None else self._read(xorb, chunks):
            state.update(piece)
        name = extend(prefix, xorb, 0, chunks)
        self.checkpoints.put(name, state)
        return name
