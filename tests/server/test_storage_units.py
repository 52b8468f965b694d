"""Direct tests of the storage building blocks: the blob store, the streaming NDJSON parser, trees, download counts."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import mmap
import os
from pathlib import Path

import pytest

from modelhub.server.api.ndjson import SMALL_LINE, StreamedBlob, parse_ndjson
from modelhub.server.domain.trees import Entry, encode_tree, git_blob_sha1, list_tree, parse_front_matter
from modelhub.server.storage.blobs import BlobVerificationError, LocalBlobStore


def test_blobstore_verifies_before_publishing_and_keeps_one_copy(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(10_000)
    sha = hashlib.sha256(data).hexdigest()
    w = store.writer()
    w.write(data[:5000])
    w.write(data[5000:])
    with pytest.raises(BlobVerificationError, match="SHA-256"):
        w.commit("0" * 64, len(data))
    assert not store.exists(sha)
    assert list((tmp_path / "blobs" / "tmp").rglob("up-*")) == []  # the partial file is gone
    w = store.writer()
    w.write(data)
    with pytest.raises(BlobVerificationError, match="declared"):
        w.commit(sha, len(data) + 1)
    assert store.put_bytes(data) == sha and store.put_bytes(data) == sha
    assert store.size(sha) == len(data)
    assert b"".join(store.iter_range(sha, 100, 200)) == data[100:200]
    assert len(list(store.iter_blobs())) == 1
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.exists("../../etc/passwd")


def test_blobstore_stores_under_a_name_the_caller_verified(tmp_path: Path) -> None:
    """A xorb is stored under its Xet hash (checked by the CAS chunk by chunk), with no SHA-256 taken."""
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(10_000)
    name = hashlib.blake2b(data, digest_size=32).hexdigest()  # any 64-hex content address of the caller's
    assert store.put_bytes(data, verified_name=name) == name
    assert store.put_bytes(data, verified_name=name) == name  # idempotent: one copy
    assert b"".join(store.iter_range(name)) == data and [n for n, _ in store.iter_blobs()] == [name]
    with pytest.raises(ValueError, match="64 lowercase hex"):
        store.put_bytes(data, verified_name="../../x")
    with pytest.raises(ValueError, match="needs its name"):
        store.writer(verified=True)
    w = store.writer(name, verified=True)
    w.write(data)
    with pytest.raises(BlobVerificationError, match="declared"):
        w.commit(name, len(data) - 1)  # the size is still checked
    assert list((tmp_path / "blobs" / "tmp").rglob("up-*")) == []


@pytest.mark.parametrize("size", [1, 4095, 4096, 3 * 4096 + 17, 2**20])
def test_verified_blobs_from_aligned_and_unaligned_buffers(tmp_path: Path, size: int) -> None:
    """The CAS's page-aligned buffers go to disk with direct I/O (the tail the ordinary way), other buffers the
    ordinary way: the same bytes either way, at any length."""
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(size)
    aligned = mmap.mmap(-1, size + 8192)
    aligned[:size] = data
    for i, buf in enumerate([memoryview(aligned)[:size], data, memoryview(bytearray(data))[1:]]):
        want = data if i < 2 else data[1:]
        if not want:
            continue
        name = hashlib.sha256(b"%d" % i + want).hexdigest()
        assert store.put_bytes(buf, verified_name=name) == name  # type: ignore[arg-type]
        assert (tmp_path / "blobs" / name[:2] / name[2:4] / name).read_bytes() == want
    assert list((tmp_path / "blobs" / "tmp").rglob("up-*")) == []


async def _chunks(body: bytes, size: int):
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _parse(body: bytes, store: LocalBlobStore, chunk: int) -> list[dict]:
    out: list[dict] = []

    async def on_line(obj: dict) -> None:
        out.append(obj)

    asyncio.run(parse_ndjson(_chunks(body, chunk), store, on_line))
    return out


@pytest.mark.parametrize("chunk", [997, 4096, 65536, 10**9])
def test_ndjson_streams_big_inline_contents_whatever_the_chunking(tmp_path: Path, chunk: int) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    big = os.urandom(SMALL_LINE + 12345)
    small = b"tiny"
    lines = [
        {"key": "header", "value": {"summary": "s"}},
        {
            "key": "file",
            "value": {"content": base64.b64encode(big).decode(), "path": "big.bin", "encoding": "base64"},
        },
        {
            "key": "file",
            "value": {"content": base64.b64encode(small).decode(), "path": "t.txt", "encoding": "base64"},
        },
        {"key": "deletedFile", "value": {"path": "old.txt"}},
    ]
    body = b"\n".join(json.dumps(x).encode() for x in lines)
    got = _parse(body, store, chunk)
    assert [x["key"] for x in got] == ["header", "file", "file", "deletedFile"]
    streamed = got[1]["value"]["content"]
    assert isinstance(streamed, StreamedBlob)
    assert streamed.sha256 == hashlib.sha256(big).hexdigest() and streamed.size == len(big)
    assert got[1]["value"]["path"] == "big.bin"
    assert base64.b64decode(got[2]["value"]["content"]) == small  # small lines stay in memory
    with store.open(streamed.sha256) as fh:
        assert fh.read() == big


def test_ndjson_truncated_inline_content_stores_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    big = os.urandom(SMALL_LINE * 2)
    line = json.dumps(
        {"key": "file", "value": {"content": base64.b64encode(big).decode(), "path": "b"}}
    ).encode()
    from modelhub.server.api.errors import InvalidInput

    with pytest.raises(InvalidInput, match="truncated"):
        _parse(line[: len(line) // 2], store, 65536)
    assert not store.exists(hashlib.sha256(big).hexdigest())
    assert list((tmp_path / "blobs" / "tmp").rglob("up-*")) == []


def test_trees_ids_and_listing() -> None:
    e1 = Entry("a" * 64, 5, False, git_blob_sha1(b"hello"))
    e2 = Entry("b" * 64, 300, True)
    t1_id, _ = encode_tree({"x.txt": e1, "d/w.bin": e2})
    t2_id, _ = encode_tree({"d/w.bin": e2, "x.txt": e1})
    assert t1_id == t2_id  # canonical: insertion order does not matter
    assert e1.oid == "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"  # `git hash-object` of "hello"
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{'b' * 64}\nsize 300\n".encode()
    assert e2.oid == git_blob_sha1(pointer) and e2.pointer_size == len(pointer)
    tree = {"x.txt": e1, "d/w.bin": e2, "d/e/f.txt": e1}
    assert [i["path"] for i in list_tree(tree, "", False)] == ["d", "x.txt"]
    assert [i["path"] for i in list_tree(tree, "", True)] == ["d", "d/e", "d/e/f.txt", "d/w.bin", "x.txt"]
    assert [i["path"] for i in list_tree(tree, "d", False)] == ["d/e", "d/w.bin"]
    assert list_tree(tree, "nope", True) is None
    assert parse_front_matter("---\nlicense: mit\n---\n# x") == {"license": "mit"}
    assert parse_front_matter("---\n: : bad\n---\n") == {}


def test_ndjson_long_plain_lines_and_last_line_without_newline(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    long_header = {"key": "header", "value": {"summary": "s", "description": "d" * (SMALL_LINE + 10)}}
    tail = {"key": "deletedFile", "value": {"path": "x"}}
    for chunk in (4096, 10**9):
        got = _parse(json.dumps(long_header).encode() + b"\n" + json.dumps(tail).encode(), store, chunk)
        assert [x["key"] for x in got] == ["header", "deletedFile"]
        got = _parse(json.dumps(long_header).encode(), store, chunk)  # no final newline
        assert len(got[0]["value"]["description"]) == SMALL_LINE + 10


def test_schema_compiles_for_postgresql() -> None:
    """Nothing SQLite-only in the schema: every table renders as PostgreSQL DDL (PostgreSQL comes next)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    from modelhub.server.storage.db import Base

    ddl = "\n".join(
        str(CreateTable(t).compile(dialect=postgresql.dialect())) for t in Base.metadata.sorted_tables
    )
    assert "CREATE TABLE repos" in ddl and "BYTEA" in ddl and "BIGINT" in ddl
    assert "ON DELETE CASCADE" in ddl


