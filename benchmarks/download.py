"""Download benchmark: modelhub's client against the official huggingface_hub, same server, same run.

1. Cold ``snapshot_download`` of a repo of N files of S MB (default 4 x 500 MB) from a local modelhub server, each
   client in its own fresh process and fresh cache, alternating (official, ours, official, ours...); best and
   median wall time per client, and the ratio.
2. Warm cache, a ``from_pretrained``-style sequence of single-file downloads (config, a missing single-file
   checkpoint, the shard index, every shard, a missing generation config): HTTP requests counted by a loopback
   proxy in front of the server, for both clients; then the same with ``HF_HUB_OFFLINE=1``.

Run from the repository root with the venv ``scripts/test.sh`` builds (``.venv/`` beside the checkout; the
official client comes from the ``dev`` extra):

    .venv/bin/python benchmarks/download.py [--files 4] [--size-mb 500] [--rounds 2] [--keep]

(quick check that it works: ``--files 1 --size-mb 1 --rounds 1``).
Targets: ours at least as fast as the official client cold; at most 1 request warm, 0 offline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

PY = sys.executable
REQ = re.compile(rb"(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1\.[01]\r\n")


# --- shared helpers (benchmarks/upload.py imports them) ---------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m modelhub serve`` on a free port with a throw-away data dir; user alice with a write token."""

    def __init__(self, root: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        self.proc = subprocess.Popen(
            [
                PY,
                "-m",
                "modelhub",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(root / "data"),
                "--init-user",
                "alice",
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.time() + 60
        # the first run writes the token to this file when stdout is no terminal (it never goes to a log)
        token_file = root / "data" / "first-run-token"
        while time.time() < deadline:
            text = self.log_path.read_text()
            m = re.search(r"(hf_[A-Za-z0-9]+)", token_file.read_text() if token_file.exists() else text)
            if m and self._answers():
                self.token = m.group(1)
                return
            if self.proc.poll() is not None:
                raise RuntimeError("server died:\n" + text)
            time.sleep(0.2)
        self.stop()  # never leave a half-started server behind
        raise RuntimeError("server did not start:\n" + self.log_path.read_text())

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


class CountingProxy:
    """Loopback TCP proxy counting request lines and bytes in each direction."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = upstream_port
        self.requests: list[str] = []
        self.bytes_up = 0
        self.bytes_down = 0
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self.requests, self.bytes_up, self.bytes_down = [], 0, 0

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, up: bool) -> None:
        try:
            while data := src.recv(1 << 20):
                with self._lock:
                    if up:
                        self.bytes_up += len(data)
                        self.requests += [
                            f"{m.group(1).decode()} {m.group(2).decode()}" for m in REQ.finditer(data)
                        ]
                    else:
                        self.bytes_down += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def client_env(endpoint: str, token: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_TOKEN=token,
        HF_HOME=str(home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        **extra,
    )
    return env


def run_py(code: str, env: dict[str, str]) -> dict:
    """Run ``code`` (which sets ``result``) in a fresh interpreter; return ``result``."""
    script = "import json, time\n" + textwrap.dedent(code) + "\nprint('RESULT=' + json.dumps(result))"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([PY, "-c", script], env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-4000:])
    result = json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("RESULT=")][-1][7:])
    # client CPU seconds (user + system) of that process: comparable even when the machine is busy
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def make_files(folder: Path, files: int, size_mb: int) -> list[Path]:
    """Random (incompressible) shards plus a small config and index, like a sharded checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    block = 16 * 1024 * 1024
    for i in range(files):
        p = folder / f"model-{i + 1:05d}-of-{files:05d}.safetensors"
        with open(p, "wb") as fh:
            remaining = size_mb * 1024 * 1024
            while remaining:
                n = min(block, remaining)
                fh.write(os.urandom(n))
                remaining -= n
        paths.append(p)
    (folder / "config.json").write_text(json.dumps({"model_type": "bench", "hidden": 8}))
    index = {"metadata": {}, "weight_map": {f"w{i}": paths[i].name for i in range(files)}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return paths


def settle() -> None:
    """Flush dirty pages left by the previous run so its writeback does not slow the next one down."""
    os.sync()
    time.sleep(1.0)


def fmt_rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / seconds / 1e6:7.1f} MB/s"


# --- the download benchmark -------------------------------------------------------------------------------------
OURS_SNAPSHOT = """
from modelhub import snapshot_download
t = time.perf_counter(); p = snapshot_download({rid!r}); result = {{"s": time.perf_counter() - t, "path": p}}
"""
OFFICIAL_SNAPSHOT = """
from huggingface_hub import snapshot_download
t = time.perf_counter(); p = snapshot_download({rid!r}); result = {{"s": time.perf_counter() - t, "path": p}}
"""
SEQUENCE = """
from {module} import hf_hub_download
import {errmod} as E
def get(name):
    try:
        return hf_hub_download({rid!r}, name)
    except E.EntryNotFoundError:
        return None
t = time.perf_counter()
get("config.json")
if get("model.safetensors") is None:
    import json as j
    index = j.load(open(get("model.safetensors.index.json")))
    for shard in sorted(set(index["weight_map"].values())):
        get(shard)
get("generation_config.json")
result = {{"s": time.perf_counter() - t}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="modelhub-bench-dl-"))
    server = Server(root)
    proxy = CountingProxy(server.port)
    try:
        total = args.files * args.size_mb * 1024 * 1024
        print(f"repo: {args.files} x {args.size_mb} MB (+ config, index), server {server.url}, tmp {root}")
        folder = root / "src"
        make_files(folder, args.files, args.size_mb)
        rid = "alice/bench-download"
        setup = f"""
            from modelhub import HubApi
            api = HubApi(); api.create_repo({rid!r}, exist_ok=True)
            api.upload_folder(repo_id={rid!r}, folder_path={str(folder)!r}); result = {{}}
        """
        run_py(setup, client_env(server.url, server.token, root / "setup-home"))
        shutil.rmtree(folder)

        times: dict[str, list[float]] = {"official": [], "ours": []}
        cpu: dict[str, list[float]] = {"official": [], "ours": []}
        for r in range(args.rounds):
            order = [("official", OFFICIAL_SNAPSHOT), ("ours", OURS_SNAPSHOT)]
            for name, code in order if r % 2 == 0 else order[::-1]:  # alternate who goes first
                home = root / f"home-{name}-{r}"
                settle()
                res = run_py(code.format(rid=rid), client_env(server.url, server.token, home))
                times[name].append(res["s"])
                size = sum(p.stat().st_size for p in Path(res["path"]).rglob("*") if p.is_file())
                assert size >= total, f"{name} snapshot incomplete: {size} < {total}"
                cpu[name].append(res["cpu"])
                print(
                    f"  round {r + 1} {name:<8} cold snapshot_download {res['s']:7.2f} s  {fmt_rate(total, res['s'])}"
                    f"  client CPU {res['cpu']:5.2f} s"
                )
                if r < args.rounds - 1 or name == "official":
                    shutil.rmtree(home)
        best = {k: min(v) for k, v in times.items()}
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"cold: official best {best['official']:.2f} s / median {med['official']:.2f} s; "
            f"ours best {best['ours']:.2f} s / median {med['ours']:.2f} s; "
            f"speed ratio ours/official (best) = {best['official'] / best['ours']:.2f}x"
        )

        print(
            f"client CPU per cold download (median): official {statistics.median(cpu['official']):.2f} s, "
            f"ours {statistics.median(cpu['ours']):.2f} s (ours also checks the sha256 of every file)"
        )
        # warm cache: the last "ours" cache is complete; the official client gets its own warm cache first
        warm = {}
        off_home = root / "home-official-warm"
        run_py(
            SEQUENCE.format(module="huggingface_hub", errmod="huggingface_hub.errors", rid=rid),
            client_env(proxy.url, server.token, off_home),
        )
        ours_home = root / f"home-ours-{args.rounds - 1}"
        for name, module, errmod, home in (
            ("official", "huggingface_hub", "huggingface_hub.errors", off_home),
            ("ours", "modelhub", "modelhub.errors", ours_home),
        ):
            code = SEQUENCE.format(module=module, errmod=errmod, rid=rid)
            if (
                name == "ours"
            ):  # a cold sequence first, so .no_exist entries exist (the official run made its own)
                run_py(code, client_env(proxy.url, server.token, home))
            for offline in (False, True):
                proxy.reset()
                extra = {"HF_HUB_OFFLINE": "1"} if offline else {}
                res = run_py(code, client_env(proxy.url, server.token, home, **extra))
                warm[(name, offline)] = (len(proxy.requests), res["s"], list(proxy.requests))
        for (name, offline), (count, secs, reqs) in warm.items():
            label = "offline" if offline else "online "
            shown = ", ".join(reqs[:4]) + (" ..." if len(reqs) > 4 else "")
            print(
                f"warm from_pretrained-style sequence, {name:<8} {label}: {count:2d} HTTP request(s), {secs * 1000:6.1f} ms  [{shown}]"
            )
        verdict = {
            k: ("MET" if v["ours"] <= v["official"] else "NOT MET")
            for k, v in (("best", best), ("median", med))
        }
        ok_warm = warm[("ours", False)][0] <= 1 and warm[("ours", True)][0] == 0
        print(
            f"targets: cold ours >= official speed: {verdict['best']} by best time, {verdict['median']} by median "
            "(the machine is shared: compare client CPU too); "
            f"warm <= 1 request (0 offline): {'MET' if ok_warm else 'NOT MET'}"
        )
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
