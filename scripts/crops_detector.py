"""Folders of face crops through ``facsnet analyze``: the face detector against ``--detector crops``.

Face crops made elsewhere (FER2013- or CK+-style, another tool's output) show a face with little
of the head around it, which a detector trained on photos often misses. FER2013 Training hold-out
faces (never trained on; a fixed random ``--n`` of them), as they are (48x48) and enlarged 3x
(144x144, bicubic), are analysed with BlazeFace and with ``--detector crops`` (each image one face):
how often a face is found, and the default model's accuracy (no face counts as wrong), beside the
model fed the crops directly (``native``).

    python scripts/crops_detector.py [--n 600] [--out results/crops_detector.json]
"""
from __future__ import annotations

import argparse
import shlex
import sys

import cv2
import numpy as np

from facsnet.data.specs import HOLDOUT_SEED, dataset, holdout_split
from facsnet.inference import Analyzer
from facsnet.provenance import provenance
from facsnet.utils import atomic_write_json


def analysed(analyzer: Analyzer, crops: list[np.ndarray], truth: list[str]) -> dict:
    """Face-found rate and accuracy of the largest face of each image (no face counts as wrong)."""
    found = correct = 0
    for frame, label in zip(analyzer.analyze(crops).frames, truth):
        if frame.faces:
            found += 1
            correct += max(frame.faces, key=lambda f: f.box[2] * f.box[3]).emotion == label
    n = len(crops)
    return {"n": n, "face_found": round(found / n, 4), "accuracy": round(correct / n, 4),
            "accuracy_where_found": round(correct / max(found, 1), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--out", default="results/crops_detector.json")
    args = ap.parse_args()
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    pick = np.random.default_rng(0).choice(len(held), min(args.n, len(held)), replace=False)
    grey, truth = held.images[pick], [held.class_names[y] for y in held.labels[pick]]
    analyzers = {name: Analyzer(detector=name) for name in ("blazeface", "crops")}
    native = analyzers["crops"].classifier.predict_proba(grey).argmax(1)
    rows = {"native": {"n": len(grey), "accuracy": round(float(np.mean(native == held.labels[pick])), 4)}}
    for scale in (1, 3):
        rgb = [cv2.cvtColor(cv2.resize(g, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1
                            else g, cv2.COLOR_GRAY2RGB) for g in grey]
        for name, analyzer in analyzers.items():
            rows[f"{name}_{48 * scale}px"] = analysed(analyzer, rgb, truth)
            print(f"{48 * scale}px crops, --detector {name}: {rows[f'{name}_{48 * scale}px']}", flush=True)
    atomic_write_json(args.out, {
        "data": f"{len(grey)} FER2013 Training hold-out faces (fixed random pick), as crops of 48 and 144 px; "
                "model: the default, as served",
        "rows": rows, "provenance": {**provenance(), "command": "python " + shlex.join(sys.argv)}})


if __name__ == "__main__":
    main()