def test_folder_ids_in_one_pass_match_the_definition() -> None:
    from modelhub.server.domain.trees import dir_oid, dir_oids

    e = Entry("c" * 64, 3, False, git_blob_sha1(b"abc"))
    tree = {f"d{i % 5}/s{i % 3}/f{i}.txt": e for i in range(60)} | {"top.txt": e}
    oids = dir_oids(tree)
    assert set(oids) == {f"d{i}" for i in range(5)} | {f"d{i}/s{j}" for i in range(5) for j in range(3)}
    assert all(oids[d] == dir_oid(tree, d) for d in oids)
    changed = dict(tree, **{"d1/s2/f1000.txt": e})
    assert dir_oids(changed)["d1"] != oids["d1"] and dir_oids(changed)["d2"] == oids["d2"]


def test_gitignore_matcher() -> None:
    from modelhub.server.domain.gitignore import matcher

    ignored = matcher("# logs\n*.log\n!keep.log\nbuild/\n/top.txt\ndocs/**/*.tmp\n")
    expected = {
        "a.log": True,
        "x/y/a.log": True,
        "keep.log": False,
        "build/x.txt": True,
        "src/build/y.o": True,
        "build": False,  # "build/" only matches folders
        "top.txt": True,
        "sub/top.txt": False,  # anchored at the root
        "docs/a/b/c.tmp": True,
        "docs/c.tmp": True,
        "b.txt": False,
    }
    assert {p: ignored(p) for p in expected} == expected


