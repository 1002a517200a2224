"""When do the paper's CNN's conv2 filters die? Train it from scratch for 150 steps (batch 64, a
seeded 9,600-image sample of FER2013 Training, fp32 on the CPU) under a few recipes and count the
filters per layer that still fire on FER2013 PublicTest (as scripts/dead_filters.py does).

    python scripts/dead_filters_early.py [--out results/interpret/dead_filters_early.json]   # ~15 min on 2 cores

A diagnostic for choosing the recipes of scripts/gpu_fer_recipes.sh, not a training result:
after 150 steps the warm-up recipes have not reached their full learning rate yet.
"""
from __future__ import annotations

import argparse

import numpy as np

from facsnet.data import load_dataset
from facsnet.interpret.activations import activation_tables, live_filter_counts
from facsnet.training import TrainConfig, train
from facsnet.utils import atomic_write_json

STEPS, BATCH = 150, 64
RECIPES = {
    "paper": {},
    "paper_warmup2000": {"warmup_steps": 2000},
    "sgd_cosine_warmup500": dict(optimizer="sgd", lr=0.01, weight_decay=5e-4, schedule="cosine", warmup_steps=500),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="results/interpret/dead_filters_early.json")
    ap.add_argument("--runs", default="/tmp/dead_filters_early")
    args = ap.parse_args()
    train_set, val = load_dataset("fer2013", "train"), load_dataset("fer2013", "validation")
    sample = np.sort(np.random.default_rng(0).choice(len(train_set), STEPS * BATCH, replace=False))
    images, _ = val.tensors()
    out = {"steps": STEPS, "batch_size": BATCH, "data": f"{STEPS * BATCH} FER2013 Training images (seed 0); "
           f"filters counted on PublicTest ({len(val)})", "command": "python scripts/dead_filters_early.py", "recipes": {}}
    for name, settings in RECIPES.items():
        cfg = TrainConfig(epochs=1, batch_size=BATCH, precision="fp32", device="cpu", progress=False, **settings)
        res = train(train_set.subset(sample), None, cfg, out_dir=f"{args.runs}/{name}")
        alive = live_filter_counts(activation_tables(res.model, images))
        out["recipes"][name] = {"alive": alive, "train_loss": res.history[-1]["train_loss"],
                                "lr_after": res.history[-1]["lr"], "settings": settings}
        print(name, out["recipes"][name], flush=True)
    atomic_write_json(args.out, out)


if __name__ == "__main__":
    main()
