"""The CAS service: its own router under ``/cas`` (the ``casUrl`` the hub's token routes hand out), so it can later
run as a process of its own. Routes and answers follow hf_xet 1.8.0 (``../shared/xet-protocol.md`` sections 2, 4, 8):

- ``POST /v1/xorbs/{prefix}/{hash}``: verify (chunk records, decompression, Merkle hash = name) and store;
- ``POST /v1/shards``: verify every file (xorbs stored, verification entries, file hash, SHA-256) and register;
- ``GET /v1/chunks/{prefix}/{hash}``: global dedup, answered only from xorbs the token's repo holds, with chunk
  hashes keyed by a fresh random key (``docs/security.md``, "Xet");
- ``GET /v{1,2}/reconstructions/{file}``: the plan, for files the token's repo holds, with signed fetch URLs;
- ``GET /v1/fetch/{xorb}``: bytes of a xorb within the signed range (no ``Authorization``: hf_xet sends none).

Grants and ``/v2/shards`` answer 404: hf_xet then takes the direct routes. Handlers only read the request on the
event loop; verification, database and disk work run on worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import mmap
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from ..domain import xetfiles
from ..domain.errors import Forbidden, InvalidInput, NotFound, TooLarge, Unauthorized
from ..domain.hub import HubService
from . import hashing, shard, xorb
from .store import XetInputError, XetStore

logger = logging.getLogger(__name__)
PREFIX = "/cas"
# not in the hub's OpenAPI document: the CAS is a protocol of its own (hf_xet's), binary bodies and all
router = APIRouter(prefix=PREFIX, tags=["xet"], include_in_schema=False)
root_router = APIRouter(tags=["xet"], include_in_schema=False)
FETCH_TTL = 3600
DEDUP_KEY_TTL = 7 * 86400
MAX_XORB_BODY = xorb.MAX_XORB_BYTES + xorb.MAX_FOOTER_BYTES
T = TypeVar("T")


async def _run(fn: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(functools.partial(fn, *args))


def _store(request: Request) -> XetStore:
    return request.app.state.xet


def _secret(request: Request) -> bytes:
    return request.app.state.secret


def _claims(request: Request, write: bool = False) -> xetfiles.CasClaims:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "The CAS needs 'Authorization: Bearer <CAS token>' from the hub's xet token routes."
        )
    try:
        claims = xetfiles.read_token(_secret(request), token.strip())
    except xetfiles.CasTokenError as exc:
        raise Unauthorized(f"CAS token refused: {exc}.", "InvalidCasToken") from exc
    if write and not claims.write:
        raise Forbidden("This CAS token is read-only; uploads need one from the hub's xet-write-token route.")
    return claims


def _session(claims: xetfiles.CasClaims) -> tuple[int, int, int]:
    """What one upload session shares: hf_xet uses one CAS token for a file's xorbs and its shard."""
    return (claims.repo_pk, claims.token_id, claims.exp)


_NOT_ALLOWED = (
    "The hub token this CAS token was issued for was revoked or expired, or its user lost access to the repo."
)


def _check_still_allowed(request: Request, claims: xetfiles.CasClaims) -> None:
    service: HubService = request.app.state.hub
    with service.sessions() as db:
        if not xetfiles.still_allowed(db, claims):
            raise Unauthorized(_NOT_ALLOWED, "InvalidCasToken")


def _hash_param(value: str, what: str) -> str:
    if not hashing.is_hex_hash(value):
        raise InvalidInput(f"Invalid {what} {value[:80]!r}: expected 64 lowercase hex characters.")
    return value


def _too_large(what: str, limit: int) -> TooLarge:
    return TooLarge(f"{what} larger than {limit} bytes: a client of this protocol never sends one.")


def _bad_length(what: str, got: int, declared: int) -> InvalidInput:
    return InvalidInput(f"{what} body does not match its Content-Length of {declared} bytes (got {got}).")


