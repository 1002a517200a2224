"""Choose the default model's members from a pool: every sub-ensemble of two or more distinct members
that fits one bundled file (conv and linear weights at int8 with ``--int8``, else fp16), scored on the
FER2013 Training hold-out (the faces `train --val holdout` kept out; never PublicTest) as it would be
served: members' weights as bundled, mirror-averaged, at the temperature fitted on the hold-out.
Each member's log-probabilities are computed once, so a pool of n members costs n passes, not one
pass per subset. The rule is choose_on_holdout.py's: the highest accuracy; a tie goes to the higher
balanced recall. Writes the table (JSON) and the chosen sub-ensemble as bundled, with its hold-out
temperature.

    python scripts/choose_members.py POOL.pt OUT.json CHOSEN.pt [--int8] [--unseen-only | --distinct-only]

``--unseen-only`` scores on the hold-out faces without an exact twin (the same pixels, or those of the mirror
image) in the training part (2,663 of 2,871), ``--distinct-only`` on those without a near twin either (the same
photograph re-cropped or re-toned; 2,511): FER2013 repeats pictures, and a member that learned its training
faces by heart gains on the repeats what it does not gain on new faces (``scripts/fer2013_twins.py``).

POOL.pt: an ensemble (``facsnet ensemble a.pt b.pt ... --out POOL.pt``); a member whose weights equal
an earlier one's (an ensemble that shares members with another) counts once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_weights  # noqa: E402  (scripts/bundle_weights.py, prune_ensemble.py, test_time_ablation.py: beside it)
import prune_ensemble  # noqa: E402
import test_time_ablation  # noqa: E402

from facsnet.data.specs import dataset, kept_out_by
from facsnet.data.splits import unseen_part
from facsnet.models.checkpoint import (bundled_bytes, dequantized_int8, model_from_checkpoint, quantizable,
                                       quantized_int8, read_checkpoint)
from facsnet.models.ensemble import ensemble_checkpoint
from facsnet.models.hub import BUNDLE_LIMIT_BYTES
from facsnet.training.calibration import Calibration, calibrate, tempered_probs
from facsnet.training.predict import predict_logits
from facsnet.utils import atomic_torch_save, atomic_write_json


def distinct_members(members) -> list[int]:
    """0-based positions of the members whose weights differ from every earlier member's."""
    kept: list[int] = []
    for i, net in enumerate(members):
        state = net.state_dict()
        if not any(_same_weights(state, members[j].state_dict()) for j in kept):
            kept.append(i)
    return kept


def _same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def as_served(net: torch.nn.Module, int8: bool) -> torch.nn.Module:
    """``net`` with its weights as a bundled file holds them (int8 or fp16), read back to fp32."""
    state = {}
    for k, v in net.state_dict().items():
        if int8 and quantizable(v):
            v = dequantized_int8(*quantized_int8(v))
        elif v.is_floating_point():
            v = v.half().float()
        state[k] = v
    net.load_state_dict(state)
    return net.eval()


def subsets_that_fit(sizes: list[int], limit: int = BUNDLE_LIMIT_BYTES) -> list[tuple[int, ...]]:
    """0-based positions (into ``sizes``) of every subset of two or more members whose weights fit ``limit``."""
    return [tuple(i - 1 for i in keep) for keep in prune_ensemble.subsets_that_fit(sizes, limit)]