def test_download_counts_stay_exact_while_a_batch_is_written(tmp_path: Path) -> None:
    """A batch leaves the in-memory counts before its transaction commits: a count read in between must wait for
    the commit (else the batch is in neither place: an undercount), not add it twice after it."""
    import threading

    from sqlalchemy import event

    from modelhub.server.domain.downloads import DownloadCounter
    from modelhub.server.storage import migrate
    from modelhub.server.storage.db import Repo, open_database

    sessions = open_database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    engine = sessions.kw["bind"]
    migrate.create_hub(engine)
    with sessions.begin() as db:
        repo = Repo(type="model", namespace="alice", name="counted")
        db.add(repo)
    counter = DownloadCounter(sessions, interval=3600)  # flushed by hand below
    in_commit, release = threading.Event(), threading.Event()

    @event.listens_for(engine, "commit")
    def _slow_commit(_conn) -> None:
        if threading.current_thread().name == "flush":
            in_commit.set()
            release.wait(10)

    for _ in range(3):
        counter.hit(repo.id)
    flush = threading.Thread(target=counter.flush, name="flush")
    flush.start()
    assert in_commit.wait(10)  # the batch is out of memory, its transaction not committed yet
    read: list[dict] = []

    def read_counts() -> None:
        with sessions() as db:
            read.append(counter.counts(db, [repo.id]))

    reader = threading.Thread(target=read_counts)
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and not read  # it waits for the write under way...
    release.set()
    flush.join(10)
    reader.join(10)
    assert read == [{repo.id: (3, 3)}]  # ...and counts the batch once
    counter.hit(repo.id)
    with sessions() as db:
        assert counter.counts(db, [repo.id]) == {repo.id: (4, 4)}
    counter.flush()
    with sessions() as db:
        assert counter.counts(db, [repo.id]) == {repo.id: (4, 4)}


def test_downloads_are_the_last_30_days_and_all_time_is_every_day(tmp_path: Path) -> None:
    """``downloads`` sums the last 30 UTC days (today included), ``downloadsAllTime`` every day, as on the Hub."""
    import datetime as dt

    from modelhub.server.domain.downloads import DownloadCounter
    from modelhub.server.storage import migrate
    from modelhub.server.storage.db import Repo, RepoDownloads, open_database, utcnow

    sessions = open_database(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    migrate.create_hub(sessions.kw["bind"])
    today = utcnow().date()
    with sessions.begin() as db:
        repo = Repo(type="model", namespace="alice", name="old-and-new")
        db.add(repo)
        db.flush()
        for days_ago, n in ((0, 1), (29, 10), (30, 100), (400, 1000)):  # day 29 is the window's first
            db.add(RepoDownloads(repo_pk=repo.id, day=today - dt.timedelta(days=days_ago), count=n))
    counter = DownloadCounter(sessions, interval=3600)
    counter.hit(repo.id)  # not written yet: counted today
    with sessions() as db:
        assert counter.counts(db, [repo.id]) == {repo.id: (12, 1112)}
    counter.flush()
    with sessions() as db:
        assert counter.counts(db, [repo.id]) == {repo.id: (12, 1112)}


def test_ranged_reads_into_an_aligned_buffer_match_ordinary_ones(tmp_path: Path) -> None:
    """What the CAS reads back to hash (direct I/O into its buffer) is the same bytes as an ordinary read."""
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(3 * 2**20 + 123)
    sha = store.put_bytes(data)
    buf = mmap.mmap(-1, 2**20 + 2 * 4096)
    for start, end in [(0, 1), (0, 4096), (1, 4097), (4095, 2**20 + 4095), (len(data) - 9, len(data))]:
        assert bytes(store.read_range(sha, start, end, buf)) == data[start:end], (start, end)
        assert bytes(store.read_range(sha, start, end)) == data[start:end]
    assert bytes(store.read_range(sha, 0, 2**21, buf)) == data[: 2**21]  # larger than buf: ordinary read
    with pytest.raises(OSError, match="ends before"):
        store.read_range(sha, len(data) - 10, len(data) + 10, buf)
