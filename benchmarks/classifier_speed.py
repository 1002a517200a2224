"""Images per second of FaceClassifier for several models, alternated round by round on this host.

    python benchmarks/classifier_speed.py --models fer2013_vgg_ens,fer2013_bn --rounds 3 --out results/bench_classifier.json

Inputs are random 48x48 crops (speed only). Each model is loaded once with its defaults (backend
auto, precision auto, its own mirror averaging); the medians over rounds are reported.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date

import numpy as np


def rate(classifier, crops: np.ndarray, seconds: float) -> float:
    classifier.predict_proba(crops)   # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        classifier.predict_proba(crops)
        n += len(crops)
    return n / (time.perf_counter() - start)


def main() -> None:
    from facsnet.hardware import cpu_info
    from facsnet.inference import FaceClassifier
    from facsnet.utils import atomic_write_json

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="fer2013_vgg_ens,fer2013_bn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    crops = np.random.default_rng(0).integers(0, 256, (256, 48, 48), dtype=np.uint8)
    models = {name: FaceClassifier(name) for name in args.models.split(",")}
    runs = {name: {"b1": [], "b256": []} for name in models}
    for _ in range(args.rounds):
        for name, clf in models.items():
            runs[name]["b1"].append(rate(clf, crops[:1], args.seconds))
            runs[name]["b256"].append(rate(clf, crops, args.seconds))
    result = {"command": "python " + " ".join(sys.argv), "date": date.today().isoformat(),
              "host": cpu_info().describe(), "rounds": args.rounds, "models": {
        name: {"backend": clf.backend, "precision": clf.precision, "tta_flip": clf.tta_flip,
               "img_per_s_b1": round(statistics.median(runs[name]["b1"])),
               "img_per_s_b256": round(statistics.median(runs[name]["b256"]))} for name, clf in models.items()}}
    print(json.dumps(result, indent=1))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
