"""The official client's default (Xet) path through modelhub's server, against its LFS path in the same run.

One big random file (default 2 GiB) over loopback, each client step in a fresh process of its own (so its peak
RSS is its own), the server's RSS sampled every 20 ms throughout:

1. upload through LFS (``HF_HUB_DISABLE_XET=1``: preupload ``lfs`` -> LFS batch -> PUT), the baseline;
2. upload through Xet (the default install: hf_xet), a fresh client cache;
3. the same file with 1 MB changed in the middle, uploaded again through Xet (same client cache);
4. download through Xet (``hf_hub_download``, fresh cache) against the same call with ``HF_HUB_DISABLE_XET=1``
   (plain ``/resolve``) of the LFS-stored copy (the server's fastest path: the baseline), plus the Xet-stored copy
   without Xet (reconstructed on the server as it streams) and curl of both (no client start-up cost).

Prints MB/s, the CPU seconds of client and server per upload, and the issue's ratios: Xet upload >= 0.9x LFS, client peak RSS < 1 GB, re-upload < 2% of the bytes
and < 15% of the first upload's time, Xet download >= 0.8x plain resolve, server RSS < 500 MB. Bytes sent are the
bytes the server's CAS routes received (access log).

Run from the repository root with the venv ``scripts/test.sh`` builds:

    .venv/bin/python benchmarks/xet.py [--size-mb 2048] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    from tests._hub import HubServer
    from tests.server._xet import write_random

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mh-xet-", dir=os.environ.get("TMPDIR", "/tmp")))
    work.mkdir(parents=True, exist_ok=True)
    size = args.size_mb * 2**20
    src = work / "big.bin"
    print(f"workdir {work}; creating a {size / 2**20:.0f} MiB random file...", flush=True)
    write_random(src, size, seed=1)
    server = HubServer(work / "server-data").start()
    rows: list[tuple[str, float, str]] = []
    try:
        server.create_user("bench")
        token = server.create_token("bench")
        for name in ("lfs", "xet"):
            import httpx

            httpx.post(
                f"{server.url}/api/repos/create",
                json={"name": name},
                headers={"authorization": f"Bearer {token}"},
            ).raise_for_status()
        assert server.proc is not None
        with RssSampler(server.proc.pid) as server_rss:
            os.sync()
            cpu: list[tuple[float, float]] = []  # (client, server) CPU seconds per upload

            def upload(repo: str, home: str, disable_xet: bool) -> tuple[float, int, str]:
                c0, s0 = children_cpu(), cpu_seconds(server_rss.proc)
                out = client(UPLOAD, [server.url, token, repo, str(src)], work / home, disable_xet)
                cpu.append((children_cpu() - c0, cpu_seconds(server_rss.proc) - s0))
                return out

            t_lfs, rss_lfs, _ = upload("bench/lfs", "h-lfs", True)
            before = len(server.log())
            t_xet, rss_xet, _ = upload("bench/xet", "h-xet", False)
            sent_first = cas_bytes(server.log()[before:])

            with open(src, "r+b") as fh:  # 1 MB changed in the middle
                fh.seek(size // 2)
                fh.write(os.urandom(10**6))
            before = len(server.log())
            t_re, rss_re, _ = upload("bench/xet", "h-xet", False)
            sent_re = cas_bytes(server.log()[before:])
            want = sha256(src)

            t_dx, rss_dx, path = client(
                DOWNLOAD, [server.url, token, "bench/xet", str(work / "c1")], work / "h-d1", False
            )
            ok_xet = sha256(Path(path)) == want
            shutil.rmtree(work / "c1")
            t_plain_lfs = plain_get(f"{server.url}/bench/lfs/resolve/main/big.bin", token, work / "p1.bin")
            (work / "p1.bin").unlink()
            t_plain_xet = plain_get(f"{server.url}/bench/xet/resolve/main/big.bin", token, work / "p2.bin")
            ok_plain = sha256(work / "p2.bin") == want
            (work / "p2.bin").unlink()
            t_dh, _, path = client(
                DOWNLOAD, [server.url, token, "bench/xet", str(work / "c2")], work / "h-d2", True
            )
            shutil.rmtree(work / "c2")
            t_dl, _, path = client(
                DOWNLOAD, [server.url, token, "bench/lfs", str(work / "c3")], work / "h-d3", True
            )
            shutil.rmtree(work / "c3")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    mib = size / 2**20
    mbs = size / 1e6
    print(f"\nfile {mib:.0f} MiB; downloads byte-identical (SHA-256): Xet {ok_xet}, plain resolve {ok_plain}")
    print("machine: shared (2 cores, other jobs running): figures vary run to run\n")
    rows = [
        (
            "upload LFS (HF_HUB_DISABLE_XET=1)",
            t_lfs,
            f"{mbs / t_lfs:7.1f} MB/s, client RSS {rss_lfs / 1e6:.0f} MB",
        ),
        (
            "upload Xet (default install)",
            t_xet,
            f"{mbs / t_xet:7.1f} MB/s, client RSS {rss_xet / 1e6:.0f} MB, "
            f"CAS received {sent_first / 1e6:.1f} MB",
        ),
        (
            "re-upload Xet, 1 MB changed",
            t_re,
            f"CAS received {sent_re / 1e6:.2f} MB, client RSS {rss_re / 1e6:.0f} MB",
        ),
        ("download Xet (hf_hub_download)", t_dx, f"{mbs / t_dx:7.1f} MB/s, client RSS {rss_dx / 1e6:.0f} MB"),
        ("download plain resolve, LFS copy (curl)", t_plain_lfs, f"{mbs / t_plain_lfs:7.1f} MB/s"),
        (
            "download plain resolve, Xet copy (curl)",
            t_plain_xet,
            f"{mbs / t_plain_xet:7.1f} MB/s (reconstructed)",
        ),
        ("download no Xet (HF_HUB_DISABLE_XET=1), LFS copy", t_dl, f"{mbs / t_dl:7.1f} MB/s (plain resolve)"),
        ("download no Xet (HF_HUB_DISABLE_XET=1), Xet copy", t_dh, f"{mbs / t_dh:7.1f} MB/s (reconstructed)"),
    ]
    for name, t, extra in rows:
        print(f"{name:48s} {t:7.2f} s  {extra}")
    print()
    for name, (c, s) in zip(("upload LFS", "upload Xet", "re-upload Xet"), cpu, strict=True):
        print(f"{name + ': CPU seconds, client / server':48s} {c:7.2f} / {s:.2f}")
    checks = [
        ("Xet upload / LFS upload throughput", t_lfs / t_xet, ">= 0.90", t_lfs / t_xet >= 0.9),
        ("client peak RSS, Xet upload (GB)", rss_xet / 1e9, "< 1.0", rss_xet < 1e9),
        ("re-upload bytes / file size", sent_re / size, "< 0.02", sent_re / size < 0.02),
        ("re-upload time / first upload time", t_re / t_xet, "< 0.15", t_re / t_xet < 0.15),
        # the same client (hf_hub_download in a fresh process) with and without Xet, against the fastest copy
        ("Xet download / plain resolve download", t_dl / t_dx, ">= 0.80", t_dl / t_dx >= 0.8),
        ("Xet download / curl of the plain resolve", t_plain_lfs / t_dx, "(info)", True),
        ("server peak RSS (MB)", server_rss.peak / 1e6, "< 500", server_rss.peak < 500e6),
    ]
    print()
    for name, value, target, passed in checks:
        print(f"{name:48s} {value:8.3f}  target {target:8s} {'ok' if passed else 'MISSED'}")
    return 0 if ok_xet and ok_plain else 1


if __name__ == "__main__":
    raise SystemExit(main())
