"""Live filters per conv layer of bundled models on FER2013 PublicTest: a filter is live if its
rectified response exceeds 0 somewhere on at least one image (``facsnet.interpret.activations``).

    python scripts/dead_filters.py [--models fer2013,fer2013_bn] [--out results/interpret/dead_filters.json]
"""
from __future__ import annotations

import argparse

from facsnet.data import load_dataset
from facsnet.interpret.activations import activation_tables, live_filter_counts
from facsnet.models.hub import load_model, weights_digest
from facsnet.utils import atomic_write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="fer2013,fer2013_bn")
    ap.add_argument("--out", default="results/interpret/dead_filters.json")
    args = ap.parse_args()
    data = load_dataset("fer2013", "validation")
    images, _ = data.tensors()
    result = {"data": f"FER2013 PublicTest ({len(data)} images)", "eps": 0.0, "models": {}}
    for name in args.models.split(","):
        model = load_model(name)
        tables = activation_tables(model, images)
        live, total = live_filter_counts(tables), {layer: t.shape[1] for layer, t in tables.items()}
        result["models"][name] = {"alive_filters": live, "total_filters": total, "weights_sha256": weights_digest(name)}
        print(name, ", ".join(f"{layer} {live[layer]} of {total[layer]}" for layer in live))
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
