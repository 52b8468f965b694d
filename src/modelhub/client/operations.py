"""Commit operations: add a file, delete a file or folder, copy a file inside a repo.

An addition's content is read in chunks: hashing (sha256, and the git blob sha1 the hub uses for small files)
streams over the file once, the upload streams it again; a whole file is never held in memory unless the caller
gave ``bytes``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from .._common.validation import validate_path_in_repo, validate_revision

CHUNK = 4 * 1024 * 1024
SAMPLE_SIZE = 512
# Files up to this size get their git sha1 computed together with the sha256 (one pass): the hub reports the
# current content of "regular" files by git sha1, and comparing it skips re-uploading unchanged files.
GIT_SHA1_EAGER_LIMIT = 1024 * 1024


@dataclass
class UploadInfo:
    size: int
    sha256: str
    sample: bytes
    git_sha1: str | None = None


def git_blob_sha1(size: int) -> hashlib._Hash:
    """A sha1 primed with the git blob header; feed it the content to get the git blob id."""
    h = hashlib.sha1()
    h.update(f"blob {size}\0".encode())
    return h


@dataclass
class CommitOperationAdd:
    """Upload ``path_or_fileobj`` (a local path, ``bytes`` or a binary file object) to ``path_in_repo``."""

    path_in_repo: str
    path_or_fileobj: str | os.PathLike[str] | bytes | BinaryIO
    upload_info: UploadInfo = field(init=False, repr=False)
    # set by the preupload step
    _upload_mode: Literal["lfs", "regular"] | None = field(default=None, init=False, repr=False)
    _should_ignore: bool = field(default=False, init=False, repr=False)
    _remote_oid: str | None = field(default=None, init=False, repr=False)
    _is_uploaded: bool = field(default=False, init=False, repr=False)
    _start: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path_in_repo = validate_path_in_repo(self.path_in_repo)
        source = self.path_or_fileobj
        if isinstance(source, (str, os.PathLike)):
            path = Path(source).expanduser()
            if not path.is_file():
                raise FileNotFoundError(
                    f"Cannot upload {str(source)!r} to {self.path_in_repo!r}: no such file"
                    f"{' (it is a directory: use upload_folder)' if path.is_dir() else ''}."
                )
            self.path_or_fileobj = str(path)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self.path_or_fileobj = bytes(source)
        elif isinstance(source, io.IOBase) or hasattr(source, "read"):
            try:
                self._start = source.tell()
            except (OSError, AttributeError) as exc:
                raise ValueError(
                    f"The file object for {self.path_in_repo!r} must be seekable (it is read twice: hash, upload)."
                ) from exc
        else:
            raise TypeError(
                f"path_or_fileobj for {self.path_in_repo!r} must be a path, bytes or a binary file object, "
                f"not {type(source).__name__}."
            )
        self.upload_info = self._compute_info()

    @contextlib.contextmanager
    def as_file(self, offset: int = 0) -> Iterator[BinaryIO]:
        """The content as a binary file positioned at ``offset`` (relative to the start of the content)."""
        source = self.path_or_fileobj
        if isinstance(source, (str, os.PathLike)):  # __post_init__ made every path a str
            with open(source, "rb") as fh:
                fh.seek(offset)
                yield fh
        elif isinstance(source, bytes):
            buf = io.BytesIO(source)
            buf.seek(offset)
            yield buf
        else:
            source.seek(self._start + offset)
            yield source

    def iter_chunks(
        self,
        offset: int = 0,
        length: int | None = None,
        chunk_size: int = CHUNK,
        *,
        reuse_buffer: bool = False,
    ) -> Iterator[bytes | memoryview]:
        """Stream ``length`` bytes (default: to the end) from ``offset``, ``chunk_size`` at a time.

        With ``reuse_buffer`` every chunk is a view of one buffer, valid only until the next chunk is asked for
        (an upload sends each chunk before asking for the next): no allocation per chunk.
        """
        remaining = self.upload_info.size - offset if length is None else length
        buf = bytearray(min(chunk_size, max(remaining, 1))) if reuse_buffer else None
        with self.as_file(offset) as fh:
            readinto = getattr(fh, "readinto", None) if buf is not None else None
            while remaining > 0:
                if readinto is not None and buf is not None:
                    want = min(len(buf), remaining)
                    got = readinto(memoryview(buf)[:want])
                    data: bytes | memoryview = memoryview(buf)[:got] if got else b""
                else:
                    data = fh.read(min(chunk_size, remaining))
                if not data:
                    raise OSError(
                        f"{self.path_in_repo!r}: the source ended early (was the file changed during the upload?)."
                    )
                remaining -= len(data)
                yield data

    def _compute_info(self) -> UploadInfo:
        sha = hashlib.sha256()
        sample = b""
        size = 0
        with self.as_file() as fh:
            # size first, so the git sha1 header can be primed in the same pass
            if isinstance(self.path_or_fileobj, str):
                total = os.fstat(fh.fileno()).st_size
            elif isinstance(self.path_or_fileobj, bytes):
                total = len(self.path_or_fileobj)
            else:
                fh.seek(0, os.SEEK_END)
                total = fh.tell() - self._start
                fh.seek(self._start)
            sha1 = git_blob_sha1(total) if total <= GIT_SHA1_EAGER_LIMIT else None
            buf = bytearray(CHUNK)
            readinto = getattr(fh, "readinto", None)
            while True:
                if readinto is not None:  # one reused buffer: no allocation (and page faults) per chunk
                    got = readinto(buf)
                    data = memoryview(buf)[:got] if got else b""
                else:
                    data = fh.read(CHUNK)
                if not data:
                    break
                if len(sample) < SAMPLE_SIZE:
                    sample += bytes(data[: SAMPLE_SIZE - len(sample)])
                sha.update(data)
                if sha1 is not None:
                    sha1.update(data)
                size += len(data)
        if size != total:
            raise OSError(f"{self.path_in_repo!r}: size changed while reading ({total} then {size} bytes).")
        return UploadInfo(
            size=size, sha256=sha.hexdigest(), sample=sample, git_sha1=sha1.hexdigest() if sha1 else None
        )

    def git_sha1(self) -> str:
        """The git blob id of the content (computed on demand for large files)."""
        if self.upload_info.git_sha1 is None:
            h = git_blob_sha1(self.upload_info.size)
            for chunk in self.iter_chunks():
                h.update(chunk)
            self.upload_info.git_sha1 = h.hexdigest()
        return self.upload_info.git_sha1

    def b64_sample(self) -> str:
        return base64.b64encode(self.upload_info.sample).decode()

    def is_noop(self) -> bool:
        """True when the hub already has exactly this content at this path (from the preupload answer)."""
        if self._remote_oid is None:
            return False
        if self._upload_mode == "lfs":
            return self._remote_oid == self.upload_info.sha256
        return self._remote_oid == self.git_sha1()


@dataclass
class CommitOperationDelete:
    """Delete a file, or a folder (``is_folder=True``, or "auto": a path ending in ``/``)."""

    path_in_repo: str
    is_folder: bool | Literal["auto"] = "auto"

    def __post_init__(self) -> None:
        if self.is_folder == "auto":
            self.is_folder = self.path_in_repo.endswith("/")
        if not isinstance(self.is_folder, bool):
            raise ValueError(f"is_folder must be True, False or 'auto', not {self.is_folder!r}.")
        self.path_in_repo = validate_path_in_repo(self.path_in_repo.rstrip("/") or self.path_in_repo)


@dataclass
class CommitOperationCopy:
    """Copy ``src_path_in_repo`` (at ``src_revision``, default the commit's revision) to ``path_in_repo``."""

    src_path_in_repo: str
    path_in_repo: str
    src_revision: str | None = None

    def __post_init__(self) -> None:
        self.src_path_in_repo = validate_path_in_repo(self.src_path_in_repo)
        self.path_in_repo = validate_path_in_repo(self.path_in_repo)
        if self.src_revision is not None:
            validate_revision(self.src_revision)


CommitOperation = CommitOperationAdd | CommitOperationDelete | CommitOperationCopy