async def _body(request: Request, limit: int, what: str, buf: mmap.mmap) -> memoryview:
    """The request body, refused (413) as soon as it passes ``limit`` (one xorb or shard: bounded): a view of
    ``buf`` when its length is declared and fits (it always does for hf_xet), else of a buffer of its own."""
    declared = request.headers.get("content-length")
    size = int(declared) if declared is not None and declared.isdigit() else None
    if size is not None and size > limit:
        raise _too_large(what, limit)
    if size is None or size > len(buf):
        data = bytearray()
        async for piece in request.stream():
            data += piece
            if len(data) > limit:
                raise _too_large(what, limit)
        return memoryview(data)
    view = memoryview(buf)[:size]
    pos = 0
    async for piece in request.stream():
        end = pos + len(piece)
        if end > size:  # the HTTP layer frames bodies by Content-Length: never, but never overflow
            raise _bad_length(what, end, size)
        view[pos:end] = piece
        pos = end
    if pos != size:
        raise _bad_length(what, pos, size)
    return view


class _Bodies:
    """hf_xet sends several xorbs at once; each is held whole (up to 66 MiB) while it is verified, so at most ``n``
    are in memory per process (the others wait, their connections open): server RSS stays bounded. The buffers
    are kept between requests (a fresh one costs ~16,000 page faults, ~70 ms of the event loop per xorb) and let
    go after ``idle_s`` without uploads. They are page-aligned (anonymous maps), so the blob store can write a
    xorb from them to disk with direct I/O."""

    def __init__(self, n: int, size: int, idle_s: float = 30.0) -> None:
        self._slots = anyio.Semaphore(n)
        self._size, self._idle_s = size, idle_s
        self._free: list[mmap.mmap] = []
        self._busy = 0
        self._timer: asyncio.TimerHandle | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[mmap.mmap]:
        async with self._slots:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            buf = self._free.pop() if self._free else await _run(_new_buffer, self._size)
            self._busy += 1
            try:
                yield buf
            finally:
                self._busy -= 1
                self._free.append(buf)
                if not self._busy:
                    self._timer = asyncio.get_running_loop().call_later(self._idle_s, self._free.clear)


def _new_buffer(size: int) -> mmap.mmap:
    buf = mmap.mmap(-1, size)
    # fault its pages in here, on a worker thread, not on the event loop as the body arrives
    for i in range(0, size, mmap.PAGESIZE):
        buf[i] = 0
    return buf


_BODIES: list[_Bodies] = []


def _bodies() -> _Bodies:
    if not _BODIES:  # made on first use, inside the event loop
        _BODIES.append(_Bodies(3, MAX_XORB_BODY))
    return _BODIES[0]


