"""How alike the default model's member networks are on the FER2013 Training hold-out: for each pair,
the share of faces both label the same and, of the faces either gets wrong, the share both get wrong.
A member that repeats the others' mistakes adds little to their average.

    python scripts/member_agreement.py OUT.json NAME=CHECKPOINT.pt [NAME=CHECKPOINT.pt ...]
"""
import itertools
import sys
from pathlib import Path

from facsnet.api import HOLDOUT_SEED, dataset, holdout_split
from facsnet.models.hub import load_model
from facsnet.training.predict import predict_logits
from facsnet.utils import atomic_write_json


def pair_stats(preds: dict, y) -> dict:
    """For each pair of named label tensors: the share of faces labelled alike, and of the faces either gets
    wrong, the share both get wrong (1.0 when neither gets any wrong)."""
    rows = {}
    for a, b in itertools.combinations(preds, 2):
        wrong_a, wrong_b = preds[a] != y, preds[b] != y
        either = (wrong_a | wrong_b).sum().item()
        rows[f"{a}-{b}"] = {"agreement": round((preds[a] == preds[b]).float().mean().item(), 4),
                            "shared_errors": round((wrong_a & wrong_b).sum().item() / either, 4) if either else 1.0}
    return rows


def main(out: str, *named: str) -> None:
    if len(named) < 2 or any("=" not in n for n in named):
        raise SystemExit("member_agreement.py: give two or more NAME=CHECKPOINT.pt")
    _, held = holdout_split(dataset("fer2013", "train"), 0.1, HOLDOUT_SEED)
    x, y = held.tensors()
    preds = {}
    for item in named:
        name, path = item.split("=", 1)
        preds[name] = predict_logits(load_model(path), x, tta_flip=True).argmax(1)
    rows = pair_stats(preds, y)
    accuracy = {n: round((p == y).float().mean().item(), 4) for n, p in preds.items()}
    atomic_write_json(out, {"data": held.name, "n": len(held), "accuracy_mirror_averaged": accuracy, "pairs": rows,
                            "command": ("python scripts/member_agreement.py " + " ".join([out, *named])).replace(str(Path.home()), "~")})
    for pair, r in rows.items():
        print(f"{pair:8s} agreement {r['agreement']:.4f}  shared errors {r['shared_errors']:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
