"""Test-time augmentation of the default model on the FER2013 Training hold-out (never trained on).

    python benchmarks/tta_holdout.py [--model fer2013_vgg_ens] [--out results/tta_holdout.json]

Scores the calibrated probabilities averaged over: the face and its mirror image (what `evaluate`
does for the default model), and those plus the face shifted by one pixel left, right, up and down
(each with its mirror: 10 passes). Chosen on the hold-out, as the issue asks; PublicTest is not used.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import numpy as np
import torch
import torch.nn.functional as F

from facsnet.data.specs import HOLDOUT_SEED, dataset, holdout_split
from facsnet.hardware import cpu_info
from facsnet.models import load_model, read_checkpoint, resolve_weights
from facsnet.training.predict import predict_logits
from facsnet.utils import atomic_write_json


def shifted(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """uint8 (N, 1, H, W) moved by (dx, dy) pixels, edges repeated."""
    h, w = images.shape[-2:]
    padded = F.pad(images.float(), (1, 1, 1, 1), mode="replicate")
    return padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w].to(torch.uint8)


def scores(probs: list[torch.Tensor], labels: np.ndarray) -> dict:
    pred = torch.stack(probs).mean(0).argmax(1).numpy()
    uar = np.mean([np.mean(pred[labels == c] == c) for c in np.unique(labels)])
    return {"accuracy": round(float(np.mean(pred == labels)), 4), "uar": round(float(uar), 4), "passes": len(probs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="fer2013_vgg_ens")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    temperature = (read_checkpoint(resolve_weights(args.model)).get("calibration") or {}).get("temperature", 1.0)
    net = load_model(args.model)
    x, _ = held.tensors()

    def probs(images):
        return F.softmax(predict_logits(net, images) / temperature, 1)

    flip = [probs(x), probs(x.flip(-1))]
    shifts = [p for d in ((-1, 0), (1, 0), (0, -1), (0, 1)) for s in [shifted(x, *d)] for p in (probs(s), probs(s.flip(-1)))]
    result = {"command": "python " + " ".join(sys.argv), "date": date.today().isoformat(), "host": cpu_info().describe(),
              "model": args.model, "data": f"FER2013 Training hold-out ({len(held)} faces, fixed seed)",
              "mirror": scores(flip, held.labels), "mirror_and_1px_shifts": scores(flip + shifts, held.labels)}
    print(json.dumps(result, indent=1))
    if args.out:
        atomic_write_json(args.out, result)


if __name__ == "__main__":
    main()
