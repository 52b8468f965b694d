"""What the rest of the hub knows of Xet storage, without the protocol's formats (those are in ``server/xet``).

- CAS access tokens: self-validating (HMAC-signed claims, no lookup needed), scoped to one repo (by its primary
  key, so a repo deleted and re-created under the same name is another scope) and to ``read`` or ``write``.
- Xet files are content objects like LFS blobs, named by SHA-256: a commit's ``lfsFile`` line, a tree entry and a
  download do not care which of the two holds the bytes (``content_size``; the bytes through ``XetReader``).
- Who may reconstruct a file: a token of a repo that some commit references the file's SHA-256 in, or that was
  granted it by a verified upload (``objects.py``'s rules, applied to Xet file hashes).
- Garbage collection of Xet files, xorbs and shards nothing live references.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from ..storage.blobs import BlobStore
from ..storage.db import (
    Account,
    Repo,
    RepoObject,
    Token,
    UploadGrant,
    XetDedupChunk,
    XetFile,
    XetFileXorb,
    XetShard,
    XetXorb,
    utcnow,
)
from . import gating
from .accounts import Principal, can_contribute, can_read, can_write, parse_scopes

TOKEN_TTL = 3600  # hf_xet refreshes a token 30 s before it expires (time-based): an hour is plenty
TOKEN_GRACE = 600  # a 401 from the CAS is fatal to an upload in hf_xet 1.8.0: accept a little past expiry
_PREFIX = "xet1."


class XetReader(Protocol):
    """Streams the bytes ``[start, end)`` of a stored Xet file (implemented by ``server/xet``)."""

    def iter_file(self, file_hash: str, start: int, end: int) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class CasClaims:
    repo_pk: int
    write: bool
    token_id: int  # the hub token it was issued for (0: anonymous read)
    exp: int
    # the start of that hub token's SHA-256: a token that later gets the same row id (SQLite reuses the id of a
    # deleted newest row) is another token, and revives nothing
    token_tag: str = ""


class CasTokenError(Exception):
    """The CAS token is missing, forged, malformed or expired (the message says which)."""


def subkey(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, f"modelhub-xet:{purpose}".encode(), hashlib.sha256).digest()


TAG_CHARS = 16  # hex characters of the hub token's SHA-256 a CAS token carries (64 bits)


def issue_token(
    secret: bytes, repo_pk: int, write: bool, token_id: int, token_hash: str = "", ttl: int = TOKEN_TTL
) -> tuple[str, int]:
    """(CAS token, expiry in unix seconds) for one repo and scope, bound to the hub token ``token_id`` whose
    SHA-256 is ``token_hash`` (0 and "": an anonymous read)."""
    exp = int(time.time()) + ttl
    fields = {"r": repo_pk, "w": int(write), "t": token_id, "k": token_hash[:TAG_CHARS], "e": exp}
    claims = json.dumps(fields, separators=(",", ":"))
    body = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
    sig = hmac.new(subkey(secret, "cas-token"), body.encode(), hashlib.sha256).hexdigest()
    return f"{_PREFIX}{body}.{sig}", exp


def read_token(secret: bytes, token: str, now: float | None = None, grace: int = TOKEN_GRACE) -> CasClaims:
    """The claims of a CAS token after checking its signature and expiry (with ``grace`` seconds of slack)."""
    if not token.startswith(_PREFIX) or token.count(".") != 2 or len(token) > 1000:
        raise CasTokenError("not a CAS token of this hub: ask the hub's xet-read-token/xet-write-token route")
    body, _, sig = token[len(_PREFIX) :].partition(".")
    want = hmac.new(subkey(secret, "cas-token"), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        raise CasTokenError("invalid CAS token signature")
    try:
        raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims = CasClaims(int(raw["r"]), bool(raw["w"]), int(raw["t"]), int(raw["e"]), str(raw.get("k", "")))
    except (ValueError, KeyError, TypeError) as exc:
        raise CasTokenError("malformed CAS token") from exc
    if (time.time() if now is None else now) > claims.exp + grace:
        raise CasTokenError("the CAS token expired: ask the hub for a new one")
    return claims


# --- Xet files as content objects ------------------------------------------------------------------------------


def file_by_sha256(db: Session, sha256: str) -> XetFile | None:
    return db.scalar(select(XetFile).where(XetFile.sha256 == sha256).limit(1))


def xet_hashes(db: Session, shas: list[str]) -> dict[str, str]:
    """SHA-256 -> Xet file hash for those of ``shas`` that Xet storage holds."""
    out: dict[str, str] = {}
    for i in range(0, len(shas), 500):
        rows = db.execute(select(XetFile.sha256, XetFile.hash).where(XetFile.sha256.in_(shas[i : i + 500])))
        for sha, fh in rows:
            out.setdefault(sha, fh)
    return out


def content_size(db: Session, blobs: BlobStore, sha256: str) -> int | None:
    """Size of the content object ``sha256`` whether a blob or a Xet file holds it; None if neither."""
    if blobs.exists(sha256):
        return blobs.size(sha256)
    f = file_by_sha256(db, sha256)
    return None if f is None else f.size


def may_reconstruct(db: Session, repo_pk: int, file_hash: str) -> XetFile | None:
    """The Xet file if the repo holds it (some commit references its SHA-256, or a verified upload granted it);
    None otherwise, whether or not it exists elsewhere."""
    f = db.get(XetFile, file_hash)
    if f is None:
        return None
    held = db.get(RepoObject, (repo_pk, f.sha256)) or db.get(UploadGrant, (repo_pk, f.sha256))
    return f if held is not None else None


def xorbs_of_repo(db: Session, repo_pk: int, xorb_hashes: list[str]) -> set[str]:
    """Those of ``xorb_hashes`` that a file the repo holds uses (the scope of dedup answers)."""
    stmt = (
        select(XetFileXorb.xorb_hash)
        .join(XetFile, XetFile.hash == XetFileXorb.file_hash)
        .where(XetFileXorb.xorb_hash.in_(xorb_hashes), _held_by(repo_pk))
        .distinct()
    )
    return set(db.scalars(stmt))


def _held_by(repo_pk: int) -> Any:
    """SQL condition on ``XetFile``: the repo holds the file (a commit references it, or a grant)."""
    return or_(
        XetFile.sha256.in_(select(RepoObject.sha256).where(RepoObject.repo_pk == repo_pk)),
        XetFile.sha256.in_(select(UploadGrant.sha256).where(UploadGrant.repo_pk == repo_pk)),
    )


def neighbour_xorbs(db: Session, repo_pk: int, xorbs: set[str], limit: int = 64) -> list[str]:
    """``xorbs`` (those the repo holds) and the other xorbs of the repo's files that use them, at most ``limit``:
    a dedup answer lists a file's neighbourhood, since the client asks about only ~1 chunk in 1024."""
    if not xorbs:
        return []
    files = (
        select(XetFileXorb.file_hash)
        .join(XetFile, XetFile.hash == XetFileXorb.file_hash)
        .where(XetFileXorb.xorb_hash.in_(sorted(xorbs)), _held_by(repo_pk))
    )
    others = db.scalars(
        select(XetFileXorb.xorb_hash).where(XetFileXorb.file_hash.in_(files)).distinct().limit(limit)
    )
    return sorted(xorbs)[:limit] + [x for x in others if x not in xorbs][: max(limit - len(xorbs), 0)]