def mean_prob_logits(log_probs: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    """What the ensemble of ``keep`` outputs: the log of its members' mean probability."""
    return np.log(np.exp(log_probs[list(keep)]).mean(0).clip(1e-30))


def calibrated_subset(face: np.ndarray, mirror: np.ndarray, labels: np.ndarray, keep: tuple[int, ...],
                      name: str) -> tuple[Calibration, np.ndarray]:
    """The temperature of the sub-ensemble ``keep`` fitted on these faces (mirror-averaged, as served) and
    its probabilities at that temperature."""
    logits, flipped = mean_prob_logits(face, keep), mean_prob_logits(mirror, keep)
    cal = calibrate(logits, labels, fitted_on=name, flipped_logits=flipped)
    return cal, tempered_probs(logits, cal.temperature, flipped)


def score_subset(face: np.ndarray, mirror: np.ndarray, labels: np.ndarray, keep: tuple[int, ...], name: str) -> dict:
    """Calibrated (temperature on these faces) and mirror-averaged: accuracy, balanced recall, ECE, NLL."""
    cal, probs = calibrated_subset(face, mirror, labels, keep, name)
    return {**test_time_ablation.scores(probs, labels), "temperature": cal.temperature}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pool")
    ap.add_argument("out_json")
    ap.add_argument("chosen")
    ap.add_argument("--int8", action="store_true", help="members as int8 bundles hold them (else fp16)")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--unseen-only", action="store_true",
                      help="score on the hold-out faces without an exact twin in the training part (what a member "
                           "learned by heart does not count)")
    only.add_argument("--distinct-only", action="store_true",
                      help="score on the hold-out faces without a twin, exact or near (re-cropped, re-toned), in "
                           "the training part")
    args = ap.parse_args()
    ck = read_checkpoint(args.pool)
    if ck["model_name"] != "ensemble":
        raise SystemExit(f"{args.pool}: not an ensemble")
    pool = model_from_checkpoint(ck, where=args.pool)
    records = ck.get("members") or [{} for _ in pool.members]
    distinct = distinct_members(pool.members)
    members = [as_served(pool.members[i], args.int8) for i in distinct]
    sizes = [bundled_bytes(net.state_dict(), args.int8) for net in members]
    subsets = subsets_that_fit(sizes)
    if not subsets:
        raise SystemExit(f"{args.pool}: no two of its members fit {BUNDLE_LIMIT_BYTES} bytes together")
    parts = kept_out_by((ck.get("data") or {}).get("val"), dataset("fer2013", "train"), 0.1)
    if parts is None:
        raise SystemExit(f"{args.pool}: its members were not validated on the FER2013 Training hold-out")
    trained_on, held = parts
    if args.unseen_only or args.distinct_only:
        held = unseen_part(held, trained_on, near=args.distinct_only)
    x, _ = held.tensors()
    labels = np.asarray(held.labels)
    face = np.stack([torch.log_softmax(predict_logits(net, x).float(), 1).numpy() for net in members])
    mirror = np.stack([torch.log_softmax(predict_logits(net, x.flip(-1)).float(), 1).numpy() for net in members])
    names = [f"{i + 1}" for i in distinct]                      # 1-based positions in the pool
    rows = [{"members": [names[i] for i in keep], "bytes": sum(sizes[i] for i in keep) + prune_ensemble.METADATA_BYTES,
             **score_subset(face, mirror, labels, keep, held.name)} for keep in subsets]
    best = max(range(len(rows)), key=lambda i: (rows[i]["accuracy"], rows[i]["uar"]))
    keep = [distinct[i] + 1 for i in subsets[best]]
    pool_records = [{"position": i + 1, "model_name": records[i].get("model_name"), "epoch": records[i].get("epoch"),
                     "source": str(records[i].get("source", "")).replace(str(Path.home()), "~"),
                     "seed": (records[i].get("train_config") or {}).get("seed"),
                     "bundled_bytes": sizes[distinct.index(i)]} for i in distinct]
    # the chosen members as bundled (int8 or fp16: the weights they were scored with), with the temperature
    # fitted on their hold-out outputs above: the file is ready to bundle
    cal, _ = calibrated_subset(face, mirror, labels, subsets[best], held.name)
    raw = Path(args.chosen).with_name(f"{Path(args.chosen).stem}_pool.pt")
    try:
        ensemble_checkpoint([args.pool], str(raw), keep=keep)
        bundle_weights.main(str(raw), args.chosen, int8=args.int8)
    finally:
        raw.unlink(missing_ok=True)
    atomic_torch_save({**read_checkpoint(args.chosen), "calibration": cal.to_dict(), "inference": {"tta_flip": True}},
                      args.chosen)
    atomic_write_json(args.out_json, {
        "data": held.name, "n": len(held), "unseen_only": args.unseen_only, "distinct_only": args.distinct_only, "weights": "int8" if args.int8 else "fp16", "pool": pool_records,
        "rule": "highest accuracy on the hold-out; a tie goes to the higher balanced recall",
        "candidates": sorted(rows, key=lambda r: (-r["accuracy"], -r["uar"])), "chosen": rows[best]["members"],
        "chosen_calibration": cal.to_dict()})
    print(f"{len(rows)} sub-ensembles of {len(members)} members scored; chosen: members "
          f"{', '.join(rows[best]['members'])} (hold-out {rows[best]['accuracy']:.2%}, UAR {rows[best]['uar']:.2%}) "
          f"-> {args.chosen}")


if __name__ == "__main__":
    main()
