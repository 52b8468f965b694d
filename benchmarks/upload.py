"""Upload benchmark: modelhub's ``upload_folder`` against the official huggingface_hub's, same server, same run.

1. ``upload_folder`` of N files of S MB (default 4 x 500 MB, random bytes) into a fresh repo, each client in its
   own process, alternating rounds; every round uses new content (the first bytes of each file are re-randomised)
   so no client benefits from objects already on the hub. The official client runs with ``HF_HUB_DISABLE_XET=1``
   (LFS batch path; our server has no Xet) and the server with ``--upload-mode lfs`` so both send raw LFS bytes.
2. Re-push of the unchanged folder by each client: bytes sent to the server (counted by a loopback proxy) must be
   about 0 (only the small preupload/batch requests), and no new commit may appear.

Run from the repository root with the venv ``scripts/test.sh`` builds (``.venv/`` beside the checkout; the
official client comes from the ``dev`` extra):

    .venv/bin/python benchmarks/upload.py [--files 4] [--size-mb 500] [--rounds 2] [--keep]

(quick check that it works: ``--files 1 --size-mb 1 --rounds 1``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from download import CountingProxy, Server, client_env, fmt_rate, make_files, run_py, settle

OURS = """
from modelhub import HubApi
api = HubApi(); api.create_repo({rid!r}, exist_ok=True)
t = time.perf_counter(); info = api.upload_folder(repo_id={rid!r}, folder_path={folder!r})
result = {{"s": time.perf_counter() - t, "oid": info.oid}}
"""
OFFICIAL = """
from huggingface_hub import HfApi
api = HfApi(); api.create_repo({rid!r}, exist_ok=True)
t = time.perf_counter(); info = api.upload_folder(repo_id={rid!r}, folder_path={folder!r})
result = {{"s": time.perf_counter() - t, "oid": info.oid}}
"""


def refresh(paths: list[Path]) -> None:
    """New content for each file (new sha256) without rewriting it all."""
    for p in paths:
        with open(p, "r+b") as fh:
            fh.write(os.urandom(4096))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="modelhub-bench-up-"))
    server = Server(root, "--upload-mode", "lfs")
    proxy = CountingProxy(server.port)
    try:
        folder = root / "src"
        shards = make_files(folder, args.files, args.size_mb)
        total = sum(p.stat().st_size for p in folder.iterdir())
        print(f"folder: {args.files} x {args.size_mb} MB (+ config, index), server {server.url}, tmp {root}")
        times: dict[str, list[float]] = {"official": [], "ours": []}
        cpu: dict[str, list[float]] = {"official": [], "ours": []}
        last_repo = {}
        for r in range(args.rounds):
            order = [("official", OFFICIAL, {"HF_HUB_DISABLE_XET": "1"}), ("ours", OURS, {})]
            for name, code, extra in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
                refresh(shards)
                settle()
                rid = f"alice/bench-up-{name}-{r}"
                env = client_env(server.url, server.token, root / f"home-{name}", **extra)
                res = run_py(code.format(rid=rid, folder=str(folder)), env)
                times[name].append(res["s"])
                last_repo[name] = (rid, res["oid"], extra)
                cpu[name].append(res["cpu"])
                print(
                    f"  round {r + 1} {name:<8} upload_folder {res['s']:7.2f} s  {fmt_rate(total, res['s'])}"
                    f"  client CPU {res['cpu']:5.2f} s"
                )
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"upload: official best {best['official']:.2f} s / median {med['official']:.2f} s; ours best "
            f"{best['ours']:.2f} s / median {med['ours']:.2f} s; speed ratio ours/official (best) = "
            f"{best['official'] / best['ours']:.2f}x, (median) = {med['official'] / med['ours']:.2f}x"
        )
        print(
            f"client CPU per upload (median): official {statistics.median(cpu['official']):.2f} s, "
            f"ours {statistics.median(cpu['ours']):.2f} s"
        )
        # re-push of an unchanged folder: first make each client's repo hold the folder as it is now, then push
        # it again through the counting proxy
        for name, code in (("official", OFFICIAL), ("ours", OURS)):
            rid, _, extra = last_repo[name]
            home = root / f"home-{name}"
            oid = run_py(
                code.format(rid=rid, folder=str(folder)), client_env(server.url, server.token, home, **extra)
            )["oid"]
            proxy.reset()
            res = run_py(
                code.format(rid=rid, folder=str(folder)), client_env(proxy.url, server.token, home, **extra)
            )
            kinds = sorted(
                {
                    " ".join(r.split()[:1] + [r.split()[1].split("?")[0].rsplit("/", 1)[-1]])
                    for r in proxy.requests
                }
            )
            print(
                f"re-push unchanged, {name:<8}: {proxy.bytes_up:8d} bytes sent in {len(proxy.requests)} requests "
                f"({', '.join(kinds)}), {res['s'] * 1000:.0f} ms, same commit: {res['oid'] == oid}"
            )
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