# --- garbage collection ----------------------------------------------------------------------------------------


@dataclass
class XetGarbage:
    files: int = 0
    xorbs: int = 0
    shards: int = 0
    kept_blobs: frozenset[str] = frozenset()  # blob SHA-256s still used by live xorbs and shards


def collect(db: Session, live_shas: set[str], cutoff: dt.datetime, dry_run: bool) -> XetGarbage:
    """Drop Xet files whose SHA-256 nothing live references (``live_shas``: trees and grants), then xorbs no live
    file uses and shards that registered no live file, all only if older than ``cutoff``. Returns what went and the
    blobs the rest still needs (the caller deletes unneeded blobs)."""
    report = XetGarbage()
    dead_files = [
        h
        for h, sha, created in db.execute(select(XetFile.hash, XetFile.sha256, XetFile.created_at))
        if sha not in live_shas and created < cutoff
    ]
    report.files = len(dead_files)
    dead = set(dead_files)
    used_xorbs = {
        x for f, x in db.execute(select(XetFileXorb.file_hash, XetFileXorb.xorb_hash)) if f not in dead
    }
    used_shards = {s for h, s in db.execute(select(XetFile.hash, XetFile.shard_sha256)) if h not in dead}
    kept: set[str] = set()
    dead_xorbs = []
    for h, blob, created in db.execute(select(XetXorb.hash, XetXorb.blob_sha256, XetXorb.created_at)):
        if h in used_xorbs or created >= cutoff:
            kept.add(blob)
        else:
            dead_xorbs.append(h)
    dead_shards = []
    for sha, created in db.execute(select(XetShard.sha256, XetShard.created_at)):
        if sha in used_shards or created >= cutoff:
            kept.add(sha)
        else:
            dead_shards.append(sha)
    report.xorbs, report.shards = len(dead_xorbs), len(dead_shards)
    if not dry_run:
        for i in range(0, max(len(dead_files), len(dead_xorbs), len(dead_shards)), 500):
            files, xorbs, shards = dead_files[i : i + 500], dead_xorbs[i : i + 500], dead_shards[i : i + 500]
            db.execute(delete(XetFileXorb).where(XetFileXorb.file_hash.in_(files)))
            db.execute(delete(XetFile).where(XetFile.hash.in_(files)))
            db.execute(delete(XetDedupChunk).where(XetDedupChunk.xorb_hash.in_(xorbs)))
            db.execute(delete(XetXorb).where(XetXorb.hash.in_(xorbs)))
            db.execute(delete(XetShard).where(XetShard.sha256.in_(shards)))
        db.commit()
    report.kept_blobs = frozenset(kept)
    return report