def _verified(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` with a failed verification turned into a 400 (runs on a worker thread)."""
    try:
        return fn(*args)
    except XetInputError as exc:
        raise InvalidInput(str(exc), "InvalidXetUpload") from exc


class _XorbFileResponse(FileResponse):
    chunk_size = 1 << 20


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":")), status_code=status, media_type="application/json"
    )


# --- uploads ---------------------------------------------------------------------------------------------------


@router.post("/v1/xorb-grants/{prefix}/{xorb_hash}")
def xorb_grant(prefix: str, xorb_hash: str) -> Response:
    """No upload grants (direct-to-storage uploads): hf_xet falls back to ``/v1/xorbs`` on 404."""
    return _json({"error": "upload grants are not offered; use /v1/xorbs"}, 404)


@router.post("/v1/xorbs/{prefix}/{xorb_hash}")
async def upload_xorb(request: Request, prefix: str, xorb_hash: str) -> Response:
    claims = _claims(request, write=True)
    _hash_param(xorb_hash, "xorb hash")
    store, session = _store(request), _session(claims)
    async with _bodies().slot() as buf:
        # the order uploads begin in is the order the chain SHA-256 (``prehash``) takes the xorbs in
        seq = store.chains.ticket(session)
        told = False  # put_xorb tells the chain how the upload ended unless it raises
        try:
            with await _body(request, MAX_XORB_BODY, "A xorb", buf) as data:  # released before buf is reused
                size = len(data)
                inserted, _ = await _run(_verified, store.put_xorb, xorb_hash, data, (session, seq))
                told = True
        finally:
            if not told:
                store.chains.report(session, seq, None)
    logger.info(
        "xet: xorb %s from repo %d: %d bytes received, inserted=%s", xorb_hash, claims.repo_pk, size, inserted
    )
    return _json({"was_inserted": inserted})


@router.post("/v2/shards")
def upload_shard_v2() -> Response:
    """Not offered (the NDJSON progress form): hf_xet falls back to ``/v1/shards`` on 404."""
    return _json({"error": "use /v1/shards"}, 404)


@router.post("/v1/shards")
async def upload_shard(request: Request) -> Response:
    claims = _claims(request, write=True)
    async with _bodies().slot() as buf:
        with await _body(request, shard.MAX_SHARD_BYTES, "A shard", buf) as view:
            data = bytes(view)  # small; its records become dict keys

    def work() -> int:
        _check_still_allowed(request, claims)
        return _store(request).register_shard(data, claims.repo_pk, _session(claims))

    created = await _run(_verified, work)
    logger.info(
        "xet: shard from repo %d: %d bytes received, %d new files", claims.repo_pk, len(data), created
    )
    return _json({"result": 1 if created else 0})


# --- dedup -----------------------------------------------------------------------------------------------------


@router.get("/v1/chunks/{prefix}/{chunk_hash}")
def dedup_query(request: Request, prefix: str, chunk_hash: str) -> Response:
    """A shard listing the xorbs that hold this chunk and that the token's repo holds (with the other xorbs of
    the files using them), chunk hashes keyed with a fresh random key (the client can match only chunks it has
    the bytes of); 404 when there is none."""
    claims = _claims(request)
    _hash_param(chunk_hash, "chunk hash")
    _check_still_allowed(request, claims)
    store = _store(request)
    candidates = store.dedup_xorbs(chunk_hash)
    with store.sessions() as db:
        allowed = xetfiles.xorbs_of_repo(db, claims.repo_pk, candidates) if candidates else set()
        listed = xetfiles.neighbour_xorbs(db, claims.repo_pk, allowed)
    picked = []
    for x in listed:
        found = store.xorb(x)
        if found is not None:
            idx = found[1]
            picked.append(
                (hashing.from_hex(x), [(h, idx.unpacked_size(i)) for i, h in enumerate(idx.hashes)])
            )
    if not picked:
        return _json({"error": "no such chunk"}, 404)
    body = shard.dedup_shard(picked, os.urandom(32), DEDUP_KEY_TTL)
    return Response(body, media_type="application/octet-stream")


# --- downloads -------------------------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d{1,19})-(\d{0,19})$")


def _fetch_sig(secret: bytes, xorb_hash: str, first: int, last: int, exp: int) -> str:
    key = xetfiles.subkey(secret, "fetch")
    return hmac.new(key, f"{xorb_hash}:{first}:{last}:{exp}".encode(), hashlib.sha256).hexdigest()[:40]


def _reconstruction(request: Request, file_hash: str, v2: bool) -> Response:
    claims = _claims(request)
    _hash_param(file_hash, "file hash")
    store = _store(request)
    with store.sessions() as db:
        if not xetfiles.still_allowed(db, claims):
            raise Unauthorized(_NOT_ALLOWED)
        row = xetfiles.may_reconstruct(db, claims.repo_pk, file_hash)
    if row is None:  # the same answer whether the file exists elsewhere or not at all
        raise NotFound(f"File {file_hash} is not in the repo this CAS token is for.", "FileNotFound")
    start, end = 0, row.size
    rng = request.headers.get("range")
    if rng:
        m = _RANGE.match(rng.strip())
        if m is None:
            raise InvalidInput(f"Unsupported Range {rng[:80]!r}: expected bytes=START-END.")
        start = int(m.group(1))
        end = min(int(m.group(2)) + 1, row.size) if m.group(2) else row.size
        if start >= row.size and not (start == 0 and row.size == 0):
            return _json({"error": f"range start {start} is past the file's {row.size} bytes"}, 416)
        if end <= start:
            raise InvalidInput(f"Invalid Range {rng[:80]!r}.")
    base = str(request.base_url).rstrip("/")
    public = request.app.state.settings.public_url
    if public:
        base = public.rstrip("/")
    exp = int(time.time()) + FETCH_TTL
    secret = _secret(request)

    def url(xorb_hash: str, first: int, last: int) -> str:
        sig = _fetch_sig(secret, xorb_hash, first, last, exp)
        return f"{base}{PREFIX}/v1/fetch/{xorb_hash}?r={first}-{last}&exp={exp}&sig={sig}"

    return _json(store.plan(row, start, end, url, v2))


@router.get("/v2/reconstructions/{file_hash}")
def reconstruction_v2(request: Request, file_hash: str) -> Response:
    return _reconstruction(request, file_hash, v2=True)


@router.get("/v1/reconstructions/{file_hash}")
def reconstruction_v1(request: Request, file_hash: str) -> Response:
    return _reconstruction(request, file_hash, v2=False)


@router.get("/v1/fetch/{xorb_hash}")
def fetch_xorb_bytes(request: Request, xorb_hash: str) -> Response:
    """Bytes of a xorb's chunk section within the range the reconstruction answer signed (the ``Range`` header
    may narrow it); self-authorizing URL, 403 when forged or expired (hf_xet then asks for a new plan)."""
    _hash_param(xorb_hash, "xorb hash")
    q = request.query_params
    try:
        first_s, _, last_s = q["r"].partition("-")
        first, last, exp = int(first_s), int(last_s), int(q["exp"])
    except (KeyError, ValueError) as exc:
        raise Forbidden("Missing or malformed fetch signature; ask the CAS for a reconstruction.") from exc
    if not hmac.compare_digest(_fetch_sig(_secret(request), xorb_hash, first, last, exp), q.get("sig", "")):
        raise Forbidden("Invalid fetch signature; ask the CAS for a new reconstruction.")
    if exp < time.time():
        raise Forbidden("This fetch URL expired; ask the CAS for a new reconstruction.")
    rng = request.headers.get("range")
    a, b = first, last
    if rng:
        m = _RANGE.match(rng.strip())
        if m is None:
            raise InvalidInput(f"Unsupported Range {rng[:80]!r}: expected bytes=START-END.")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else last
        if a < first or b > last or a > b:
            raise Forbidden(f"Range {rng[:80]!r} is outside the signed range {first}-{last}.")
    store = _store(request)
    found = store.xorb(xorb_hash)
    if found is None:
        raise NotFound(f"Xorb {xorb_hash} is not stored.")
    blob = found[0]
    total = found[1].record_ends[-1]
    if b >= total:
        raise InvalidInput(f"Range end {b} is past the xorb's {total} bytes.")
    path = store.blobs.local_path(blob)
    if rng and path is not None:  # the range is checked: let the file response serve it (sendfile)
        return _XorbFileResponse(path, media_type="application/octet-stream")
    headers = {"Content-Range": f"bytes {a}-{b}/{total}", "Content-Length": str(b - a + 1)}
    if b - a < 4 << 20:
        data = b"".join(store.blobs.iter_range(blob, a, b + 1))  # a ranged read (S3 files do not seek)
        return Response(data, status_code=206, headers=headers, media_type="application/octet-stream")
    return StreamingResponse(
        store.blobs.iter_range(blob, a, b + 1),
        status_code=206,
        headers=headers,
        media_type="application/octet-stream",
    )


# --- telemetry -------------------------------------------------------------------------------------------------


@root_router.post("/v1/telemetry", include_in_schema=False)
@router.post("/v1/telemetry", include_in_schema=False)
def telemetry() -> Response:
    """hf_xet's best-effort telemetry (sent to the host root of casUrl): accepted and dropped."""
    return Response(status_code=200)
