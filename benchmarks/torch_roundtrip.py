"""Save / load round trip of a ~1 GB float32 model: modelhub's PyTorchModelHubMixin against the official one.

Run from the repository root with the venv ``scripts/test.sh`` builds (``.venv/`` beside the checkout; the
official mixin comes from the ``dev`` extra):

    .venv/bin/python benchmarks/torch_roundtrip.py [--size-mb 1024] [--reps 3]

Both classes have the same architecture (a few large Linear layers) and the same weights. Saves run in this
process; every load runs in a fresh subprocess (so its peak RSS is its own), alternating ours and theirs, after a
warm-up read that puts both checkpoints in the page cache. Each load is checked against a checksum of the saved
weights. Prints the medians, the ratios and the peak RSS increase of each load relative to the weights' size.
Targets: our load >= 2x faster, our load's peak RSS < 1.3x the weights, our save no slower.

``--from-cache`` loads through the Hugging Face cache instead (``from_pretrained("bench/ours")`` with
``HF_HUB_OFFLINE=1``, every file a blob behind a snapshot symlink), the path whose integrity checks (size always,
sha256 once per blob and stat signature) must not slow the load. The blobs are put there by this script, as
another client would have; ours hashes each one on its first read, that first load is printed separately.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _classes(width: int, layers: int):
    import huggingface_hub
    import torch.nn as nn

    import modelhub

    def init(self, width: int = width, layers: int = layers) -> None:
        nn.Module.__init__(self)
        self.layers = nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])

    def forward(self, x):
        return self.layers(x)

    ours = type("OurNet", (nn.Module, modelhub.PyTorchModelHubMixin), {"__init__": init, "forward": forward})
    theirs = type(
        "TheirNet", (nn.Module, huggingface_hub.PyTorchModelHubMixin), {"__init__": init, "forward": forward}
    )
    return ours, theirs


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> None:
    """Reset VmHWM (Linux >= 4.0) so the peak measured is the load's, not the imports'."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int:
    """VmHWM of this process. (Not ru_maxrss: Linux carries it over from the parent across fork + exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _checksum(model) -> float:
    return float(sum(p.double().sum().item() for p in model.parameters()))


def _as_cache(directory: Path, cache: Path, repo_id: str) -> None:
    """Put ``directory``'s files into ``cache`` as the snapshot of ``repo_id``'s main (blobs named by sha256)."""
    import hashlib

    folder = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (folder / "blobs").mkdir()
    for file in directory.iterdir():
        digest = hashlib.sha256()
        with open(file, "rb") as f:
            while block := f.read(64 * 2**20):
                digest.update(block)
        blob = folder / "blobs" / digest.hexdigest()
        os.link(file, blob)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / file.name)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


def child(which: str, directory: str, width: int, layers: int) -> None:
    """Load once and print {"seconds", "peak_delta", "checksum"} as JSON."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    ours, theirs = _classes(width, layers)
    cls = ours if which == "ours" else theirs
    _reset_peak_rss()
    before = _rss_bytes()
    start = time.perf_counter()
    model = cls.from_pretrained(directory)
    seconds = time.perf_counter() - start
    peak = _peak_rss_bytes()
    print(json.dumps({"seconds": seconds, "peak_delta": peak - before, "checksum": _checksum(model)}))


