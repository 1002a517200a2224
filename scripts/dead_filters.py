"""Live filters per conv layer of bundled models on FER2013 PublicTest: a filter is live if its
rectified response exceeds 0 somewhere on at least one image (``facsnet.interpret.dead_filters``).

    python scripts/dead_filters.py [--models fer2013,fer2013_bn] [--out results/interpret/dead_filters.json]
"""
from __future__ import annotations

import argparse

import torch

from facsnet.data import load_dataset
from facsnet.interpret.activations import dead_filters, max_activation_table
from facsnet.pretrained import load_model, weights_digest
from facsnet.utils import atomic_write_json


def live_filters(model, images: torch.Tensor) -> dict[str, int]:
    return {layer: int((~dead_filters(max_activation_table(model, images, layer))).sum())
            for layer in model.conv_layers()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="fer2013,fer2013_bn")
    ap.add_argument("--out", default="results/interpret/dead_filters.json")
    args = ap.parse_args()
    data = load_dataset("fer2013", "validation")
    images = torch.from_numpy(data.images)
    images = images.unsqueeze(1) if images.ndim == 3 else images
    result = {"data": f"FER2013 PublicTest ({len(data)} images)", "eps": 0.0, "models": {}}
    for name in args.models.split(","):
        model = load_model(name)
        live = live_filters(model, images)
        total = {layer: conv.out_channels for layer, conv in model.conv_layers().items()}
        result["models"][name] = {"alive_filters": live, "total_filters": total, "weights_sha256": weights_digest(name)}
        print(name, ", ".join(f"{layer} {live[layer]} of {total[layer]}" for layer in live))
    atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
