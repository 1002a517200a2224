"""Speed of the photo/video pipeline on this machine's CPU.

    python benchmarks/analyze_speed.py [--frames 300] [--repeats 3] [--out results/bench_analyze.json]
    python benchmarks/analyze_speed.py --against REV [--rounds 5]   # default analyze vs an earlier commit

Prints and writes:
- end-to-end frames/s on a generated 640x480 video with one face (decode, BlazeFace on every frame,
  eye alignment, crop, classification batched over 32 frames), ONNX Runtime and PyTorch backends;
  and, separately, with detection on every 3rd frame only (``--detect-every 3``);
- face detection alone, ms per 640x480 frame;
- classification of aligned 48x48 crops, images/s at batch 1 and 256, PyTorch and ONNX Runtime.
The video is made by ``facsnet.samples.make_video`` from the bundled public-domain portrait
(the face drifts and tilts by up to 10 degrees); model load and the ONNX export are not timed.

``--against REV`` checks REV out into a temporary git worktree and measures the default
``Analyzer()`` end to end (detection on every frame) of this tree and of REV in fresh processes,
alternately, ``--rounds`` times on the same video; it prints both medians and their ratio.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from facsnet.inference import Analyzer, FaceClassifier
from facsnet.inference.media import video_frames
from facsnet.samples import make_video
from facsnet.utils import atomic_write_json


def end_to_end_fps(video: Path, backend: str, repeats: int, n_frames: int, detect_every: int = 1) -> tuple[float, int]:
    analyzer = Analyzer(backend=backend, detect_every=detect_every)
    analyzer.analyze(video, max_frames=16)  # warm-up: first calls allocate
    times, faces = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        result = analyzer.analyze(video)
        times.append(time.perf_counter() - t)
        faces = len(result.faces)
        assert len(result) == n_frames
    return n_frames / statistics.median(times), faces


def detect_ms(video: Path) -> float:
    analyzer = Analyzer()
    frames = [f.rgb for f in video_frames(video)]
    for f in frames[:5]:
        analyzer.detector.detect(f)
    t = time.perf_counter()
    for f in frames:
        analyzer.detector.detect(f)
    return (time.perf_counter() - t) / len(frames) * 1000


def classify_img_per_s(backend: str, batch: int, seconds: float = 3.0) -> float:
    clf = FaceClassifier("fer2013_bn", backend=backend)
    crops = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    for _ in range(3):
        clf.predict_proba(crops)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        clf.predict_proba(crops)
        n += 1
    return n * batch / (time.perf_counter() - t)


def default_fps_worker(video: str, repeats: int) -> None:
    """Print the default Analyzer's end-to-end frames/s on ``video`` (whichever facsnet is imported)."""
    import json

    import facsnet

    analyzer = Analyzer()
    analyzer.analyze(Path(video), max_frames=16)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        n = len(analyzer.analyze(Path(video)).frames)
        times.append(time.perf_counter() - t)
    print(json.dumps({"fps": n / statistics.median(times), "facsnet": str(Path(facsnet.__file__).parent)}))


def against(rev: str, frames: int, rounds: int, repeats: int) -> dict:
    """The default analyze of this tree and of git revision ``rev``, alternated in fresh processes."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out: dict = {"against": rev, "frames": frames, "rounds": rounds, "now": [], "then": []}
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "then"
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
        try:
            video = make_video(Path(tmp) / "one_face_640x480.mp4", n_frames=frames, size=(640, 480), faces=1)
            for r in range(rounds):
                for key, src in (("now", root / "src"), ("then", tree / "src")):
                    env = {**os.environ, "PYTHONPATH": str(src)}
                    proc = subprocess.run([sys.executable, __file__, "--worker-fps", str(video), str(repeats)],
                                          env=env, capture_output=True, text=True, check=True)
                    res = json.loads(proc.stdout.strip().splitlines()[-1])
                    assert Path(res["facsnet"]).resolve() == (src / "facsnet").resolve(), res
                    out[key].append(round(res["fps"], 1))
                print(f"round {r + 1}/{rounds}: this tree {out['now'][-1]:.1f} frames/s, {rev} {out['then'][-1]:.1f}")
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], capture_output=True)
    out["now_fps"], out["then_fps"] = statistics.median(out["now"]), statistics.median(out["then"])
    out["ratio"] = round(out["now_fps"] / out["then_fps"], 2)
    print(f"default analyze, 640x480, one face, detection on every frame: {out['now_fps']:.1f} frames/s "
          f"against {out['then_fps']:.1f} at {rev}: {out['ratio']:.2f}x")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="results/bench_analyze.json")
    ap.add_argument("--against", default=None, help="a git revision to compare the default analyze with")
    ap.add_argument("--rounds", type=int, default=5, help="alternations for --against")
    ap.add_argument("--worker-fps", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_fps:
        default_fps_worker(args.worker_fps[0], int(args.worker_fps[1]))
        return
    if args.against:
        res = against(args.against, args.frames, args.rounds, args.repeats)
        res["command"] = f"python benchmarks/analyze_speed.py --against {args.against} --frames {args.frames} " \
                         f"--rounds {args.rounds} --repeats {args.repeats}"
        from train_throughput import cpu_description

        res["cpu"] = cpu_description()
        atomic_write_json(args.out, res)
        print(f"written {args.out}")
        return
    torch.set_num_threads(os.cpu_count() or 1)
    from train_throughput import cpu_description

    out = {"command": f"python benchmarks/analyze_speed.py --frames {args.frames} --repeats {args.repeats}",
           "cpu": cpu_description(), "cores": os.cpu_count(), "torch": torch.__version__,
           "model": "fer2013_bn (48x48 grey), precision auto",
           "detector": "blazeface full range, every frame, default runtime"}
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "one_face_640x480.mp4", n_frames=args.frames, size=(640, 480), faces=1)
        for backend in ("openvino", "onnx", "torch"):
            fps, faces = end_to_end_fps(video, backend, args.repeats, args.frames)
            out[f"video_fps_{backend}"] = round(fps, 1)
            out[f"video_faces_found_{backend}"] = f"{faces}/{args.frames}"
            print(f"end to end, 640x480, 1 face, detection every frame, {backend}: {fps:.1f} frames/s "
                  f"({faces} faces in {args.frames} frames)")
        out["video_fps"] = out["video_fps_openvino"]
        fps, faces = end_to_end_fps(video, "auto", args.repeats, args.frames, detect_every=3)
        out["video_fps_detect_every_3"] = round(fps, 1)
        print(f"end to end, detection on every 3rd frame (faces kept between), default backend: {fps:.1f} frames/s "
              f"({faces} faces in {args.frames} frames)")
        out["detect_ms_per_frame"] = round(detect_ms(video), 2)
        print(f"face detection, 640x480: {out['detect_ms_per_frame']:.2f} ms/frame")
    for backend in ("openvino", "onnx", "torch"):
        for batch in (1, 256):
            rate = classify_img_per_s(backend, batch)
            out[f"classify_img_per_s_b{batch}_{backend}"] = round(rate, 1)
            print(f"classify 48x48 crops, {backend}, batch {batch}: {rate:.0f} images/s")
    out["classify_img_per_s_b1"] = out["classify_img_per_s_b1_openvino"]
    out["classify_img_per_s_b256"] = out["classify_img_per_s_b256_openvino"]
    atomic_write_json(args.out, out)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
