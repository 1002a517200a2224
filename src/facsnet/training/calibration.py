"""Calibrated probabilities: temperature scaling (Guo et al. 2017) and expected calibration error.

A network trained with cross-entropy is over-confident on faces unlike its training set; dividing
its logits by one temperature T, fitted on held-out faces to minimise the negative log-likelihood,
keeps every prediction (the argmax does not move) and makes the probabilities mean what they say.
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..data.specs import HOLDOUT_VALS, dataset, holdout_part, kept_out_by
from ..data.splits import check_val_fraction
from ..models.checkpoint import class_prior_of, model_from_checkpoint, read_checkpoint
from ..models.hub import resolve_weights
from ..utils import atomic_torch_save, check_not_an_input, check_writable_file

log = logging.getLogger("facsnet")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class), probabilities clipped at 1e-12."""
    p = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence (top probability) and accuracy, averaged over ``bins``
    equal-width confidence bins weighted by how many predictions fall in each."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    if len(labels) == 0:
        return float("nan")
    conf, pred = probs.max(1), probs.argmax(1)
    correct = (pred == labels).astype(np.float64)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    ece = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return float(ece)


def tempered_probs(logits: np.ndarray, temperature: float = 1.0, flipped_logits: np.ndarray | None = None) -> np.ndarray:
    """Softmax of ``logits / temperature``; with ``flipped_logits`` (the mirror images') the mean of both."""
    p = np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / temperature))
    if flipped_logits is not None:
        p = 0.5 * (p + np.exp(log_softmax(np.asarray(flipped_logits, dtype=np.float64) / temperature)))
    return p


def prior_corrected(probs: np.ndarray, prior, strength: float = 1.0) -> np.ndarray:
    """Probabilities for equally likely classes: each divided by its class's share of the training
    faces, renormalised (Bayes' rule with the training prior swapped for a uniform one). Raises the
    recall of rare classes (FER2013's disgust is 1.5% of its faces) at some cost in accuracy.

    ``strength`` in [0, 1] goes part of the way: each probability is divided by its share raised to
    ``strength`` (0: unchanged; 1: equally likely classes; 0.5: the square root of the prior)."""
    strength = prior_strength(strength)
    p = np.asarray(probs, dtype=np.float64) / np.asarray(prior, dtype=np.float64) ** strength
    return p / p.sum(axis=1, keepdims=True)


