"""Calibrated probabilities: temperature scaling (Guo et al. 2017) and expected calibration error.

A network trained with cross-entropy is over-confident on faces unlike its training set; dividing
its logits by one temperature T, fitted on held-out faces to minimise the negative log-likelihood,
keeps every prediction (the argmax does not move) and makes the probabilities mean what they say.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


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


def prior_corrected(probs: np.ndarray, prior) -> np.ndarray:
    """Probabilities for equally likely classes: each divided by its class's share of the training
    faces, renormalised (Bayes' rule with the training prior swapped for a uniform one). Raises the
    recall of rare classes (FER2013's disgust is 1.5% of its faces) at some cost in accuracy."""
    p = np.asarray(probs, dtype=np.float64) / np.asarray(prior, dtype=np.float64)
    return p / p.sum(axis=1, keepdims=True)


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
