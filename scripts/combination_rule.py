"""How the default model's members are best combined: the mean of their probabilities (as served), the
mean of their log-probabilities (a geometric mean), or a weighted mean of probabilities with weights fitted
on held-out faces.

Each member's log-probabilities on the face and its mirror are computed once. Every rule is read as the
model is served: mirror-averaged, at a temperature fitted on the faces that choose, class prior corrected
at the strength the model records. Scored on the FER2013 Training hold-out (never trained on; what
chooses) and on all of CK+48 as-is (reported, never used to choose). PublicTest is not looked at.

The weights and the temperature are fitted on a random half of the hold-out and scored on the other half,
over 20 random halvings each way: the mean gain over the served rule on the unseen half is what a rule is
worth beyond the faces it was fitted on. A rule is worth adopting only if that gain is clearly above zero.

    python scripts/combination_rule.py [--model fer2013_vgg_ens] [--out results/ablation/combination_rule.json]

Writes JSON (with the command, host and date) and a markdown table beside it.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_time_ablation import (accuracy, face_and_mirror_outputs, scores, table_parser, uar,  # noqa: E402
                                write_table)

from facsnet.models import load_model, read_checkpoint, resolve_weights  # noqa: E402
from facsnet.models.checkpoint import class_prior_of, served_prior_strength  # noqa: E402
from facsnet.provenance import provenance  # noqa: E402
from facsnet.training.calibration import fit_temperature, prior_corrected, tempered_probs  # noqa: E402

HALVINGS = 20


def _log_mean_exp(lp: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """log of the ``weights``-weighted mean over members (axis 0) of exp(lp)."""
    top = lp.max(0)
    return top + np.log(np.einsum("m,mnc->nc", weights, np.exp(lp - top)).clip(1e-300))


def mean_probability(lp: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Logits of the members' (weighted) mean probability: what the ensemble serves when unweighted."""
    w = np.full(len(lp), 1 / len(lp)) if weights is None else weights
    return _log_mean_exp(lp, w)


