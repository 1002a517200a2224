"""Score candidate checkpoints on the FER2013 Training hold-out (the faces `train --val holdout`
kept out, never PublicTest), write the table, print the path of the most accurate one (of equally
accurate ones, the one with the higher balanced recall: faces from elsewhere come with other class
shares, and are scored by it).

    python scripts/choose_on_holdout.py OUT.json CANDIDATE.pt [CANDIDATE.pt ...]
"""
import sys
from pathlib import Path

from facsnet.api import HOLDOUT_SEED, dataset, holdout_split
from facsnet.models.hub import load_model
from facsnet.training import evaluate_on
from facsnet.utils import atomic_write_json


def main(out: str, *candidates: str) -> None:
    if not candidates:
        raise SystemExit("choose_on_holdout.py: no candidate checkpoints given")
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    rows = []
    for path in candidates:
        # temperature and mirror as each model says; every candidate uncorrected for the class prior (a bundled
        # model records a strength, a new candidate none: one basis for all; score_once chooses it afterwards)
        res = evaluate_on(load_model(path), held, model_label=path, balanced=False)
        rows.append({"model": path.replace(str(Path.home()), "~"), "accuracy": round(res.accuracy, 4),
                     "uar": round(res.uar, 4), "ece": round(res.ece, 4), "nll": round(res.nll, 4), "n": res.n,
                     "tta_flip": res.tta_flip, "temperature": res.temperature})
    best = max(range(len(rows)), key=lambda i: (rows[i]["accuracy"], rows[i]["uar"]))
    atomic_write_json(out, {"data": held.name, "n": len(held), "candidates": rows, "chosen": rows[best]["model"],
                            "rule": "highest accuracy on the hold-out; a tie goes to the higher balanced recall"})
    print(candidates[best])


if __name__ == "__main__":
    main(*sys.argv[1:])
