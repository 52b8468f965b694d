"""Large-file transfer through modelhub's server with the official client, against a plain file copy.

Uploads then downloads one big file (default 2 GB) over loopback with the official ``huggingface_hub`` client on
the LFS path (``HF_HUB_DISABLE_XET=1``; the Xet path: ``benchmarks/xet.py``), and copies the
same file on the same disk in the same run as the baseline. Prints MB/s, ratios against the targets (download >= 60%
of copy, upload >= 40%) and the server's peak RSS (target < 300 MB), sampled every 20 ms.

The copy baseline fsyncs its output, as the server does before an uploaded object becomes visible.

Run from the repository root with the venv ``scripts/test.sh`` builds (``.venv/`` beside the checkout; the
official client comes from the ``dev`` extra, curl is used when installed):

    .venv/bin/python benchmarks/server_transfer.py [--size-mb 2048] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


def make_file(path: Path, size: int) -> str:
    """Random content in 64 MiB blocks (each block different), returns its sha256."""
    h = hashlib.sha256()
    block = 64 * 1024 * 1024
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            n = min(block, size - written)
            data = os.urandom(n)
            fh.write(data)
            h.update(data)
            written += n
    return h.hexdigest()


def copy_with_fsync(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo, 8 * 1024 * 1024)
        fo.flush()
        os.fsync(fo.fileno())
    return time.perf_counter() - t


class RssSampler:
    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except Exception:
                return
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self.peak = self.proc.memory_info().rss
        self._cpu0 = sum(self.proc.cpu_times()[:2])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu = sum(self.proc.cpu_times()[:2]) - self._cpu0


def curl_download(url: str, token: str, dest: Path) -> float | None:
    """The same download with curl (C client): shows what the server delivers when the client is not the limit."""
    import subprocess

    if shutil.which("curl") is None:
        return None
    t = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", str(dest), "-H", f"authorization: Bearer {token}", url], check=True)
    elapsed = time.perf_counter() - t
    dest.unlink()
    return elapsed


def drop_from_page_cache(path: Path) -> None:
    """Best effort: ask the kernel to forget a file's pages so the next read comes from disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    except (OSError, AttributeError):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=2048)
    ap.add_argument(
        "--workdir", default=None, help="where to put the file and the server data (default: a temp dir)"
    )
    ap.add_argument("--keep", action="store_true")
    ap.add_argument(
        "--regular-mb",
        type=int,
        default=0,
        help="also upload a file of this size with hf_xet enabled and report the server's peak RSS; that is the"
        " Xet path now (benchmarks/xet.py measures it fully), no longer inline base64; 0 (default) to skip",
    )
    args = ap.parse_args()

    import huggingface_hub.constants as hc
    from huggingface_hub import HfApi, hf_hub_download
    from tests._hub import HubServer

    hc.HF_HUB_DISABLE_XET = True
    work = Path(args.workdir or tempfile.mkdtemp(prefix="mh-transfer-", dir=os.environ.get("TMPDIR", "/tmp")))
    work.mkdir(parents=True, exist_ok=True)
    size = args.size_mb * 1024 * 1024
    src = work / "big.bin"
    print(f"workdir {work}; creating a {size / 1e6:.0f} MB random file...", flush=True)
    sha = make_file(src, size)

    server = HubServer(work / "server-data").start()
    try:
        server.create_user("bench")
        token = server.create_token("bench")
        api = HfApi(endpoint=server.url, token=token, user_agent={"upload": "lfs"})
        repo_id = api.create_repo("bench/transfer").repo_id

        # baseline: plain copy (+fsync) of the same file on the same disk; the faster of two runs, after the
        # source's own writeback, so that ratios are conservative and not skewed by pending disk writes
        os.sync()
        copies = []
        for _ in range(2):
            copies.append(copy_with_fsync(src, work / "copy.bin"))
            (work / "copy.bin").unlink()
            os.sync()
        t_copy = min(copies)

        assert server.proc is not None
        with RssSampler(server.proc.pid) as rss_up:
            t = time.perf_counter()
            api.upload_file(path_or_fileobj=src, path_in_repo="big.bin", repo_id=repo_id)
            t_up = time.perf_counter() - t
        lfs_puts = server.log().count(f"PUT /lfs-upload/{sha}")
        put_lines = [ln for ln in server.log().splitlines() if f"PUT /lfs-upload/{sha}" in ln]
        with RssSampler(server.proc.pid) as rss_down:
            t = time.perf_counter()
            out = hf_hub_download(
                repo_id, "big.bin", token=token, endpoint=server.url, cache_dir=work / "cache"
            )
            t_down = time.perf_counter() - t
        get_lines = [ln for ln in server.log().splitlines() if "GET /bench/transfer/resolve" in ln]
        t_curl = curl_download(f"{server.url}/{repo_id}/resolve/main/big.bin", token, work / "curl.bin")
        regular = None
        if args.regular_mb:
            reg_src = work / "regular.bin"
            reg_sha = make_file(reg_src, args.regular_mb * 1024 * 1024)
            hc.HF_HUB_DISABLE_XET = False  # the default install: hf_xet present, so the file goes through Xet
            xet_api = HfApi(endpoint=server.url, token=token)
            with RssSampler(server.proc.pid) as rss_reg:
                t = time.perf_counter()
                xet_api.upload_file(path_or_fileobj=reg_src, path_in_repo="regular.bin", repo_id=repo_id)
                t_reg = time.perf_counter() - t
            hc.HF_HUB_DISABLE_XET = True
            entry = next(iter(api.get_paths_info(repo_id, ["regular.bin"])))
            regular = (t_reg, rss_reg.peak, entry.lfs is not None and entry.lfs.sha256 == reg_sha)
        ok = os.path.getsize(out) == size
        got = hashlib.sha256()
        with open(out, "rb") as fh:
            while chunk := fh.read(16 * 1024 * 1024):
                got.update(chunk)
        ok = ok and got.hexdigest() == sha
    finally:
        server.stop()

    mb = size / 1e6
    copy_mbs, up_mbs, down_mbs = mb / t_copy, mb / t_up, mb / t_down
    peak = max(rss_up.peak, rss_down.peak) / 1e6
    print(
        f"file: {mb:.0f} MB, content verified after download: {ok}; LFS PUTs seen by the server: {lfs_puts}"
    )
    print(f"copy (+fsync)      : {t_copy:6.2f} s  {copy_mbs:8.1f} MB/s")
    print(
        f"upload (LFS basic) : {t_up:6.2f} s  {up_mbs:8.1f} MB/s  ratio {up_mbs / copy_mbs:5.2f}  (target >= 0.40)"
        f" {'OK' if up_mbs / copy_mbs >= 0.4 else 'MISSED'}"
    )
    print(
        f"download           : {t_down:6.2f} s  {down_mbs:8.1f} MB/s  ratio {down_mbs / copy_mbs:5.2f}  (target >= 0.60)"
        f" {'OK' if down_mbs / copy_mbs >= 0.6 else 'MISSED'}"
    )
    if t_curl:
        print(
            f"download with curl : {t_curl:6.2f} s  {mb / t_curl:8.1f} MB/s  ratio {mb / t_curl / copy_mbs:5.2f}"
            "  (same server, C client: the server-side ceiling)"
        )
    print(
        f"server peak RSS    : upload {rss_up.peak / 1e6:.0f} MB, download {rss_down.peak / 1e6:.0f} MB"
        f"  (target < 300 MB) {'OK' if peak < 300 else 'MISSED'}"
    )
    if regular is not None:
        t_reg, peak_reg, stored_ok = regular
        print(
            f"regular path       : {args.regular_mb} MiB inline in {t_reg:.2f} s; server peak RSS {peak_reg / 1e6:.0f} MB;"
            f" stored as an LFS object with the right sha256: {stored_ok}"
        )
    print(f"server CPU time    : upload {rss_up.cpu:.2f} s, download {rss_down.cpu:.2f} s")
    for ln in put_lines + get_lines:
        print("server log:", ln.split("modelhub.server.access: ")[-1])
    print(f"copy runs: {', '.join(f'{t:.2f} s' for t in copies)}; load average {os.getloadavg()[0]:.1f}")
    print(
        "note: the upload time includes the client hashing the file (sha256) before sending it, as it always does"
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
