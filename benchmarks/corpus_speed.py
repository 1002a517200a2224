"""Corpus throughput: one process, N shards in parallel, and N Ray workers over the same generated
corpus, alternated round by round on this machine; frames/s and the ratio to the single process.

    python benchmarks/corpus_speed.py [--clips 8] [--frames 150] [--workers 2] [--rounds 2]
                                      [--out results/bench_corpus.json]

Each configuration runs ``facsnet analyze CORPUS --out DIR`` in fresh processes (the shards side by side,
``--threads`` = cores / shards each; Ray with ``--workers`` one-thread actors); the time is the wall time
from launch until every process has exited, so process start, model loading and Ray's start count.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from facsnet.hardware import cpu_info
from facsnet.samples import make_video
from facsnet.utils import atomic_write_json


def run(cmds: list[list[str]]) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmds[0])} failed: {err[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(args.clips):
            make_video(corpus / f"clip{i}.mp4", n_frames=args.frames, faces=1, fps=30, seed=i)
        base = [sys.executable, "-m", "facsnet", "-q", "analyze", str(corpus)]
        n = args.workers
        configs = {
            "single": lambda d: [base + ["--out", str(d)]],
            f"shards_{n}": lambda d: [base + ["--out", str(d), "--shard", f"{i}/{n}", "--threads", str(max(1, cores // n))]
                                      for i in range(1, n + 1)],
            f"ray_{n}": lambda d: [base + ["--out", str(d), "--engine", "ray", "--workers", str(n)]],
        }
        if importlib.util.find_spec("ray") is None:
            configs.pop(f"ray_{n}")
        times: dict[str, list[float]] = {k: [] for k in configs}
        for r in range(args.rounds):
            for name, make in configs.items():
                seconds = run(make(Path(tmp) / f"{name}-{r}"))
                times[name].append(seconds)
                print(f"round {r + 1} {name:10s} {seconds:6.1f} s", flush=True)
    frames = args.clips * args.frames
    fps = {k: frames / statistics.median(v) for k, v in times.items()}
    result = {"command": "python " + " ".join(sys.argv), "date": date.today().isoformat(),
              "host": cpu_info().describe(),
              "corpus": f"{args.clips} generated 640x480 clips x {args.frames} frames, one face each",
              "frames": frames, "seconds": times, "frames_per_s": {k: round(v, 1) for k, v in fps.items()},
              "ratio_to_single": {k: round(v / fps["single"], 3) for k, v in fps.items() if k != "single"}}
    print(json.dumps({k: result[k] for k in ("frames_per_s", "ratio_to_single")}, indent=1))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