def still_allowed(db: Session, claims: CasClaims) -> bool:
    """Whether what the CAS token was issued on still holds, checked on every use as hub tokens are: its hub token
    exists and has not expired, its user is not disabled, and that user (with the token's role and scopes) may
    still upload to the repo, or read it and have its files -- so revoking the token, disabling the user, removing
    them from the org or rejecting their access to a gated repo stops the CAS token from the next request on. An
    anonymous read token holds while the repo is public and not gated."""
    repo = db.get(Repo, claims.repo_pk)
    if repo is None:
        return False
    if claims.token_id == 0:
        return not repo.private and not repo.gated and not claims.write
    row = db.execute(
        select(Token, Account).join(Account, Account.id == Token.user_id).where(Token.id == claims.token_id)
    ).first()
    if row is None:
        return False
    tok, user = row
    # a token that took the row id of a revoked one is another token: it revives nothing
    if not claims.token_tag or not tok.token_hash.startswith(claims.token_tag):
        return False
    if user.disabled or (tok.expires_at is not None and tok.expires_at <= utcnow()):
        return False
    sessions = sessionmaker(bind=db.get_bind())
    scopes = parse_scopes(tok.scopes_json)
    p = Principal(
        user.id, user.name, tok.role, tok.name, user.is_admin, sessions, token_id=tok.id, scopes=scopes
    )
    if claims.write:
        return can_write(p, repo) or can_contribute(p, repo)
    return can_read(p, repo) and gating.may_download(sessions, p, repo, repo.id)
