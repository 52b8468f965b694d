"""Web page benchmark: how long the hub takes to render its pages for a big repo, against the JSON API answers
that carry the same facts (the baseline), same server, same run.

The repo: 1,000 files in 20 folders, 500 commits (each of the last 499 changes two files), and a 2 GiB
``model.safetensors`` (a sparse file locally: its header is real, its data zeros; uploaded through LFS, so the
server stores all 2 GiB). Each page is fetched 20 times after one first (cold) fetch; the server-side time of each
request comes from the server's access log (the time from the request to the last byte of the answer), the
client-side time from a wall clock around the request.

    .venv/bin/python benchmarks/web_pages.py [--files 1000] [--commits 500] [--weights-gib 2] [--rounds 20] [--keep]

(quick check: ``--files 100 --commits 20 --weights-gib 0.01 --rounds 5``). Target: every page under 200 ms
server-side (median).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from download import Server

from modelhub.client.api import HubApi
from modelhub.client.operations import CommitOperationAdd

TARGET_MS = 200.0
LOG_LINE = re.compile(r'"GET (\S+)" (\d+) \d+B ([\d.]+)ms')


def sparse_safetensors(path: Path, total_bytes: int, tensors: int = 200) -> None:
    """A safetensors file of ``total_bytes`` F32 data in ``tensors`` tensors: the header written, the data a hole."""
    per = max(4, total_bytes // tensors // 4 * 4)
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for i in range(tensors):
        rows = per // 4 // 1024 or 1
        shape = [rows, per // 4 // rows]
        size = shape[0] * shape[1] * 4
        header[f"model.layers.{i}.mlp.weight"] = {
            "dtype": "F32",
            "shape": shape,
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as fh:
        fh.write(struct.pack("<Q", len(raw)) + raw)
        fh.truncate(8 + len(raw) + offset)


def build_repo(api: HubApi, repo_id: str, files: int, commits: int, weights: Path) -> None:
    folders = 20
    names = [f"dir{i % folders:02d}/file{i:04d}.txt" for i in range(files)]
    api.create_repo(repo_id)
    t0 = time.perf_counter()
    ops = [CommitOperationAdd(path_in_repo=n, path_or_fileobj=f"{n}\nversion 0\n".encode()) for n in names]
    ops.append(
        CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=b"---\nlicense: mit\n---\n# Big\n")
    )
    api.create_commit(repo_id, ops, commit_message="add files")
    api.upload_file(path_or_fileobj=str(weights), path_in_repo="model.safetensors", repo_id=repo_id,
                    commit_message="add weights")  # fmt: skip
    for c in range(commits - 3):  # create_repo, "add files" and "add weights" are three of them
        changed = [names[(c * 2) % files], names[(c * 2 + 1) % files]]
        api.create_commit(
            repo_id,
            [
                CommitOperationAdd(path_in_repo=n, path_or_fileobj=f"{n}\nversion {c + 1}\n".encode())
                for n in changed
            ],
            commit_message=f"update {changed[0]} and {changed[1]}",
        )
    print(f"built {repo_id}: {files} files, {commits} commits, {weights.stat().st_size / 2**30:.2f} GiB weights"
          f" in {time.perf_counter() - t0:.0f} s")  # fmt: skip


def server_times(server: Server, path: str) -> list[float]:
    """The durations the access log recorded for ``GET path`` (in order)."""
    return [float(m.group(3)) for m in LOG_LINE.finditer(server.log_path.read_text()) if m.group(1) == path]


def measure(server: Server, client: httpx.Client, path: str, rounds: int, **kw: object) -> dict[str, float]:
    before = len(server_times(server, path))
    walls = []
    for _ in range(rounds + 1):
        t0 = time.perf_counter()
        r = client.get(path, **kw)  # type: ignore[arg-type]
        walls.append((time.perf_counter() - t0) * 1000)
        assert r.status_code in (200, 206), (path, r.status_code, r.text[:300])
    deadline = time.time() + 10
    while len(server_times(server, path)) < before + rounds + 1 and time.time() < deadline:
        time.sleep(0.05)  # the access log is written by a background thread
    times = server_times(server, path)[before:]
    return {"cold": times[0], "median": statistics.median(times[1:]), "p90": sorted(times[1:])[int(rounds * 0.9) - 1],
            "client": statistics.median(walls[1:])}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=500)
    ap.add_argument("--weights-gib", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="modelhub-web-bench-"))
    server = Server(root, "--log-level", "info")
    try:
        api = HubApi(endpoint=server.url, token=server.token)
        weights = root / "model.safetensors"
        sparse_safetensors(weights, int(args.weights_gib * 2**30))
        rid = "alice/big"
        build_repo(api, rid, args.files, args.commits, weights)
        weights.unlink()
        # baselines: the JSON answers with the same listing (the tree without ``expand``: the API's per-entry
        # lastCommit, ``expand=true``, walks the history per request and takes seconds on this repo)
        pages = [
            ("repo page", f"/{rid}", f"/api/models/{rid}"),
            ("files page (root)", f"/{rid}/tree/main", f"/api/models/{rid}/tree/main"),
            ("files page (a folder of 50)", f"/{rid}/tree/main/dir07", f"/api/models/{rid}/tree/main/dir07"),
            ("commit list", f"/{rid}/commits/main", f"/api/models/{rid}/commits/main?limit=50"),
            # baseline: what huggingface_hub's get_safetensors_metadata fetches (the header's first 100 kB)
            ("safetensors page (2 GiB)", f"/{rid}/blob/main/model.safetensors", f"/{rid}/resolve/main/model.safetensors"),
        ]  # fmt: skip
        print(
            f"\nserver-side milliseconds (access log), first fetch and median/p90 of {args.rounds}; the baseline is the"
        )
        print("JSON API answer with the same facts; client = median wall time of the page over loopback\n")
        print(
            f"{'page':30} {'first':>8} {'median':>8} {'p90':>8} {'client':>8} {'API med':>8} {'ratio':>6}  target"
        )
        worst = 0.0
        with httpx.Client(
            base_url=server.url, timeout=120, headers={"authorization": f"Bearer {server.token}"}
        ) as c:
            for label, page, baseline in pages:
                got = measure(server, c, page, args.rounds)
                extra = {"headers": {"range": "bytes=0-100000"}} if "/resolve/" in baseline else {}
                base = measure(server, c, baseline, args.rounds, **extra)["median"]
                worst = max(worst, got["median"])
                ok = "ok" if got["median"] < TARGET_MS else "MISSED"
                print(f"{label:30} {got['cold']:8.1f} {got['median']:8.1f} {got['p90']:8.1f} {got['client']:8.1f}"
                      f" {base:8.1f} {got['median'] / max(base, 0.01):6.2f}  <{TARGET_MS:.0f} {ok}")  # fmt: skip
        print(f"\nslowest page median: {worst:.1f} ms (target < {TARGET_MS:.0f} ms)")
        return 0 if worst < TARGET_MS else 1
    finally:
        server.stop()
        if args.keep:
            print(f"data kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
