"""Atomic writes of small files (refs, tree listings, metadata, tokens): a temp file beside the target, renamed.

A reader never sees a half-written file. The temp file is created with ``os.open(..., mode)`` so the process umask
applies as for any other file: cache files stay readable by the group / other users of a shared cache (a
``mkstemp`` file would be 0600), while token files pass ``mode=0o600``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def _temp_beside(path: Path, mode: int) -> tuple[int, Path]:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), tmp


def atomic_write_text(path: Path, text: str, *, mode: int = 0o666) -> None:
    """Replace ``path`` with ``text`` (UTF-8) in one rename; ``mode`` is filtered by the umask."""
    fd, tmp = _temp_beside(path, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_copy(src: Path, dst: Path) -> None:
    """Replace ``dst`` with a copy of ``src`` in one rename (snapshots on filesystems without symlinks)."""
    fd, tmp = _temp_beside(dst, 0o666)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
