"""The CAS's storage: verified xorbs (blobs + chunk index), shard registration (every file fully verified before
anything is recorded), reconstruction plans and server-side reconstruction of a file's bytes.

Blocking throughout (database, disk, hashing): call it from worker threads. Memory stays bounded: one xorb
(<= 64 MiB) at most is held while it is verified; file bytes are streamed chunk by chunk.
"""

from __future__ import annotations

import bisect
import logging
import mmap
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from ..domain import objects
from ..storage.blobs import IO_BLOCK, BlobStore
from ..storage.db import Repo, XetDedupChunk, XetFile, XetFileXorb, XetShard, XetXorb
from . import hashing, prehash, shard, xorb
from .hashing import from_hex, to_hex
from .xorb import ChunkIndex

logger = logging.getLogger(__name__)
MAX_FILE_BYTES = 50 * 2**30  # like an LFS object
MAX_SHARD_WORK = 200 * 2**30  # bytes a shard may make the server re-read to check SHA-256s
CHECKPOINT_EVERY = 16 * 2**20  # bytes of a file between the SHA-256 states the shard step leaves
READ_BYTES = 4 * 2**20  # of a xorb's records at a time, when reconstructing
CHAIN_WAIT_S = 120.0  # how long a shard waits for the background SHA-256 of its session's xorbs


class XetInputError(ValueError):
    """A xorb or shard that fails verification; nothing was stored (the message says what and where)."""


@dataclass(frozen=True)
class StoredTerm:
    xorb: str  # string form
    start: int
    end: int
    size: int


def pack_terms(terms: list[StoredTerm]) -> bytes:
    return b"".join(from_hex(t.xorb) + struct.pack("<III", t.start, t.end, t.size) for t in terms)


def unpack_terms(data: bytes) -> list[StoredTerm]:
    out = []
    for off in range(0, len(data), 44):
        start, end, size = struct.unpack_from("<III", data, off + 32)
        out.append(StoredTerm(to_hex(data[off : off + 32]), start, end, size))
    return out


def dedup_eligible(h: bytes) -> bool:
    """The chunks hf_xet asks global dedup about besides first chunks of files (last word % 1024 == 0)."""
    return struct.unpack_from("<Q", h, 24)[0] % 1024 == 0


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Chunk ranges ``[start, end)`` with overlapping or adjacent ones joined, sorted."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class _Buffers:
    """Page-aligned read buffers, reused (fresh memory costs page faults on every use), a few kept."""

    def __init__(self, size: int, keep: int = 4) -> None:
        self._size, self._keep = size, keep
        self._free: list[mmap.mmap] = []
        self._lock = threading.Lock()

    def take(self) -> mmap.mmap:
        with self._lock:
            if self._free:
                return self._free.pop()
        return mmap.mmap(-1, self._size)

    def give(self, buf: mmap.mmap) -> None:
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(buf)