def mean_log_probability(lp: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Logits of the members' geometric mean probability (a softmax renormalises it)."""
    return lp.mean(0)


def fitted_weights(face: np.ndarray, mirror: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Member weights (non-negative, summing to 1) of the mean probability that minimise the negative
    log-likelihood of the mirror-averaged prediction on these faces."""
    n_members = len(face)
    rows = np.arange(len(labels))

    def nll(theta: np.ndarray) -> float:
        w = np.exp(theta - theta.max())
        w /= w.sum()
        p = 0.5 * (np.exp(_log_mean_exp(face, w)) + np.exp(_log_mean_exp(mirror, w)))
        return float(-np.log(p[rows, labels].clip(1e-300)).mean())

    theta = minimize(nll, np.zeros(n_members), method="Nelder-Mead",
                     options={"xatol": 1e-3, "fatol": 1e-6, "maxiter": 2000}).x
    w = np.exp(theta - theta.max())
    return w / w.sum()


RULES = {"mean_probability": (mean_probability, False), "mean_log_probability": (mean_log_probability, False),
         "weighted_mean_probability": (mean_probability, True)}


def fit_rule(rule: str, face: np.ndarray, mirror: np.ndarray, labels: np.ndarray) -> dict:
    """What ``rule`` learns from these faces: member weights (when it has them) and a temperature."""
    combine, weighted = RULES[rule]
    w = fitted_weights(face, mirror, labels) if weighted else None
    t = fit_temperature(combine(face, w), labels, combine(mirror, w))
    return {"weights": w, "temperature": t}


def served_probs(rule: str, fitted: dict, face: np.ndarray, mirror: np.ndarray, prior, strength: float) -> np.ndarray:
    combine, _ = RULES[rule]
    p = tempered_probs(combine(face, fitted["weights"]), fitted["temperature"], combine(mirror, fitted["weights"]))
    return prior_corrected(p, prior, strength) if prior is not None and strength else p


def cross_fitted_gains(face: np.ndarray, mirror: np.ndarray, labels: np.ndarray, prior, strength: float,
                       halvings: int = HALVINGS, seed: int = 0) -> dict:
    """rule -> mean and sd over halvings of (accuracy, UAR) gain over the served rule on the unseen half."""
    rng = np.random.default_rng(seed)
    gains = {rule: [] for rule in RULES if rule != "mean_probability"}
    for _ in range(halvings):
        order = rng.permutation(len(labels))
        for fit_idx, score_idx in ((order[::2], order[1::2]), (order[1::2], order[::2])):
            def scored(rule):
                fitted = fit_rule(rule, face[:, fit_idx], mirror[:, fit_idx], labels[fit_idx])
                p = served_probs(rule, fitted, face[:, score_idx], mirror[:, score_idx], prior, strength)
                return accuracy(p, labels[score_idx]), uar(p, labels[score_idx])
            base = np.array(scored("mean_probability"))
            for rule in gains:
                gains[rule].append(np.array(scored(rule)) - base)
    return {rule: {"accuracy_gain_mean": round(float(np.mean([g[0] for g in gs])), 5),
                   "accuracy_gain_sd": round(float(np.std([g[0] for g in gs])), 5),
                   "uar_gain_mean": round(float(np.mean([g[1] for g in gs])), 5),
                   "uar_gain_sd": round(float(np.std([g[1] for g in gs])), 5), "splits": len(gs)}
            for rule, gs in gains.items()}


def markdown(result: dict) -> str:
    lines = [f"# How the members of `{result['model']}` are combined", "",
             f"{result['data']}. Served: mirror-averaged, temperature fitted on the hold-out, class prior "
             f"corrected at strength {result['prior_strength']}.", "",
             "| rule | hold-out accuracy | hold-out UAR | hold-out ECE | CK+48 accuracy | CK+48 UAR | weights |",
             "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        w = ", ".join(f"{x:.2f}" for x in r["weights"]) if r["weights"] else "equal"
        lines.append(f"| {r['rule']} | {r['holdout']['accuracy']:.2%} | {r['holdout']['uar']:.2%} | "
                     f"{r['holdout']['ece']:.3f} | {r['ckplus48']['accuracy']:.2%} | {r['ckplus48']['uar']:.2%} | {w} |")
    lines += ["", f"Fitted on one half of the hold-out, scored on the other ({HALVINGS} halvings each way), "
              "gain over the mean probability (points):", "",
              "| rule | accuracy gain (sd) | UAR gain (sd) |", "|---|---|---|"]
    for rule, g in result["cross_fitted"].items():
        lines.append(f"| {rule} | {100 * g['accuracy_gain_mean']:+.2f} ({100 * g['accuracy_gain_sd']:.2f}) | "
                     f"{100 * g['uar_gain_mean']:+.2f} ({100 * g['uar_gain_sd']:.2f}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = table_parser(__doc__, "results/ablation/combination_rule.json").parse_args()
    ckpt = read_checkpoint(resolve_weights(args.model))
    if ckpt["model_name"] != "ensemble":
        raise SystemExit(f"{args.model}: not an ensemble; this table compares ways of combining members")
    net = load_model(args.model)
    prior, strength = class_prior_of(ckpt), served_prior_strength(ckpt)
    outputs = {key: out[:3] for key, out in face_and_mirror_outputs(net, list(net.class_names)).items()}
    face, mirror, labels = outputs["holdout"]
    rows = []
    for rule in RULES:
        fitted = fit_rule(rule, face, mirror, labels)
        rows.append({"rule": rule, "temperature": round(float(fitted["temperature"]), 4),
                     "weights": None if fitted["weights"] is None else [round(float(v), 4) for v in fitted["weights"]],
                     **{key: scores(served_probs(rule, fitted, f, m, prior, strength), y)
                        for key, (f, m, y) in outputs.items()}})
    members = [f"{m['model_name']} epoch {m.get('epoch')} ({Path(m.get('source', '?')).parent.name})"
               for m in ckpt.get("members", [])]
    result = {"model": args.model, "members": members, "prior_strength": strength,
              "data": f"FER2013 Training hold-out ({len(labels)} faces, fixed seed); CK+48 all "
                      f"{len(outputs['ckplus48'][2])} faces as-is",
              "rows": rows, "cross_fitted": cross_fitted_gains(face, mirror, labels, prior, strength),
              "provenance": {**provenance(), "command": "python " + shlex.join(sys.argv)}}
    write_table(result, args.out, markdown)


if __name__ == "__main__":
    main()
