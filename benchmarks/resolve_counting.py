"""What download counting costs on the hottest route: p50/p99 of ``HEAD /{repo}/resolve/main/config.json`` (a
file that counts as a download) and of a file that does not count, on this tree's server and on a baseline
server built from another source tree, in the same run, one request after the other.

    git archive 0cf9d4d src | tar -x -C /tmp/base   # the tree before counting existed
    .venv/bin/python benchmarks/resolve_counting.py --baseline-src /tmp/base/src [--requests 2000]

Prints, per server and file, p50 / p99 in ms and the ratio ours / baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._hub import HubServer  # noqa: E402
from tests.server._lfs import commit, create_repo, file_line  # noqa: E402


def start(src: Path, data: Path) -> HubServer:
    os.environ["PYTHONPATH"] = str(src)  # the server subprocess imports modelhub from there
    server = HubServer(data).start()
    server.create_user("alice")
    server.alice_token = server.create_token("alice", "write")
    return server


def timings(server: HubServer, n: int) -> dict[str, tuple[float, float]]:
    out = {}
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {server.alice_token}"}) as c:
        create_repo(c, "alice/bench")
        commit(
            c, "alice/bench", [file_line("config.json", b"{}"), file_line("weights.txt", b"w" * 100)]
        ).raise_for_status()
        for path in ("config.json", "weights.txt"):
            url = f"/alice/bench/resolve/main/{path}"
            for _ in range(100):  # warm up
                c.head(url)
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                c.head(url).raise_for_status()
                samples.append((time.perf_counter() - t0) * 1000)
            samples.sort()
            out[path] = (statistics.median(samples), samples[int(len(samples) * 0.99) - 1])
        info = c.get("/api/models/alice/bench").json()
    print(f"  downloads reported: {info.get('downloads')}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True, help="src/ of the baseline tree")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    results = {}
    for label, src in (("baseline", args.baseline_src), ("ours", ROOT / "src")):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{label}: {src}")
            server = start(src, Path(tmp) / "data")
            try:
                results[label] = timings(server, args.requests)
            finally:
                server.stop()
    for path in ("config.json", "weights.txt"):
        (b50, b99), (o50, o99) = results["baseline"][path], results["ours"][path]
        print(
            f"HEAD {path:12s} baseline p50 {b50:.2f} p99 {b99:.2f} ms | ours p50 {o50:.2f} p99 {o99:.2f} ms"
            f" | ratio p50 {o50 / b50:.2f} p99 {o99 / b99:.2f}"
        )


if __name__ == "__main__":
    main()