class XetStore:
    """Xorbs, files and shards in the database and the blob store."""

    def __init__(self, sessions: sessionmaker, blobs: BlobStore) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self._indexes: OrderedDict[str, tuple[str, ChunkIndex]] = OrderedDict()
        self._lock = threading.Lock()
        self._read_buffers = _Buffers(READ_BYTES + 2 * IO_BLOCK)
        self.checkpoints = prehash.Checkpoints()
        self.chains = prehash.ChainHasher(self.checkpoints, self._read_xorb)

    # --- xorbs -------------------------------------------------------------------------------------------------

    def xorb(self, hash_hex: str) -> tuple[str, ChunkIndex] | None:
        """(blob name, chunk index) of a stored xorb, cached (xorbs are immutable)."""
        with self._lock:
            hit = self._indexes.get(hash_hex)
            if hit is not None:
                self._indexes.move_to_end(hash_hex)
                return hit
        with self.sessions() as db:
            row = db.get(XetXorb, hash_hex)
            if row is None:
                return None
            hit = (row.blob_sha256, ChunkIndex.unpack(row.chunk_index))
        with self._lock:
            self._indexes[hash_hex] = hit
            while len(self._indexes) > 512:
                self._indexes.popitem(last=False)
        return hit

    def put_xorb(
        self, hash_hex: str, data: bytes | memoryview, ticket: tuple[Hashable, int] | None = None
    ) -> tuple[bool, int]:
        """Verify and store a xorb: (False if it was stored already (not an error), its number of chunks).
        ``ticket``: (session, upload) of the chain SHA-256 (``prehash``), told of the outcome unless this raises;
        verified bytes are handed to it, so it need not read them back."""
        if (found := self.xorb(hash_hex)) is not None:
            if ticket is not None:  # ``data`` was not verified: the chain reads the stored xorb
                self.chains.report(*ticket, from_hex(hash_hex), len(found[1]))
            return False, len(found[1])
        try:
            end, index = xorb.verify(data, from_hex(hash_hex))
        except xorb.XorbError as exc:
            raise XetInputError(f"xorb {hash_hex}: {exc}. Nothing was stored.") from exc
        # named by its Xet hash, just verified over these bytes: no SHA-256 of 64 MiB on top
        section = memoryview(data)[:end]
        blob = self.blobs.put_bytes(section, verified_name=hash_hex)  # type: ignore[arg-type]  # any bytes-like object
        dedup = {to_hex(h) for i, h in enumerate(index.hashes) if i == 0 or dedup_eligible(h)}
        with self.sessions() as db:
            db.add(
                XetXorb(
                    hash=hash_hex, blob_sha256=blob, size=end, num_chunks=len(index), chunk_index=index.pack()
                )
            )
            try:
                db.flush()
            except IntegrityError:  # a concurrent upload of the same xorb won
                db.rollback()
                if ticket is not None:
                    self.chains.report(*ticket, from_hex(hash_hex), len(index))
                return False, len(index)
            objects.insert_ignore(
                db, XetDedupChunk, [{"chunk_hash": c, "xorb_hash": hash_hex} for c in sorted(dedup)]
            )
            db.commit()
        if ticket is not None:
            self.chains.offer(*ticket, from_hex(hash_hex), len(index), xorb.iter_content(section, index))
        return True, len(index)

    def _read_xorb(self, raw: bytes, chunks: int) -> Iterator[bytes]:
        """The content of chunks ``[0, chunks)`` of a stored xorb (the chain hasher's read)."""
        found = self.xorb(to_hex(raw))
        if found is None:
            raise FileNotFoundError(f"xorb {to_hex(raw)} is missing")
        size = found[1].unpacked_ends[chunks - 1]
        return self.iter_terms([StoredTerm(to_hex(raw), 0, chunks, size)], 0, size, views=True)

    # --- shards ------------------------------------------------------------------------------------------------

    def register_shard(self, data: bytes, repo_pk: int, session: Hashable | None = None) -> int:
        """Verify every file of an upload shard (its xorbs stored, term ranges and sizes, verification entries,
        file hash, and the SHA-256 over the file's bytes, resumed from ``prehash`` checkpoints where some
        prefix of the file has one), then record the files, grant their SHA-256s to the repo and keep the
        shard. ``session``: the upload session whose xorbs' background SHA-256 to wait for. Returns how many
        files were new."""
        try:
            parsed = shard.parse(data)
        except shard.ShardError as exc:
            raise XetInputError(f"shard: {exc}. Nothing was stored.") from exc
        indexes: dict[bytes, ChunkIndex] = {}
        for raw in {x.xorb for x in parsed.xorbs} | {t.xorb for f in parsed.files for t in f.terms}:
            found = self.xorb(to_hex(raw))
            if found is None:
                raise XetInputError(
                    f"shard names xorb {to_hex(raw)}, which was never uploaded (upload the xorb first)."
                    " Nothing was stored."
                )
            indexes[raw] = found[1]
        for x in parsed.xorbs:
            idx = indexes[x.xorb]
            sizes = tuple(idx.unpacked_size(i) for i in range(len(idx)))
            if x.chunk_hashes != idx.hashes or x.chunk_sizes != sizes:
                raise XetInputError(
                    f"shard lists chunks of xorb {to_hex(x.xorb)} that differ from the stored xorb."
                    " Nothing was stored."
                )
        new: list[tuple[shard.FileInfo, list[StoredTerm]]] = []
        work = 0
        with self.sessions() as db:
            known = {f.file_hash: db.get(XetFile, to_hex(f.file_hash)) for f in parsed.files}
        for f in parsed.files:
            terms = self._check_file(f, indexes)
            if not terms:
                continue  # an empty file: hf_xet commits those inline
            row = known[f.file_hash]
            if row is not None:
                if row.sha256 != f.sha256:
                    raise XetInputError(
                        f"file {to_hex(f.file_hash)}: declared SHA-256 {f.sha256} but its content has"
                        f" {row.sha256}. Nothing was stored."
                    )
                new.append((f, terms))
                continue
            work += f.size
            if work > MAX_SHARD_WORK:
                raise XetInputError(f"shard registers more than {MAX_SHARD_WORK} bytes of new files")
            if session is not None:
                t0 = time.perf_counter()
                self.chains.drain(session, CHAIN_WAIT_S)
                logger.debug("xet: waited %.3f s for the chain SHA-256", time.perf_counter() - t0)
                session = None
            got = self._sha256(terms)
            if got != f.sha256:
                raise XetInputError(
                    f"file {to_hex(f.file_hash)}: declared SHA-256 {f.sha256} but its content has"
                    f" {got}. Nothing was stored."
                )
            new.append((f, terms))
        shard_sha = self.blobs.put_bytes(data)
        created = 0
        with self.sessions() as db:
            if db.get(Repo, repo_pk) is None:
                raise XetInputError("the repo of this CAS token no longer exists. Nothing was stored.")
            objects.insert_ignore(db, XetShard, [{"sha256": shard_sha, "repo_pk": repo_pk}])
            for f, terms in new:
                fh = to_hex(f.file_hash)
                if known[f.file_hash] is None:
                    created += 1
                    rows = [
                        {
                            "hash": fh,
                            "sha256": f.sha256,
                            "size": f.size,
                            "terms": pack_terms(terms),
                            "shard_sha256": shard_sha,
                        }
                    ]
                    objects.insert_ignore(db, XetFile, rows)
                    objects.insert_ignore(
                        db,
                        XetFileXorb,
                        [{"file_hash": fh, "xorb_hash": x} for x in sorted({t.xorb for t in terms})],
                    )
                    first = to_hex(indexes[f.terms[0].xorb].hashes[f.terms[0].start])
                    objects.insert_ignore(
                        db, XetDedupChunk, [{"chunk_hash": first, "xorb_hash": terms[0].xorb}]
                    )
                assert f.sha256 is not None
                objects.grant(db, repo_pk, f.sha256)
            db.commit()
        return created

    def _sha256(self, terms: list[StoredTerm]) -> str:
        """SHA-256 of the bytes of ``terms``: from the longest prefix with a checkpoint, reading the rest back and
        leaving checkpoints about every ``CHECKPOINT_EVERY`` bytes (for re-uploads of changed copies)."""
        names = [prehash.START]
        for t in terms:
            names.append(prehash.extend(names[-1], from_hex(t.xorb), t.start, t.end))
        done = len(terms)
        state: Any = None
        while state is None:
            state = self.checkpoints.get(names[done])
            done -= state is None
        since = 0
        t0 = time.perf_counter()
        for i in range(done, len(terms)):
            for piece in self.iter_terms(terms[i : i + 1], 0, terms[i].size, views=True):
                state.update(piece)
            since += terms[i].size
            if since >= CHECKPOINT_EVERY or i == len(terms) - 1:
                self.checkpoints.put(names[i + 1], state)
                since = 0
        skipped = sum(t.size for t in terms[:done])
        logger.info(
            "xet: SHA-256 of a %d-byte file: %d bytes from checkpoints, %d read back in %.3f s",
            skipped + sum(t.size for t in terms[done:]),
            skipped,
            sum(t.size for t in terms[done:]),
            time.perf_counter() - t0,
        )
        return str(state.hexdigest())

    @staticmethod
    def _check_file(f: shard.FileInfo, indexes: dict[bytes, ChunkIndex]) -> list[StoredTerm]:
        name = to_hex(f.file_hash)
        if not f.terms:
            if f.file_hash != hashing.ZERO:
                raise XetInputError(
                    f"file {name} has no terms but is not the empty file. Nothing was stored."
                )
            return []
        if f.verification is None:
            raise XetInputError(f"file {name} has no verification entries. Nothing was stored.")
        if f.sha256 is None:
            raise XetInputError(f"file {name} has no SHA-256 (metadata extension). Nothing was stored.")
        if f.size > MAX_FILE_BYTES:
            raise XetInputError(f"file {name} has {f.size} bytes, more than the {MAX_FILE_BYTES}-byte limit.")
        leaves: list[tuple[bytes, int]] = []
        terms = []
        for i, (t, check) in enumerate(zip(f.terms, f.verification, strict=True)):
            idx = indexes[t.xorb]
            if t.end > len(idx):
                raise XetInputError(
                    f"file {name}, term {i}: chunks [{t.start}, {t.end}) but xorb {to_hex(t.xorb)} has"
                    f" {len(idx)}. Nothing was stored."
                )
            hashes = idx.hashes[t.start : t.end]
            if hashing.verification_hash(hashes) != check:
                raise XetInputError(
                    f"file {name}, term {i}: the verification entry does not match the chunks of xorb"
                    f" {to_hex(t.xorb)}. Nothing was stored."
                )
            size = idx.unpacked_ends[t.end - 1] - idx.unpacked_start(t.start)
            if size != t.unpacked_bytes:
                raise XetInputError(
                    f"file {name}, term {i}: declares {t.unpacked_bytes} bytes, its chunks hold {size}."
                    " Nothing was stored."
                )
            leaves.extend(
                (h, idx.unpacked_size(c)) for c, h in zip(range(t.start, t.end), hashes, strict=True)
            )
            terms.append(StoredTerm(to_hex(t.xorb), t.start, t.end, size))
        if hashing.file_hash(leaves) != f.file_hash:
            raise XetInputError(
                f"file {name}: its chunks hash to {to_hex(hashing.file_hash(leaves))}. Nothing was stored."
            )
        return terms

    # --- reading -----------------------------------------------------------------------------------------------

    def file(self, file_hash: str) -> XetFile | None:
        with self.sessions() as db:
            return db.get(XetFile, file_hash)

    def iter_file(self, file_hash: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of a stored file, reconstructed chunk by chunk (domain.xetfiles.XetReader)."""
        row = self.file(file_hash)
        if row is None:
            raise FileNotFoundError(f"Xet file {file_hash} is not stored")
        return self.iter_terms(unpack_terms(row.terms), start, end)

    def iter_terms(
        self, terms: list[StoredTerm], start: int, end: int, views: bool = False
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the content of ``terms``; with ``views``, stored chunks come as memoryviews of
        what was read (no copy; for hashing: each is valid only until the next is asked for, as the reads go to
        the device with direct I/O into a reused buffer, past the page cache, where the store can)."""
        buf = self._read_buffers.take() if views else None
        try:
            yield from self._iter_terms(terms, start, end, views, buf)
        finally:
            if buf is not None:
                self._read_buffers.give(buf)

    def _iter_terms(
        self, terms: list[StoredTerm], start: int, end: int, views: bool, buf: mmap.mmap | None
    ) -> Iterator[bytes]:
        offset = 0
        for t in terms:
            if offset >= end:
                return
            if offset + t.size <= start:
                offset += t.size
                continue
            found = self.xorb(t.xorb)
            if found is None:
                raise FileNotFoundError(f"xorb {t.xorb} is missing")
            blob, idx = found
            first = t.start
            while first < t.end and offset + idx.unpacked_ends[first] - idx.unpacked_start(t.start) <= start:
                first += 1
            pos = offset + idx.unpacked_start(first) - idx.unpacked_start(t.start)
            c = first
            while c < t.end and pos < end:
                # records [c, g): one ranged read of at most READ_BYTES (no record is larger)
                base = idx.record_start(c)
                g = bisect.bisect_right(idx.record_ends, base + READ_BYTES, c + 1, t.end)
                block = self.blobs.read_range(blob, base, idx.record_ends[g - 1], buf)
                for k in range(c, g):
                    if pos >= end:
                        break
                    size = idx.unpacked_size(k)
                    rec = block[idx.record_start(k) - base : idx.record_ends[k] - base]
                    data: Any = xorb.chunk_data(rec, size, views)
                    lo, hi = max(start - pos, 0), min(end - pos, size)
                    yield data if (lo == 0 and hi == size) else data[lo:hi]
                    pos += size
                c = g
            offset += t.size

    def plan(
        self, row: XetFile, start: int, end: int, url: Callable[[str, int, int], str], v2: bool
    ) -> dict[str, object]:
        """The reconstruction answer for bytes ``[start, end)``: terms trimmed to whole chunks covering it,
        ``offset_into_first_range``, and per xorb the fetch ranges (overlapping or adjacent chunk ranges of its
        terms merged, as the client looks up each term in the range that contains it) with signed URLs
        (``url(xorb, first byte, last byte)``)."""
        out_terms: list[dict[str, object]] = []
        wanted: dict[str, list[tuple[int, int]]] = {}
        indexes: dict[str, ChunkIndex] = {}
        offset = 0
        skip = 0
        for t in unpack_terms(row.terms):
            t_end = offset + t.size
            if t_end <= start or offset >= end:
                offset = t_end
                continue
            found = self.xorb(t.xorb)
            if found is None:
                raise FileNotFoundError(f"xorb {t.xorb} is missing")
            idx = indexes[t.xorb] = found[1]
            base = offset - idx.unpacked_start(t.start)  # file offset of the xorb's byte 0
            c0, c1 = t.start, t.end
            while base + idx.unpacked_ends[c0] <= start:
                c0 += 1
            while base + idx.unpacked_start(c1 - 1) >= end:
                c1 -= 1
            if not out_terms:
                skip = start - (base + idx.unpacked_start(c0))
            size = idx.unpacked_ends[c1 - 1] - idx.unpacked_start(c0)
            out_terms.append({"hash": t.xorb, "unpacked_length": size, "range": {"start": c0, "end": c1}})
            wanted.setdefault(t.xorb, []).append((c0, c1))
            offset = t_end
        fetch: dict[str, list[dict[str, object]]] = {}
        for x, ranges in wanted.items():
            idx = indexes[x]
            for c0, c1 in _merged(ranges):
                b0, b1 = idx.record_start(c0), idx.record_ends[c1 - 1] - 1
                chunks, link = {"start": c0, "end": c1}, url(x, b0, b1)
                entry: dict[str, object]
                if v2:
                    entry = {"url": link, "ranges": [{"chunks": chunks, "bytes": {"start": b0, "end": b1}}]}
                else:
                    entry = {"range": chunks, "url": link, "url_range": {"start": b0, "end": b1}}
                fetch.setdefault(x, []).append(entry)
        answer: dict[str, object] = {"offset_into_first_range": skip, "terms": out_terms}
        answer["xorbs" if v2 else "fetch_info"] = fetch
        return answer

    def dedup_xorbs(self, chunk_hex: str) -> list[str]:
        with self.sessions() as db:
            return list(
                db.scalars(
                    XetDedupChunk.__table__.select()
                    .with_only_columns(XetDedupChunk.xorb_hash)
                    .where(XetDedupChunk.chunk_hash == chunk_hex)
                    .limit(8)
                )
            )
