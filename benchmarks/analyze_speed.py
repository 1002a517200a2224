"""Speed of the photo/video pipeline on this machine's CPU.

    python benchmarks/analyze_speed.py [--frames 300] [--repeats 3] [--out results/bench_analyze.json]

Prints and writes:
- end-to-end frames/s on a generated 640x480 video with one face (decode, BlazeFace on every frame,
  eye alignment, crop, classification batched over 32 frames), ONNX Runtime and PyTorch backends;
  and, separately, with detection on every 3rd frame only (``--detect-every 3``);
- face detection alone, ms per 640x480 frame;
- classification of aligned 48x48 crops, images/s at batch 1 and 256, PyTorch and ONNX Runtime.
The video is made by ``facsnet.samples.make_video`` from the bundled public-domain portrait
(the face drifts and tilts by up to 10 degrees); model load and the ONNX export are not timed.
"""
from __future__ import annotations

import argparse
import os
import platform
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="results/bench_analyze.json")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    out = {"command": f"python benchmarks/analyze_speed.py --frames {args.frames} --repeats {args.repeats}",
           "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "torch": torch.__version__,
           "model": "fer2013_bn (48x48 grey)", "detector": "blazeface full range, every frame"}
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "one_face_640x480.mp4", n_frames=args.frames, size=(640, 480), faces=1)
        for backend in ("onnx", "torch"):
            fps, faces = end_to_end_fps(video, backend, args.repeats, args.frames)
            out[f"video_fps_{backend}"] = round(fps, 1)
            out[f"video_faces_found_{backend}"] = f"{faces}/{args.frames}"
            print(f"end to end, 640x480, 1 face, detection every frame, {backend}: {fps:.1f} frames/s "
                  f"({faces} faces in {args.frames} frames)")
        out["video_fps"] = out["video_fps_onnx"]
        fps, faces = end_to_end_fps(video, "onnx", args.repeats, args.frames, detect_every=3)
        out["video_fps_detect_every_3"] = round(fps, 1)
        print(f"end to end, detection on every 3rd frame (faces kept between), onnx: {fps:.1f} frames/s "
              f"({faces} faces in {args.frames} frames)")
        out["detect_ms_per_frame"] = round(detect_ms(video), 2)
        print(f"face detection, 640x480: {out['detect_ms_per_frame']:.2f} ms/frame")
    for backend in ("torch", "onnx"):
        for batch in (1, 256):
            rate = classify_img_per_s(backend, batch)
            out[f"classify_img_per_s_b{batch}_{backend}"] = round(rate, 1)
            print(f"classify 48x48 crops, {backend}, batch {batch}: {rate:.0f} images/s")
    out["classify_img_per_s_b1"] = out["classify_img_per_s_b1_onnx"]
    out["classify_img_per_s_b256"] = out["classify_img_per_s_b256_onnx"]
    atomic_write_json(args.out, out)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