def _number_or_nan(value) -> float:
    """``value`` as a float; NaN (which every range check refuses) when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def prior_strength(balanced: bool | float | None, served: float = 0.0) -> float:
    """The strength of the class-prior correction that ``balanced`` asks for: None -> ``served`` (what the
    model's checkpoint asks for, :func:`facsnet.models.checkpoint.served_prior_strength`), False -> 0,
    True -> 1, a number in [0, 1] as it is. Anything else is a ValueError that says what is allowed."""
    if balanced is None:
        balanced = served
    strength = _number_or_nan(balanced)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"balanced={balanced!r}: the prior correction's strength must lie between 0 (the training "
                         "class shares, as trained) and 1 (equally likely classes)")
    return strength


# Faces whose class shares lie at least this far (total variation) from the training faces' were, on average,
# read more accurately with equally likely classes (``balanced=True``) than at the default model's served
# strength: collections drawn from the FER2013 Training hold-out at other shares (scripts/prior_adaptation.py,
# results/ablation/prior_adaptation.md, ``ablation.prior_adaptation.by_share_distance``)
SHARE_DISTANCE_FOR_BALANCED = 0.15
# Fewer labelled faces than this and their class shares are too noisy to say so: sets of faces drawn at
# FER2013's own shares lie 0.15 or more away by chance in 3.4% of sets of 100 faces, 0.4% of 150, 0.03% of 200
MIN_FACES_FOR_SHARE_DISTANCE = 200


def compared_class_shares(counts, training_shares) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The share of each class among ``counts`` (faces per class, in the model's order) and the training
    shares, both taken over the classes that have faces (a class absent from the data, such as CK+48's
    neutral, says nothing about how the others are shared), and the mask of those classes."""
    counts, train = np.asarray(counts, dtype=np.float64), np.asarray(training_shares, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError("no faces to compare class shares on")
    return counts[present] / counts[present].sum(), train[present] / train[present].sum(), present


def class_share_distance(counts, training_shares) -> float:
    """How far the class shares of ``counts`` lie from the training shares, over the classes that have faces:
    the total variation distance, half the sum of the absolute differences (0: the same shares)."""
    data, train, _ = compared_class_shares(counts, training_shares)
    return float(0.5 * np.abs(data - train).sum())

PRIOR_STRENGTHS = tuple(round(0.1 * i, 1) for i in range(11))   # the strengths a choice ranges over


def balanced_recall(probs: np.ndarray, labels: np.ndarray) -> float:
    """The mean over the classes present in ``labels`` of the share of their faces predicted right (UAR)."""
    pred, labels = np.asarray(probs).argmax(1), np.asarray(labels)
    return float(np.mean([np.mean(pred[labels == c] == c) for c in np.unique(labels)]))


def strength_keeping_accuracy(by_strength: dict[float, np.ndarray], labels: np.ndarray) -> float:
    """Of held-out probabilities corrected at several strengths (``by_strength[0.0]``: uncorrected), the
    strength with the highest balanced recall among those whose accuracy is no lower than the uncorrected
    one (ties to the smaller strength): recall for the rare classes bought without losing faces there."""
    labels = np.asarray(labels)
    accuracy = {s: float(np.mean(p.argmax(1) == labels)) for s, p in by_strength.items()}
    keeping = [s for s in by_strength if accuracy[s] >= accuracy[0.0]]
    return max(keeping, key=lambda s: (balanced_recall(by_strength[s], labels), -s))


def choose_prior_strength(probs: np.ndarray, labels: np.ndarray, prior, strengths=PRIOR_STRENGTHS) -> float:
    """:func:`strength_keeping_accuracy` over ``strengths`` for held-out ``probs`` (as the model serves them,
    uncorrected) and the training class ``prior``."""
    return strength_keeping_accuracy({float(s): prior_corrected(probs, prior, s) for s in {0.0, *strengths}}, labels)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, flipped_logits: np.ndarray | None = None,
                    bounds: tuple[float, float] = (0.05, 20.0), iterations: int = 80) -> float:
    """The temperature minimising the held-out NLL of :func:`tempered_probs` (golden-section search
    on log T; the NLL of a tempered softmax is unimodal in T)."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("no held-out faces to fit a temperature on")

    def nll(log_t: float) -> float:
        return negative_log_likelihood(tempered_probs(logits, math.exp(log_t), flipped_logits), labels)

    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(math.exp((lo + hi) / 2))


@dataclass(frozen=True)
class Calibration:
    """A fitted temperature and what it did on the faces it was fitted on."""
    temperature: float
    fitted_on: str          # the held-out data (name)
    n: int
    tta_flip: bool          # fitted on mirror-averaged probabilities
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float
    prior_strength: float = 0.0     # the class-prior correction recorded with it (0: none)
    prior_strength_rule: str = ""   # how it was set: "uar_keeping_accuracy" (chosen on these faces) or "given"

    def to_dict(self) -> dict:
        return asdict(self)


def calibrate(logits: np.ndarray, labels: np.ndarray, fitted_on: str,
              flipped_logits: np.ndarray | None = None) -> Calibration:
    """Fit a temperature on held-out ``logits`` and report NLL and ECE before (T = 1) and after."""
    t = fit_temperature(logits, labels, flipped_logits)
    before, after = tempered_probs(logits, 1.0, flipped_logits), tempered_probs(logits, t, flipped_logits)
    return Calibration(
        temperature=round(t, 4), fitted_on=fitted_on, n=len(labels), tta_flip=flipped_logits is not None,
        nll_before=negative_log_likelihood(before, labels), nll_after=negative_log_likelihood(after, labels),
        ece_before=expected_calibration_error(before, labels), ece_after=expected_calibration_error(after, labels),
    )


def _strength_asked(value: str | float | None) -> str | float | None:
    """calibrate's ``prior_strength``: None, "auto" (any case) or a number in [0, 1]; anything else refused."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None if value is None else "auto"
    strength = _number_or_nan(value)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"prior_strength={value!r}: give 'auto' or a number between 0 (uncorrected) and 1 "
                         "(equally likely classes)")
    return strength


def _calibration_faces(ckpt: dict, model: str, data: str, val: str, val_fraction: float,
                       subject_pattern: str | None):
    """The held-out faces ``val`` names (see :func:`calibrate_checkpoint`). A hold-out is used only when
    the checkpoint's run kept it out of training (validated on it, or on its faces less twins)."""
    if val.lower() not in HOLDOUT_VALS:
        return dataset(val, "validation", subject_pattern)
    check_val_fraction(val_fraction)
    parts = kept_out_by((ckpt.get("data") or {}).get("val"), dataset(data, "train", subject_pattern), val_fraction)
    if parts is None:
        raise ValueError(f"{model}: its run was not validated on the hold-out of {data} (fraction {val_fraction}) "
                         "that `train --val holdout` keeps out, so those faces may have been trained on; "
                         "name held-out faces with --val")
    trained_on, held = parts
    return holdout_part(held, trained_on, val)   # less the faces whose picture was trained on, as val asks


