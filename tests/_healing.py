"""Damage a cached file the three ways a cache breaks (truncated, a flipped bit, the blob deleted), and check that
a load heals it online with one warning and names it offline (the self-healing cache of docs/client.md)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelhub.errors import CorruptedFileError

DAMAGES = ("truncate", "bitflip", "delete")


def blob_of(cache: Path, repo_id: str, filename: str, repo_type: str = "model") -> Path:
    """The blob behind ``filename`` in the (only) snapshot of ``repo_id`` in ``cache``."""
    folder = cache / "--".join([f"{repo_type}s", *repo_id.split("/")])
    (pointer,) = folder.glob(f"snapshots/*/{filename}")
    return pointer.resolve()


def damage(blob: Path, how: str) -> None:
    if how == "truncate":
        os.truncate(blob, blob.stat().st_size // 2)
    elif how == "bitflip":  # same size, mtime put back: only the content (and the ctime) changes
        st = blob.stat()
        with open(blob, "r+b") as f:
            f.seek(st.st_size // 2)
            byte = f.read(1)
            f.seek(st.st_size // 2)
            f.write(bytes([byte[0] ^ 0x01]))
        os.utime(blob, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif how == "delete":
        blob.unlink()
    else:
        raise ValueError(how)


def damage_warnings(caplog: pytest.LogCaptureFixture, filename: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and "damaged" in r.getMessage() and filename in r.getMessage()
    ]


def check_heals(
    load: Callable[[], Any],
    check: Callable[[Any], None],
    repo_id: str,
    filename: str,
    how: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a first ``load`` (the caller's, into ``HF_HUB_CACHE``): damage ``filename``'s blob, load online:
    healed (``check`` passes), one warning; damage it again, load offline: CorruptedFileError naming the file;
    online again: healed. Each load starts with no remembered revision, as a new process would."""
    from modelhub.client.download import forget_resolved_revisions as reset

    def blob() -> Path:
        return blob_of(Path(os.environ["HF_HUB_CACHE"]), repo_id, filename)

    damage(blob(), how)
    reset()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="modelhub"):
        check(load())
    assert len(damage_warnings(caplog, filename)) == 1, caplog.text

    damage(blob(), how)
    reset()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CorruptedFileError, match=filename) as info:
        load()
    assert "online" in str(info.value)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    reset()
    check(load())
