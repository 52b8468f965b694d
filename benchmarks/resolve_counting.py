"""What download counting costs on the hottest route: p50/p99 of ``HEAD /{repo}/resolve/main/config.json`` (a
file that counts as a download) and of a file that does not count, on this tree's server and on a baseline
server built from another source tree, in the same run, one request after the other.

    git archive 0cf9d4d src | tar -x -C /tmp/base   # the tree before counting existed
    .venv/bin/python benchmarks/resolve_counting.py --baseline-src /tmp/base/src [--requests 2000]

Both servers run at once and the requests alternate between them, so that both see the same machine load.
Prints, per file, p50 / p99 in ms of each and the ratio ours / baseline.
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


def seed(server: HubServer) -> httpx.Client:
    c = httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {server.alice_token}"})
    create_repo(c, "alice/bench")
    lines = [file_line("config.json", b"{}"), file_line("weights.txt", b"w" * 100)]
    commit(c, "alice/bench", lines).raise_for_status()
    return c


def interleaved(clients: dict[str, httpx.Client], path: str, n: int) -> dict[str, tuple[float, float]]:
    """``n`` HEADs per server, alternating between them request by request (the same machine load for both)."""
    url = f"/alice/bench/resolve/main/{path}"
    samples: dict[str, list[float]] = {label: [] for label in clients}
    for i in range(n + 100):
        for label, c in clients.items():
            t0 = time.perf_counter()
            c.head(url).raise_for_status()
            if i >= 100:  # the first 100: warm-up
                samples[label].append((time.perf_counter() - t0) * 1000)
    out = {}
    for label, values in samples.items():
        values.sort()
        out[label] = (statistics.median(values), values[int(len(values) * 0.99) - 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-src", type=Path, required=True, help="src/ of the baseline tree")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        servers = {
            "baseline": start(args.baseline_src, Path(tmp) / "base"),
            "ours": start(ROOT / "src", Path(tmp) / "ours"),
        }
        try:
            clients = {label: seed(s) for label, s in servers.items()}
            for path in ("config.json", "weights.txt"):
                r = interleaved(clients, path, args.requests)
                (b50, b99), (o50, o99) = r["baseline"], r["ours"]
                print(
                    f"HEAD {path:12s} baseline p50 {b50:.2f} p99 {b99:.2f} ms | ours p50 {o50:.2f} p99 {o99:.2f} ms"
                    f" | ratio p50 {o50 / b50:.2f} p99 {o99 / b99:.2f}"
                )
            downloads = clients["ours"].get("/api/models/alice/bench").json()["downloads"]
            print(f"downloads counted by ours: {downloads} (HEADs of config.json: {args.requests + 100})")
        finally:
            for s in servers.values():
                s.stop()


if __name__ == "__main__":
    main()