def _run_child(which: str, directory: Path | str, width: int, layers: int, cache: Path | None = None) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            which,
            str(directory),
            "--width",
            str(width),
            "--layers",
            str(layers),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_OFFLINE": "1",
            **({"HF_HUB_CACHE": str(cache)} if cache else {}),
        },
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024, help="approximate weights size (default 1024)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=0, help="Linear width (default: from --size-mb)")
    parser.add_argument("--from-cache", action="store_true", help="load repo ids through the HF cache")
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    width = args.width or int(((args.size_mb * 2**20) / 4 / args.layers) ** 0.5)
    if args.child:
        child(args.child[0], args.child[1], width, args.layers)
        return

    import torch

    ours_cls, theirs_cls = _classes(width, args.layers)
    torch.manual_seed(0)
    ours = ours_cls()
    theirs = theirs_cls()
    theirs.load_state_dict(ours.state_dict())
    weights = sum(p.numel() * p.element_size() for p in ours.parameters())
    expected = _checksum(ours)
    print(f"model: {args.layers} x Linear({width}, {width}), {weights / 2**20:.0f} MiB of float32 weights")

    with tempfile.TemporaryDirectory(prefix="modelhub-bench-") as tmp:
        dirs = {"ours": Path(tmp) / "ours", "theirs": Path(tmp) / "theirs"}
        models = {"ours": ours, "theirs": theirs}
        saves: dict[str, list[float]] = {"ours": [], "theirs": []}
        for rep in range(args.reps):
            # Alternate who goes first, and start each save with no dirty pages pending from the previous one:
            # on a real disk, writeback of the other side's gigabyte would otherwise land on whoever is timed.
            for which in ("ours", "theirs") if rep % 2 == 0 else ("theirs", "ours"):
                os.sync()
                start = time.perf_counter()
                models[which].save_pretrained(dirs[which])
                saves[which].append(time.perf_counter() - start)
        del ours, theirs, models
        for directory in dirs.values():  # warm the page cache for both checkpoints alike
            for file in directory.glob("*.safetensors"):
                with open(file, "rb") as f:
                    while f.read(64 * 2**20):
                        pass

        cache = Path(tmp) / "hub-cache" if args.from_cache else None
        sources: dict[str, Path | str] = dict(dirs)
        if cache is not None:
            for which in ("ours", "theirs"):
                _as_cache(dirs[which], cache, f"bench/{which}")
                sources[which] = f"bench/{which}"
            first = _run_child("ours", sources["ours"], width, args.layers, cache)
            print(f"first load of ours from the cache (hashes each blob once): {first['seconds']:.3f} s")
        loads: dict[str, list[dict]] = {"ours": [], "theirs": []}
        for rep in range(args.reps):
            for which in ("ours", "theirs") if rep % 2 == 0 else ("theirs", "ours"):
                result = _run_child(which, sources[which], width, args.layers, cache)
                if abs(result["checksum"] - expected) > 1e-6 * max(1.0, abs(expected)):
                    raise SystemExit(
                        f"{which}: loaded weights differ (checksum {result['checksum']} != {expected})"
                    )
                loads[which].append(result)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    save_o, save_t = med(saves["ours"]), med(saves["theirs"])
    load_o = med([r["seconds"] for r in loads["ours"]])
    load_t = med([r["seconds"] for r in loads["theirs"]])
    rss_o = med([r["peak_delta"] for r in loads["ours"]])
    rss_t = med([r["peak_delta"] for r in loads["theirs"]])
    print(f"{'':10}{'ours':>10}{'official':>10}{'ratio':>10}   (median of {args.reps})")
    print(f"{'save s':10}{save_o:10.3f}{save_t:10.3f}{save_t / save_o:9.2f}x  (official / ours)")
    print(f"{'load s':10}{load_o:10.3f}{load_t:10.3f}{load_t / load_o:9.2f}x  (official / ours)")
    print(
        f"{'load RSS':10}{rss_o / weights:9.2f}x{rss_t / weights:9.2f}x"
        f"{'':10}  (peak RSS increase during the load / weights size)"
    )
    print(f"load runs ours: {[round(r['seconds'], 3) for r in loads['ours']]}")
    print(f"load runs official: {[round(r['seconds'], 3) for r in loads['theirs']]}")
    ok = load_t / load_o >= 2 and rss_o / weights < 1.3 and save_o <= save_t * 1.05
    print("targets (load >= 2x faster, load RSS < 1.3x weights, save no slower):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
