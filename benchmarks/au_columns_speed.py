"""What the per-face columns cost: `facsnet analyze`'s default (emotions, AU presence and intensity,
landmarks and head pose: "full") against emotions + AUs (`--no-landmarks`) and emotions only
(`--no-aus --no-landmarks`), end to end on a generated 640x480 one-face video, the analyzers
alternated round by round in one process on this host (model loading not timed).

    python benchmarks/au_columns_speed.py [--frames 150] [--rounds 3] [--out results/bench_au_columns.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from facsnet.hardware import cpu_info
from facsnet.inference import Analyzer
from facsnet.models.hub import DEFAULT_MODEL, weights_digest
from facsnet.samples import make_video
from facsnet.utils import atomic_write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "v.mp4", n_frames=args.frames)
        analyzers = {"emotions_only": Analyzer(),
                     "with_aus": Analyzer(au_model="ckplus_au", au_intensity_model="ckplus_au_intensity"),
                     "full": Analyzer(au_model="ckplus_au", au_intensity_model="ckplus_au_intensity", landmarks=True)}
        for a in analyzers.values():
            a.analyze(video, max_frames=16)          # warm-up
        seconds = {k: [] for k in analyzers}
        for _ in range(args.rounds):
            for name, a in analyzers.items():
                t = time.perf_counter()
                a.analyze(video)
                seconds[name].append(time.perf_counter() - t)
    fps = {k: round(args.frames / statistics.median(v), 1) for k, v in seconds.items()}
    result = {"command": "python " + " ".join(sys.argv), "date": date.today().isoformat(), "host": cpu_info().describe(),
              "model": DEFAULT_MODEL, "model_sha256": weights_digest(DEFAULT_MODEL),
              "video": f"{args.frames} frames, 640x480, one face", "seconds": seconds, "frames_per_s": fps,
              "with_aus_vs_emotions_only": round(fps["with_aus"] / fps["emotions_only"], 3),
              "full_vs_emotions_only": round(fps["full"] / fps["emotions_only"], 3)}
    print(json.dumps({k: result[k] for k in ("frames_per_s", "with_aus_vs_emotions_only", "full_vs_emotions_only")}))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
