"""How many faces the photo pipeline misses at the detector's score threshold, and what a lower one costs.

FER2013 Training hold-out faces (never trained on; a fixed random ``--n`` of them) are turned into
"photos" as in ``scripts/pipeline_check.py`` (padded by their own side, enlarged 3x) and analysed at
several ``min_face_score`` thresholds: how often a face is found, and the accuracy of the default model
on the largest face (no face counts as wrong). Against that, the highest detector score on images
that hold no face (uniform grey, noise, blurred noise, a gradient, and the bundled photos with every
detected face blacked out): a threshold below it would report a face there.

    python scripts/detection_threshold.py [--n 600] [--out results/detection_threshold.json]
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline_check import run  # noqa: E402

from facsnet.data.specs import HOLDOUT_SEED, dataset, holdout_split  # noqa: E402
from facsnet.faces.detect import create_detector  # noqa: E402
from facsnet.inference import Analyzer  # noqa: E402
from facsnet.provenance import provenance  # noqa: E402
from facsnet.samples import sample_paths  # noqa: E402
from facsnet.utils import atomic_write_json  # noqa: E402

THRESHOLDS = (0.5, 0.3, 0.15)


def faceless_images(seed: int = 0) -> dict[str, np.ndarray]:
    """Images with no face in them: synthetic ones, and the bundled photos with their faces blacked out."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    images = {"grey": np.full((480, 640, 3), 128, np.uint8), "noise": noise,
              "blurred noise": cv2.GaussianBlur(noise, (31, 31), 10),
              "gradient": np.repeat(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], 480, 0).repeat(3, 2)}
    detector = create_detector("blazeface", min_score=0.5)
    for path in sample_paths():
        photo = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        for face in detector.detect(photo):        # each face and half its size around it
            x, y, w, h = (int(v) for v in face.box)
            photo[max(0, y - h // 2): y + h + h // 2, max(0, x - w // 2): x + w + w // 2] = 0
        images[f"{path.name}, faces blacked out"] = photo
    return images


def top_score(detector, rgb: np.ndarray) -> float:
    """The highest face score the detector gives anywhere in ``rgb`` (before any threshold)."""
    _, logits, _, _ = detector.raw(rgb)
    return float(1.0 / (1.0 + np.exp(-float(np.max(logits)))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--out", default="results/detection_threshold.json")
    args = ap.parse_args()
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    pick = np.random.default_rng(0).choice(len(held), min(args.n, len(held)), replace=False)
    images, labels, names = held.images[pick], held.labels[pick], list(held.class_names)
    rows = {f"{s:g}": run(Analyzer(min_face_score=s), images, labels, names, np.zeros(len(images)))
            for s in THRESHOLDS}
    raw = create_detector("blazeface", min_score=0.0)
    faceless = {name: round(top_score(raw, rgb), 3) for name, rgb in faceless_images().items()}
    result = {"data": f"{len(images)} FER2013 Training hold-out faces as photos (padded, enlarged 3x); model: default",
              "thresholds": rows, "faceless_top_scores": faceless,
              "provenance": {**provenance(), "command": "python " + shlex.join(sys.argv)}}
    atomic_write_json(args.out, result)
    for s, r in rows.items():
        print(f"min_face_score {s}: face found {r['face_found']:.1%}, accuracy {r['accuracy']:.1%} "
              f"({r['accuracy_where_found']:.1%} where found)")
    print("highest face score on images with no face:", faceless)


if __name__ == "__main__":
    main()