def calibrate_checkpoint(model: str, data: str = "fer2013", val: str = "holdout", val_fraction: float = 0.1,
                         tta_flip: bool | None = None, out: str | None = None, subject_pattern: str | None = None,
                         prior_strength: str | float | None = None):
    """Fit the softmax temperature of ``model`` on held-out faces and write a copy of the
    checkpoint that carries it (and ``tta_flip``, how its predictions are to be made) to ``out``.

    ``prior_strength`` also records the class-prior correction the model is to be served with
    (``inference.prior_strength``, what ``balanced=None`` applies): ``"auto"`` chooses it on the same
    faces (:func:`choose_prior_strength`: the best balanced recall that keeps the uncorrected accuracy),
    a number in [0, 1] sets it; None records none (uncorrected).

    ``val="holdout"`` fits on the ``val_fraction`` of ``data``'s training split that
    ``train(val="holdout")`` kept out of training (the same faces, checked against the run's
    record); ``"holdout-unseen"`` those faces less the ones with an exact twin among the training faces (the same
    pixels, or the mirror image's: FER2013 repeats pictures, and a face learned by heart says little about
    calibration on new ones), ``"holdout-distinct"`` less the near twins too (the same photograph re-cropped or
    re-toned, :func:`~facsnet.data.splits.near_twins`); any other value names a labelled dataset with the
    model's classes. ``tta_flip=None`` keeps the checkpoint's own setting. Returns the :class:`~facsnet.training.calibration.Calibration`.
    """
    from .predict import predict_logits

    if out:
        check_writable_file(out, (".pt",))
        check_not_an_input(out, [resolve_weights(model)])
    prior_strength = _strength_asked(prior_strength)
    ckpt = read_checkpoint(resolve_weights(model))
    prior = class_prior_of(ckpt)
    if prior_strength not in (None, 0.0) and prior is None:
        raise ValueError(f"{model}: its checkpoint does not record the training class counts that a class-prior "
                         "correction needs")
    net = model_from_checkpoint(ckpt)
    held = _calibration_faces(ckpt, model, data, val, val_fraction, subject_pattern)
    if tta_flip is None:
        tta_flip = bool((ckpt.get("inference") or {}).get("tta_flip", (ckpt.get("train_config") or {}).get("tta_flip")))
    if list(held.class_names) != list(net.class_names):
        raise ValueError(f"{held.name}: classes {', '.join(held.class_names)} are not the model's "
                         f"({', '.join(net.class_names)}), in that order")
    x, _ = held.tensors()
    logits = predict_logits(net, x).numpy()
    flipped = predict_logits(net, torch.flip(x, (-1,))).numpy() if tta_flip else None
    result = calibrate(logits, held.labels, fitted_on=held.name, flipped_logits=flipped)
    log.info("temperature %.3f on %d faces of %s: ECE %.4f -> %.4f, NLL %.4f -> %.4f", result.temperature,
             result.n, held.name, result.ece_before, result.ece_after, result.nll_before, result.nll_after)
    inference = {"tta_flip": bool(tta_flip)}
    recorded = (ckpt.get("inference") or {}).get("prior_strength")
    if prior_strength is None and recorded:
        log.warning("%s recorded a class-prior correction (strength %g) chosen with its old temperature; the "
                    "calibrated copy records none (--prior-strength auto chooses one again)", model, recorded)
    if prior_strength is not None:
        if prior_strength == "auto":
            served = tempered_probs(logits, result.temperature, flipped)
            strength, rule = choose_prior_strength(served, held.labels, prior), "uar_keeping_accuracy"
        else:
            strength, rule = prior_strength, "given"
        result = replace(result, prior_strength=strength, prior_strength_rule=rule)
        inference.update(prior_strength=strength, prior_strength_chosen={"rule": rule, "fitted_on": f"{held.name} "
                                                                           f"({result.n} faces)"})
        log.info("class prior corrected at strength %g (%s)", strength, rule)
    if out:
        atomic_torch_save({**ckpt, "calibration": result.to_dict(), "inference": inference}, out)
    return result

