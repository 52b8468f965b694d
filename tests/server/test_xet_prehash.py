"""The SHA-256 work the CAS does ahead of shards (``server/xet/prehash.py``): states named by the exact terms they
cover, a chain that takes xorbs in the order their uploads began and restarts after a failed one."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator

from modelhub.server.xet import prehash
from modelhub.server.xet.prehash import START, extend


def test_checkpoints_are_copies_and_bounded() -> None:
    cps = prehash.Checkpoints(limit=2)
    state = hashlib.sha256(b"abc")
    cps.put(b"n1", state)
    state.update(b"more")  # the stored state is a copy
    got = cps.get(b"n1")
    assert got is not None and got.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    got.update(b"x")  # and so is what get returns
    assert cps.get(b"n1").hexdigest() == hashlib.sha256(b"abc").hexdigest()  # type: ignore[union-attr]
    cps.put(b"n2", state)
    cps.put(b"n3", state)
    assert cps.get(b"n1") is None and cps.get(b"n3") is not None
    assert cps.get(START).hexdigest() == hashlib.sha256().hexdigest()  # type: ignore[union-attr]


def test_chain_follows_ticket_order_and_restarts_after_a_failure() -> None:
    xorbs = [os.urandom(32) for _ in range(4)]
    content = {x: os.urandom(5000) for x in xorbs}

    def read(x: bytes, chunks: int) -> Iterator[bytes]:
        assert chunks == 1
        yield content[x][:100]
        yield content[x][100:]

    cps = prehash.Checkpoints()
    chain = prehash.ChainHasher(cps, read)
    session = (1, 2, 3)
    tickets = [chain.ticket(session) for _ in xorbs]
    chain.report(session, tickets[1], xorbs[1], 1)  # ends before the upload that began first: waits for it
    chain.report(session, tickets[0], xorbs[0], 1)
    chain.report(session, tickets[2], None)  # failed: what follows begins a new chain
    chain.report(session, tickets[3], xorbs[3], 1)
    chain.drain(session, 30)
    first_two = extend(extend(START, xorbs[0], 0, 1), xorbs[1], 0, 1)
    state = cps.get(first_two)
    assert state is not None
    assert state.hexdigest() == hashlib.sha256(content[xorbs[0]] + content[xorbs[1]]).hexdigest()
    state = cps.get(extend(START, xorbs[3], 0, 1))
    assert state is not None and state.hexdigest() == hashlib.sha256(content[xorbs[3]]).hexdigest()
    assert cps.get(extend(first_two, xorbs[3], 0, 1)) is None
    # another session's chain is its own
    other = (1, 2, 4)
    chain.report(other, chain.ticket(other), xorbs[3], 1)
    chain.drain(other, 30)
    assert cps.get(extend(START, xorbs[3], 0, 1)) is not None
    # names differ by chunk range
    assert extend(START, xorbs[0], 0, 1) != extend(START, xorbs[0], 0, 2)


def test_offered_content_is_hashed_in_turn_or_read_back() -> None:
    xorbs = [os.urandom(32) for _ in range(3)]
    content = {x: os.urandom(3000) for x in xorbs}
    reads: list[bytes] = []

    def read(x: bytes, chunks: int) -> Iterator[bytes]:
        reads.append(x)
        yield content[x]

    cps = prehash.Checkpoints()
    chain = prehash.ChainHasher(cps, read)
    session = ("s",)
    tickets = [chain.ticket(session) for _ in xorbs]
    chain.offer(session, tickets[0], xorbs[0], 1, iter([content[xorbs[0]]]))  # its turn: hashed from memory
    # not its turn (and no waiting for it): read back later
    chain.offer(session, tickets[2], xorbs[2], 1, iter([b"never used"]), wait=0)
    chain.offer(session, tickets[1], xorbs[1], 1, iter([content[xorbs[1]]]))
    chain.drain(session, 30)
    name = START
    for x in xorbs:
        name = extend(name, x, 0, 1)
    state = cps.get(name)
    assert state is not None and state.hexdigest() == hashlib.sha256(b"".join(content.values())).hexdigest()
    assert reads == [xorbs[2]]


def test_an_upload_ahead_of_its_turn_waits_to_be_hashed_from_memory() -> None:
    """hf_xet's xorbs finish out of order: a later one waits (bounded) for the earlier one, so neither is read
    back from disk."""
    xorbs = [os.urandom(32) for _ in range(2)]
    content = {x: os.urandom(3000) for x in xorbs}
    reads: list[bytes] = []
    cps = prehash.Checkpoints()
    chain = prehash.ChainHasher(cps, lambda x, n: reads.append(x) or iter([content[x]]))
    session = ("s",)
    tickets = [chain.ticket(session) for _ in xorbs]
    later = threading.Thread(
        target=chain.offer, args=(session, tickets[1], xorbs[1], 1, iter([content[xorbs[1]]]))
    )
    later.start()
    time.sleep(0.2)  # the later upload is waiting for its turn
    chain.offer(session, tickets[0], xorbs[0], 1, iter([content[xorbs[0]]]))
    later.join(10)
    chain.drain(session, 30)
    state = cps.get(extend(extend(START, xorbs[0], 0, 1), xorbs[1], 0, 1))
    assert state is not None and state.hexdigest() == hashlib.sha256(b"".join(content.values())).hexdigest()
    assert reads == []


def test_a_stalled_upload_is_skipped(monkeypatch) -> None:
    monkeypatch.setattr(prehash, "GAP_WAIT_S", 0.2)
    x0, x1 = os.urandom(32), os.urandom(32)
    cps = prehash.Checkpoints()
    chain = prehash.ChainHasher(cps, lambda x, n: iter([x]))
    session = ("slow",)
    t0, t1 = chain.ticket(session), chain.ticket(session)
    chain.report(
        session, t1, x1, 1
    )  # the upload that began first never ends in time: the chain starts after it
    deadline = time.monotonic() + 10
    while cps.get(extend(START, x1, 0, 1)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    chain.report(session, t0, x0, 1)  # too late: ignored, nothing left pending
    chain.drain(session, 5)
    assert cps.get(extend(START, x0, 0, 1)) is None
