"""Warm-cache lookups: the cost of serving a cached file, modelhub's hub_download against the official
hf_hub_download, same cache, same run (offline, so only the local checks are timed).

    .venv/bin/python benchmarks/cache_lookup.py [--size-mb 256] [--calls 2000]

modelhub checks every file it serves (size, and the content hash once per blob stat signature; see
docs/client.md, "Self-healing"); this measures what that costs per call once the blob is verified, and what the
one-time hash of a blob written by another client costs. Prints microseconds per call and the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path


def _make_cache(cache: Path, repo_id: str, size: int) -> None:
    """A cached repo as any client leaves it: a blob named by its sha256, a snapshot symlink, refs/main."""
    data = os.urandom(size)
    folder = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    (folder / "blobs").mkdir(parents=True)
    (folder / "snapshots" / commit).mkdir(parents=True)
    (folder / "refs").mkdir()
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.write_bytes(data)
    os.symlink(os.path.relpath(blob, folder / "snapshots" / commit), folder / "snapshots" / commit / "w.bin")
    (folder / "refs" / "main").write_text(commit)


def _per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelhub-lookup-") as tmp:
        os.environ.update(HF_HUB_CACHE=tmp, HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
        _make_cache(Path(tmp), "bench/model", args.size_mb * 2**20)
        import huggingface_hub

        from modelhub.client import hub_download

        start = time.perf_counter()
        hub_download("bench/model", "w.bin")  # first read: hashes the blob once, records its signature
        first = time.perf_counter() - start
        ours = _per_call(lambda: hub_download("bench/model", "w.bin"), args.calls)
        theirs = _per_call(lambda: huggingface_hub.hf_hub_download("bench/model", "w.bin"), args.calls)
    print(
        f"first read by modelhub of a {args.size_mb} MiB blob another client wrote (hashed once): {first:.3f} s"
    )
    print(
        f"warm lookup, us per call: ours {ours:.0f}, official {theirs:.0f}, ratio {theirs / ours:.2f}x (official / ours)"
    )


if __name__ == "__main__":
    main()
