"""The official client's default (Xet) path through modelhub's server, against its LFS path in the same run.

One big random file (default 2 GiB) over loopback, each client step in a fresh process of its own (so its peak
RSS is its own), the server's RSS sampled every 20 ms throughout:

1. upload through LFS (``HF_HUB_DISABLE_XET=1``: preupload ``lfs`` -> LFS batch -> PUT), the baseline, and
2. upload through Xet (the default install: hf_xet), a fresh client cache: ``--rounds`` pairs (default 3), each
   of a new random file, in alternating order, the ratio their median. One pair is not enough on this VM:
   the kernel hands freed memory back to the host at once (free page reporting), so a page-cache write costs
   0.3-2.5 ms per MiB depending on what memory happens to be free, and one upload's server CPU varies by 2x;
3. the same file with 1 MB changed in the middle, uploaded again through Xet (same client cache);
4. download through Xet (``hf_hub_download``, fresh cache) against the same call with ``HF_HUB_DISABLE_XET=1``
   (plain ``/resolve``) of the LFS-stored copy (the server's fastest path: the baseline), ``--rounds`` pairs in
   alternating order, the ratio their median (hf_xet buffers 1-2 GB, and fresh memory is what costs here); plus
   the Xet-stored copy without Xet (reconstructed on the server as it streams) and curl of both (no client
   start-up cost).

Prints MB/s, the CPU seconds of client and server per upload, and the issue's ratios: Xet upload >= 0.9x LFS, client peak RSS < 1 GB, re-upload < 2% of the bytes
and < 15% of the first upload's time, Xet download >= 0.8x plain resolve, server RSS < 500 MB. Bytes sent are the
bytes the server's CAS routes received (access log).

Run from the repository root with the venv ``scripts/test.sh`` builds:

    .venv/bin/python benchmarks/xet.py [--size-mb 2048] [--rounds 3] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

# (importing it sets HF_HUB_DISABLE_XET in this process only: every client here runs in a process of its own,
# with the environment client() builds)
from server_transfer import RssSampler as BaseSampler  # noqa: E402

UPLOAD = textwrap.dedent(
    """
    import sys
    from huggingface_hub import HfApi
    url, token, repo, path = sys.argv[1:5]
    HfApi(endpoint=url, token=token).upload_file(path_or_fileobj=path, path_in_repo="big.bin", repo_id=repo)
    """
)
DOWNLOAD = textwrap.dedent(
    """
    import sys
    from huggingface_hub import hf_hub_download
    url, token, repo, cache = sys.argv[1:5]
    print(hf_hub_download(repo, "big.bin", endpoint=url, token=token, cache_dir=cache))
    """
)


class RssSampler(BaseSampler):
    """Peak RSS of a process and its children (hf_xet works in-process, but be safe), every 20 ms."""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                total = self.proc.memory_info().rss
                total += sum(c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, total)
            except Exception:
                return
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:  # no CPU time: the client process is gone by then
        self._stop.set()
        self._thread.join()


def cpu_seconds(proc: object) -> float:
    """User + system CPU seconds of a psutil process so far."""
    t = proc.cpu_times()  # type: ignore[attr-defined]
    return float(t.user + t.system)


def children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (the clients) so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def client(script: str, args: list[str], home: Path, disable_xet: bool) -> tuple[float, int, str]:
    """Run the official client in a fresh process: (seconds, peak RSS bytes, stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env.update(HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    if disable_xet:
        env["HF_HUB_DISABLE_XET"] = "1"
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with RssSampler(proc.pid) as rss:
        out, err = proc.communicate()
    elapsed = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"client failed:\n{err[-3000:]}")
    return elapsed, rss.peak, out.strip()


def cas_bytes(log: str) -> int:
    import re

    return sum(int(m[1]) for m in re.finditer(r'"POST /cas/[^"]*" \d{3} \d+B [0-9.]+ms in=(\d+)B', log))


def plain_get(url: str, token: str, dest: Path) -> float:
    """A plain HTTP download (curl when installed, else httpx), as curl-style clients and HF_HUB_DISABLE_XET do."""
    t = time.perf_counter()
    if shutil.which("curl"):
        subprocess.run(
            ["curl", "-sf", "-o", str(dest), "-H", f"authorization: Bearer {token}", url], check=True
        )
    else:
        import httpx

        with (
            httpx.stream("GET", url, headers={"authorization": f"Bearer {token}"}, timeout=600) as r,
            open(dest, "wb") as fh,
        ):
            for block in r.iter_bytes(1 << 20):
                fh.write(block)
    return time.perf_counter() - t


def sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(16 << 20):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=3, help="LFS + Xet upload pairs, in alternating order")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    from tests._hub import HubServer
    from tests.server._xet import write_random

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mh-xet-", dir=os.environ.get("TMPDIR", "/tmp")))
    work.mkdir(parents=True, exist_ok=True)
    size = args.size_mb * 2**20
    src = work / "big.bin"
    server = HubServer(work / "server-data").start()
    # per round: kind -> (seconds, client peak RSS, CPU seconds of client and server)
    pairs: list[dict[str, tuple[float, int, float, float]]] = []
    try:
        server.create_user("bench")
        token = server.create_token("bench")
        import httpx

        def create(name: str) -> None:
            httpx.post(
                f"{server.url}/api/repos/create",
                json={"name": name},
                headers={"authorization": f"Bearer {token}"},
            ).raise_for_status()

        assert server.proc is not None
        with RssSampler(server.proc.pid) as server_rss:

            def upload(
                repo: str, home: str, disable_xet: bool, path: Path
            ) -> tuple[float, int, float, float]:
                os.sync()
                c0, s0 = children_cpu(), cpu_seconds(server_rss.proc)
                t, rss, _ = client(UPLOAD, [server.url, token, repo, str(path)], work / home, disable_xet)
                return t, rss, children_cpu() - c0, cpu_seconds(server_rss.proc) - s0

            for r in range(args.rounds):
                # new content for each upload: a xorb stored already is not received again, and a SHA-256
                # stored either way is not uploaded again through LFS
                print(f"round {r + 1}: two {size / 2**20:.0f} MiB random files...", flush=True)
                files = {"lfs": work / "lfs.bin", "xet": src}
                write_random(files["lfs"], size, seed=2 * r + 1)
                write_random(files["xet"], size, seed=2 * r + 2)
                pair = {}
                for kind in ("lfs", "xet") if r % 2 == 0 else ("xet", "lfs"):
                    create(f"{kind}{r}")
                    pair[kind] = upload(f"bench/{kind}{r}", f"h-{kind}{r}", kind == "lfs", files[kind])
                pairs.append(pair)
            last = args.rounds - 1
            xet_repo, lfs_repo = f"bench/xet{last}", f"bench/lfs{last}"

            with open(src, "r+b") as fh:  # 1 MB changed in the middle
                fh.seek(size // 2)
                fh.write(os.urandom(10**6))
            before = len(server.log())
            t_re, rss_re, c_re, s_re = upload(xet_repo, f"h-xet{last}", False, src)
            sent_re = cas_bytes(server.log()[before:])
            want = sha256(src)

            downloads: list[tuple[float, float]] = []  # per round: (Xet, no Xet of the LFS copy) seconds
            rss_dx = 0
            ok_xet = True
            for r in range(args.rounds):
                pair = {}
                for kind in ("xet", "lfs") if r % 2 == 0 else ("lfs", "xet"):
                    repo = xet_repo if kind == "xet" else lfs_repo
                    cache = work / f"c-{kind}{r}"
                    t, rss, path = client(
                        DOWNLOAD, [server.url, token, repo, str(cache)], cache, kind == "lfs"
                    )
                    if kind == "xet":
                        ok_xet = ok_xet and sha256(Path(path)) == want
                        rss_dx = max(rss_dx, rss)
                    pair[kind] = t
                    shutil.rmtree(cache)
                downloads.append((pair["xet"], pair["lfs"]))
            t_plain_lfs = plain_get(f"{server.url}/{lfs_repo}/resolve/main/big.bin", token, work / "p1.bin")
            (work / "p1.bin").unlink()
            t_plain_xet = plain_get(f"{server.url}/{xet_repo}/resolve/main/big.bin", token, work / "p2.bin")
            ok_plain = sha256(work / "p2.bin") == want
            (work / "p2.bin").unlink()
            t_dh, _, path = client(
                DOWNLOAD, [server.url, token, xet_repo, str(work / "c2")], work / "h-d2", True
            )
            shutil.rmtree(work / "c2")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    mib = size / 2**20
    mbs = size / 1e6
    print(f"\nfile {mib:.0f} MiB; downloads byte-identical (SHA-256): Xet {ok_xet}, plain resolve {ok_plain}")
    print("machine: shared (2 cores, other jobs running): figures vary run to run\n")
    for r, pair in enumerate(pairs):
        for kind, label in (
            ("lfs", "upload LFS (HF_HUB_DISABLE_XET=1)"),
            ("xet", "upload Xet (default install)"),
        ):
            t, rss, c, sv = pair[kind]
            print(
                f"round {r + 1} {label:38s} {t:7.2f} s  {mbs / t:7.1f} MB/s, client RSS {rss / 1e6:4.0f} MB,"
                f" CPU s client {c:5.2f} / server {sv:5.2f}"
            )
    rows = [
        (
            "re-upload Xet, 1 MB changed",
            t_re,
            f"CAS received {sent_re / 1e6:.2f} MB, client RSS {rss_re / 1e6:.0f} MB,"
            f" CPU s client {c_re:.2f} / server {s_re:.2f}",
        ),
        ("download plain resolve, LFS copy (curl)", t_plain_lfs, f"{mbs / t_plain_lfs:7.1f} MB/s"),
        (
            "download plain resolve, Xet copy (curl)",
            t_plain_xet,
            f"{mbs / t_plain_xet:7.1f} MB/s (reconstructed)",
        ),
        ("download no Xet (HF_HUB_DISABLE_XET=1), Xet copy", t_dh, f"{mbs / t_dh:7.1f} MB/s (reconstructed)"),
    ]
    print()
    for name, t, extra in rows:
        print(f"{name:48s} {t:7.2f} s  {extra}")
    for r, (t_dx, t_dl) in enumerate(downloads):
        print(
            f"round {r + 1} download Xet (hf_hub_download) {t_dx:7.2f} s {mbs / t_dx:7.1f} MB/s;"
            f" HF_HUB_DISABLE_XET=1 (plain resolve of the LFS copy) {t_dl:7.2f} s {mbs / t_dl:7.1f} MB/s"
        )
    down = statistics.median([t_dl / t_dx for t_dx, t_dl in downloads])
    t_xet_best = min(t_dx for t_dx, _ in downloads)
    ratios = [p["lfs"][0] / p["xet"][0] for p in pairs]
    print(f"Xet / no-Xet download per round: {', '.join(f'{dl / dx:.3f}' for dx, dl in downloads)}")
    print(f"\nXet / LFS upload throughput per round: {', '.join(f'{x:.3f}' for x in ratios)}")
    up = statistics.median(ratios)
    rss_xet = max(p["xet"][1] for p in pairs)
    t_xet = pairs[-1]["xet"][0]  # the first upload of the file re-uploaded
    checks = [
        ("Xet / LFS upload throughput (median)", up, ">= 0.90", up >= 0.9),
        ("client peak RSS, Xet upload (GB)", rss_xet / 1e9, "< 1.0", rss_xet < 1e9),
        ("re-upload bytes / file size", sent_re / size, "< 0.02", sent_re / size < 0.02),
        ("re-upload time / first upload time", t_re / t_xet, "< 0.15", t_re / t_xet < 0.15),
        # the same client (hf_hub_download in a fresh process) with and without Xet, against the fastest copy
        ("Xet download / plain resolve download (median)", down, ">= 0.80", down >= 0.8),
        ("fastest Xet download / curl of the plain resolve", t_plain_lfs / t_xet_best, "(info)", True),
        ("client peak RSS, Xet download (GB)", rss_dx / 1e9, "(info)", True),
        ("server peak RSS (MB)", server_rss.peak / 1e6, "< 500", server_rss.peak < 500e6),
    ]
    print()
    for name, value, target, passed in checks:
        print(f"{name:48s} {value:8.3f}  target {target:8s} {'ok' if passed else 'MISSED'}")
    return 0 if ok_xet and ok_plain else 1


if __name__ == "__main__":
    raise SystemExit(main())
