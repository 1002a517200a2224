"""Does adapting the default model to a collection's own class shares pay, where those shares differ from
FER2013's? The shares are estimated from the model's probabilities alone, by EM (no labels;
``adapted_to_collection`` below), against the fixed corrections: none (S = 0), the
served strength, and equally likely classes (S = 1); and every fixed strength S = 0, 0.1, ..., 1.

Collections with known shares are drawn from the FER2013 Training hold-out (never trained on): its faces
split into two random halves; the temperature is fitted on one; from the other, collections of 1,000 faces
are drawn (with replacement within each class) at the hold-out's own shares (no shift), at equal shares,
at shares drawn around equal ones (Dirichlet, concentration 5 per class) and at shares drawn around
FER2013's own (Dirichlet, 20 times the training shares: drift from a similar source). Then, over collections
at shares spread between FER2013's and equal ones, the gain of equally likely classes over the served strength
by how far the collection's shares lie from the training shares (total variation over the classes drawn, as
``facsnet evaluate`` measures it): where it turns positive
is ``facsnet.training.calibration.SHARE_DISTANCE_FOR_BALANCED``, past which ``facsnet evaluate`` suggests
``--balanced``. CK+48, another source
with other shares (19% disgust), is scored as a whole, as-is, and reported only. PublicTest is not looked at.

    python scripts/prior_adaptation.py [--model fer2013_vgg_ens] [--out results/ablation/prior_adaptation.json]

Writes JSON (with the command, host and date) and a markdown table beside it.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from combination_rule import mean_probability  # noqa: E402
from test_time_ablation import (accuracy, as_ensemble, face_and_mirror_outputs, scores, table_parser, uar,  # noqa: E402
                                write_table)

from facsnet.models import load_model, read_checkpoint, resolve_weights  # noqa: E402
from facsnet.models.checkpoint import class_prior_of, served_prior_strength  # noqa: E402
from facsnet.provenance import provenance  # noqa: E402
from facsnet.training.calibration import (PRIOR_STRENGTHS, SHARE_DISTANCE_FOR_BALANCED,  # noqa: E402
                                          class_share_distance, fit_temperature, prior_corrected, tempered_probs)

HALVINGS = 10
COLLECTION = 1000
DRAWS = 10          # random shares per family and halving
SPREAD_DRAWS = 60   # collections per halving for the gain by distance
DISTANCE_BINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 1.0)


def adapted_to_collection(probs: np.ndarray, prior, max_iter: int = 200, tol: float = 1e-6
                          ) -> tuple[np.ndarray, list[float], int]:
    """Probabilities for the class shares of the faces they were computed on, estimated by EM (Saerens,
    Latinne & Decaestecker 2002, "Adjusting the outputs of a classifier to new a priori probabilities"):
    starting from the training ``prior``, each face's probabilities are reweighted by the estimated shares
    over the training shares, and the shares re-estimated as the mean of the reweighted probabilities,
    until they settle. No label is used; it assumes calibrated ``probs`` (at the model's temperature,
    uncorrected). Returns the adapted probabilities, the estimated shares and the iterations run."""
    p = np.asarray(probs, dtype=np.float64)
    train = np.asarray(prior, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != len(train) or len(p) == 0:
        raise ValueError(f"probabilities of shape {p.shape} do not match a prior over {len(train)} classes")
    shares = train.copy()
    for iteration in range(1, max_iter + 1):
        adapted = p * (shares / train)
        adapted /= adapted.sum(axis=1, keepdims=True)
        settled = float(np.abs(adapted.mean(axis=0) - shares).max()) < tol
        shares = adapted.mean(axis=0)
        if settled:
            break
    adapted = p * (shares / train)
    return adapted / adapted.sum(axis=1, keepdims=True), [round(float(s), 6) for s in shares], iteration


def methods(probs: np.ndarray, prior, served: float) -> dict[str, np.ndarray]:
    """Each way of reading calibrated, uncorrected ``probs``: the fixed corrections and the EM adaptation."""
    return {"uncorrected": probs, f"served_strength_{served:g}": prior_corrected(probs, prior, served),
            "equal_classes": prior_corrected(probs, prior, 1.0), "adapted": adapted_to_collection(probs, prior)[0]}


def drawn_collection(labels: np.ndarray, shares: np.ndarray, size: int, rng) -> np.ndarray:
    """Indices of ``size`` faces whose classes follow ``shares`` (drawn with replacement within each class)."""
    counts = rng.multinomial(size, shares)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), k, replace=True)
                           for c, k in enumerate(counts) if k])


def shifted_collections(face: np.ndarray, mirror: np.ndarray, labels: np.ndarray, prior, served: float,
                        seed: int = 0) -> dict:
    """family -> method -> mean accuracy and UAR over the collections drawn from unseen halves."""
    rng = np.random.default_rng(seed)
    n_classes = face.shape[1]
    got: dict[str, dict[str, list]] = {}
    for _ in range(HALVINGS):
        order = rng.permutation(len(labels))
        for fit_idx, score_idx in ((order[::2], order[1::2]), (order[1::2], order[::2])):
            t = fit_temperature(face[fit_idx], labels[fit_idx], mirror[fit_idx])
            probs, y = tempered_probs(face[score_idx], t, mirror[score_idx]), labels[score_idx]
            own = np.bincount(y, minlength=n_classes) / len(y)
            families = {"no_shift": [own], "equal_shares": [np.full(n_classes, 1 / n_classes)],
                        "around_equal_shares": list(rng.dirichlet(5 * np.ones(n_classes), DRAWS)),
                        "around_training_shares": list(rng.dirichlet(20 * np.asarray(prior), DRAWS))}
            for family, all_shares in families.items():
                for shares in all_shares:
                    idx = drawn_collection(y, shares, COLLECTION, rng)
                    read = {**methods(probs[idx], prior, served),
                            **{f"strength_{s:.1f}": prior_corrected(probs[idx], prior, s) for s in PRIOR_STRENGTHS}}
                    for method, p in read.items():
                        got.setdefault(family, {}).setdefault(method, []).append(
                            (accuracy(p, y[idx]), uar(p, y[idx])))
    return {family: {method: {"accuracy": round(float(np.mean([a for a, _ in v])), 4),
                              "uar": round(float(np.mean([u for _, u in v])), 4), "collections": len(v)}
                     for method, v in by_method.items()} for family, by_method in got.items()}


def gain_by_share_distance(face: np.ndarray, mirror: np.ndarray, labels: np.ndarray, prior, served: float,
                           seed: int = 1) -> list[dict]:
    """Collections at shares spread between the training ones and equal ones (a random mix of the two, then
    Dirichlet around it at concentration 5, 20 or 100 per class), from unseen halves of the hold-out: the
    mean accuracy gain of equally likely classes over the served strength, by distance bin."""
    rng = np.random.default_rng(seed)
    prior = np.asarray(prior)
    n_classes = len(prior)
    got = []
    for _ in range(HALVINGS // 2):
        order = rng.permutation(len(labels))
        for fit_idx, score_idx in ((order[::2], order[1::2]), (order[1::2], order[::2])):
            t = fit_temperature(face[fit_idx], labels[fit_idx], mirror[fit_idx])
            probs, y = tempered_probs(face[score_idx], t, mirror[score_idx]), labels[score_idx]
            for _ in range(SPREAD_DRAWS):
                mix = rng.uniform()
                shares = rng.dirichlet(rng.choice([5, 20, 100]) * n_classes * (mix * prior + (1 - mix) / n_classes))
                idx = drawn_collection(y, shares, COLLECTION, rng)
                gain = (accuracy(prior_corrected(probs[idx], prior, 1.0), y[idx])
                        - accuracy(prior_corrected(probs[idx], prior, served), y[idx]))
                # the distance as `facsnet evaluate` measures it: from the faces drawn, over the classes they have
                got.append((class_share_distance(np.bincount(y[idx], minlength=n_classes), prior), gain))
    got = np.array(got)
    rows = []
    for lo, hi in zip(DISTANCE_BINS, DISTANCE_BINS[1:]):
        inside = (got[:, 0] >= lo) & (got[:, 0] < hi)
        if inside.any():
            rows.append({"from": lo, "to": hi, "collections": int(inside.sum()),
                         "accuracy_gain_mean": round(float(got[inside, 1].mean()), 5),
                         "accuracy_gain_sd": round(float(got[inside, 1].std()), 5)})
    return rows


def markdown(result: dict) -> str:
    meths = [m for m in next(iter(result["collections"].values())) if not m.startswith("strength_")]
    strengths = [m for m in next(iter(result["collections"].values())) if m.startswith("strength_")]
    lines = [f"# Adapting `{result['model']}` to a collection's class shares", "", result["data"] + ".", "",
             "Collections of 1,000 faces drawn from the unseen half of the FER2013 Training hold-out "
             "(mean accuracy / UAR):", "",
             "| shares | " + " | ".join(meths) + " |", "|---" * (len(meths) + 1) + "|"]
    for family, by_method in result["collections"].items():
        lines.append(f"| {family} | " + " | ".join(f"{by_method[m]['accuracy']:.2%} / {by_method[m]['uar']:.2%}"
                                                   for m in meths) + " |")
    lines += ["", "Every fixed strength S (accuracy / UAR):", "",
              "| shares | " + " | ".join(m.removeprefix("strength_") for m in strengths) + " |",
              "|---" * (len(strengths) + 1) + "|"]
    for family, by_method in result["collections"].items():
        lines.append(f"| {family} | " + " | ".join(f"{100 * by_method[m]['accuracy']:.1f} / {100 * by_method[m]['uar']:.1f}"
                                                   for m in strengths) + " |")
    lines += ["", f"Gain in accuracy of `--balanced` over the served strength, by how far a collection's shares lie "
              f"from the training shares (total variation over the classes drawn, measured on the faces drawn; "
              f"`facsnet evaluate` suggests `--balanced` from {result['share_distance_for_balanced']:g}, for 200 "
              f"labelled faces or more):", "",
              "| distance | collections | accuracy gain, points (sd) |", "|---|---|---|"]
    for r in result["by_share_distance"]:
        lines.append(f"| {r['from']:.2f}-{r['to']:.2f} | {r['collections']} | "
                     f"{100 * r['accuracy_gain_mean']:+.2f} ({100 * r['accuracy_gain_sd']:.2f}) |")
    lines += ["", "All of CK+48 as-is (accuracy / UAR / ECE):", "", "| method | accuracy | UAR | ECE |",
              "|---|---|---|---|"]
    for method, s in result["ckplus48"].items():
        lines.append(f"| {method} | {s['accuracy']:.2%} | {s['uar']:.2%} | {s['ece']:.3f} |")
    est = result["ckplus48_estimated_shares"]
    lines += ["", "CK+48's class shares as the EM estimates them, against its labels' (training shares in brackets): "
              + ", ".join(f"{c} {e:.1%} vs {t:.1%} ({p:.1%})" for c, e, t, p in
                          zip(result["classes"], est, result["ckplus48_label_shares"], result["training_shares"]))]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = table_parser(__doc__, "results/ablation/prior_adaptation.json").parse_args()
    ckpt = read_checkpoint(resolve_weights(args.model))
    net = load_model(args.model)
    prior, served = class_prior_of(ckpt), served_prior_strength(ckpt)
    if prior is None:
        raise SystemExit(f"{args.model}: no training class counts in the checkpoint; nothing to adapt from")
    # one network reads as an ensemble of one
    carrier = as_ensemble(net)
    out = {key: (mean_probability(face), mean_probability(mirror), labels, left_out)
           for key, (face, mirror, labels, left_out) in face_and_mirror_outputs(carrier, list(net.class_names)).items()}
    face, mirror, labels, _ = out["holdout"]
    collections = shifted_collections(face, mirror, labels, prior, served)
    by_distance = gain_by_share_distance(face, mirror, labels, prior, served)
    t = fit_temperature(face, labels, mirror)
    cf, cm, cy, left_out = out["ckplus48"]
    ck_probs = tempered_probs(cf, t, cm)
    ck = {method: scores(p, cy) for method, p in methods(ck_probs, prior, served).items()}
    _, estimated_shares, iterations = adapted_to_collection(ck_probs, prior)
    n_classes = len(net.class_names)
    result = {"model": args.model, "prior_strength_served": served, "temperature": round(float(t), 4),
              "classes": list(net.class_names), "training_shares": [round(float(p), 4) for p in prior],
              "data": f"FER2013 Training hold-out ({len(labels)} faces, fixed seed; {HALVINGS} halvings each way, "
                      f"temperature fitted on one half); CK+48 all {len(cy)} faces as-is (left out: {left_out}), "
                      f"at the temperature fitted on the whole hold-out",
              "collections": collections, "by_share_distance": by_distance,
              "share_distance_for_balanced": SHARE_DISTANCE_FOR_BALANCED,
              "ckplus48_share_distance": round(class_share_distance(np.bincount(cy, minlength=n_classes), prior), 4),
              "ckplus48": ck,
              "ckplus48_estimated_shares": estimated_shares, "ckplus48_em_iterations": iterations,
              "ckplus48_label_shares": [round(float(v), 4) for v in np.bincount(cy, minlength=n_classes) / len(cy)],
              "provenance": {**provenance(), "command": "python " + shlex.join(sys.argv)}}
    write_table(result, args.out, markdown)


if __name__ == "__main__":
    main()
