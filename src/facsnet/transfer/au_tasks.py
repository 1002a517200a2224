"""Action Units on CK+ from a trained emotion CNN: detection (one head per AU, or one multi-label
head with the paper's L1 + L2 sparsity term) and intensity 0-5, scored over subject folds.

Labels: an AU coded for a sequence is present in all three CK+48 frames of that sequence (the
frames are the last three, at the peak). Intensities come from the CK+ FACS files of the peak
frame (1-5 = A-E; 0 = present but not coded, treated as unknown); sequences without an intensity
file are left out of the intensity task, and an AU not listed for a sequence has intensity 0.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..au import FACS_NAMES
from ..data import FaceSet, make_folds
from .learners import Learner
from .metrics import binary_f1, icc_3_1, nanmean_std, roc_auc


class LabelError(ValueError):
    """Labels that do not fit the images or the request; the message names what is wrong."""


def au_label(au: int) -> str:
    return f"AU{au}"


def au_targets(data: FaceSet, labels: dict[str, set[int]], min_sequences: int = 10,
               aus: list[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """(N, U) 0/1 presence for ``data``'s images and the AUs kept: ``aus`` if given, else every AU
    coded in at least ``min_sequences`` of the sequences in ``data``."""
    if data.sequences is None:
        raise LabelError(f"{data.name}: images carry no sequence ids, so CK+ AU labels cannot be matched")
    seqs = [str(s) for s in data.sequences]
    missing = sorted(set(seqs) - set(labels))
    if len(missing) == len(set(seqs)):
        raise LabelError(f"no sequence of {data.name} is in the AU labels (e.g. {seqs[0]})")
    counts: dict[int, int] = {}
    for s in set(seqs) & set(labels):
        for au in labels[s]:
            counts[au] = counts.get(au, 0) + 1
    if aus is None:
        aus = sorted(au for au, c in counts.items() if c >= min_sequences)
    unknown = [au for au in aus if au not in counts]
    if unknown:
        raise LabelError(f"AU(s) {', '.join(map(str, unknown))} are not coded for any sequence; "
                         f"coded: {', '.join(map(str, sorted(counts)))}")
    Y = np.array([[au in labels.get(s, set()) for au in aus] for s in seqs], dtype=np.float32)
    return Y, list(aus)


def read_intensities(path: str | Path) -> dict[str, dict[int, int]]:
    """``ck_facs_intensity.csv`` -> sequence -> {AU: intensity 0-5}; out-of-range values are errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no CK+ FACS intensity file")
    out: dict[str, dict[int, int]] = {}
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), start=2):
            au_text = row["au"].strip()
            if not au_text.replace(".", "").isdigit() or "." in au_text:
                continue  # "1.7" is a typo in CK+ itself (see SOURCE.md)
            value = float(row["intensity"])
            if not (0 <= value <= 5) or value != int(value):
                raise LabelError(f"{path}:{line}: intensity {row['intensity']!r} of AU{au_text} in "
                                 f"{row['sequence']} is outside 0-5")
            out.setdefault(row["sequence"], {})[int(au_text)] = int(value)
    return out


def intensity_targets(data: FaceSet, intensities: dict[str, dict[int, int]], min_coded: int = 10,
                      aus: list[int] | None = None) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
    """(N, U) intensities, (N, U) mask of known values, the AUs, and the rows used (images whose
    sequence has an intensity file). Absent AU = 0 (known); present but uncoded (0 in CK+) = unknown."""
    seqs = np.array([str(s) for s in data.sequences]) if data.sequences is not None else None
    if seqs is None:
        raise LabelError(f"{data.name}: images carry no sequence ids")
    rows = np.flatnonzero([s in intensities for s in seqs])
    if len(rows) == 0:
        raise LabelError(f"no sequence of {data.name} has FACS intensities")
    coded: dict[int, set] = {}
    for s in set(seqs[rows]):
        for au, v in intensities[s].items():
            if v > 0:
                coded.setdefault(au, set()).add(s)
    if aus is None:
        aus = sorted(au for au, ss in coded.items() if len(ss) >= min_coded)
    unknown = [au for au in aus if au not in coded]
    if unknown:
        raise LabelError(f"AU(s) {', '.join(map(str, unknown))} have no coded intensity")
    Y = np.zeros((len(rows), len(aus)), np.float32)
    M = np.ones_like(Y)
    for i, s in enumerate(seqs[rows]):
        for j, au in enumerate(aus):
            v = intensities[s].get(au)
            if v is None:
                continue  # absent: intensity 0, known
            if v == 0:
                M[i, j] = 0  # present, intensity not coded
            Y[i, j] = v
    return Y, M, list(aus), rows


@dataclass
class AUResult:
    task: str                 # single / multilabel / intensity
    aus: list[int]
    per_au: dict[str, dict]   # "AU4" -> metric -> {"mean", "std"} over folds (+ "name")
    summary: dict[str, float]  # metric_mean / metric_std: the mean over AUs, then mean +- std over folds
    k: int
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def headline_metrics(self) -> list[str]:
        return ["mse", "accuracy", "icc"] if self.task == "intensity" else ["f1", "accuracy", "auc"]

    def to_markdown(self) -> str:
        """One row per AU, mean +- std over the subject folds; the last row averages the AUs."""
        ms = self.headline_metrics
        lines = ["| AU | name | " + " | ".join(ms) + " |", "|---|---|" + "---:|" * len(ms)]
        for au, row in self.per_au.items():
            lines.append(f"| {au} | {row['name']} | "
                         + " | ".join(f"{row[m]['mean']:.3f} +- {row[m]['std']:.3f}" for m in ms) + " |")
        lines.append("| mean over AUs | | "
                     + " | ".join(f"{self.summary[m + '_mean']:.3f} +- {self.summary[m + '_std']:.3f}" for m in ms) + " |")
        return "\n".join(lines)


def _fold_stats(per_fold: list[dict[str, dict[str, float]]], aus: list[int], metrics: list[str]):
    per_au, summary = {}, {}
    for au in aus:
        name = au_label(au)
        per_au[name] = {"name": FACS_NAMES.get(au, "")}
        for m in metrics:
            mean, std = nanmean_std([f[name][m] for f in per_fold])
            per_au[name][m] = {"mean": mean, "std": std}
    for m in metrics:
        fold_means = [np.nanmean([f[au_label(au)][m] for au in aus]) for f in per_fold]
        summary[f"{m}_mean"], summary[f"{m}_std"] = nanmean_std(fold_means)
    return per_au, summary


def detection_scores(Y: np.ndarray, P: np.ndarray, aus: list[int], threshold: float = 0.5) -> dict:
    out = {}
    for j, au in enumerate(aus):
        pred = P[:, j] >= threshold
        out[au_label(au)] = {"accuracy": float(np.mean(pred == Y[:, j].astype(bool))),
                             "f1": binary_f1(Y[:, j], pred), "auc": roc_auc(Y[:, j], P[:, j])}
    return out


def au_detection_cv(learner: Learner, Y: np.ndarray, aus: list[int], subjects, strata, k: int = 10,
                    task: str = "multilabel", config: dict | None = None, fold_seed: int = 0) -> AUResult:
    """AU detection over subject folds: ``learner(train, test, Y)`` returns the test rows' AU
    probabilities (see :mod:`facsnet.transfer.learners`); ``task`` names the result."""
    folds = make_folds(strata, subjects, k, "subject", fold_seed)
    per_fold = []
    for test in folds:
        train = np.setdiff1d(np.arange(len(Y)), test)
        per_fold.append(detection_scores(Y[test], learner(train, test, Y, None), aus))
    per_au, summary = _fold_stats(per_fold, aus, ["f1", "accuracy", "auc"])
    return AUResult(task, list(aus), per_au, summary, k, {**(config or {}), "fold_seed": fold_seed})


def intensity_scores(Y: np.ndarray, M: np.ndarray, pred: np.ndarray, aus: list[int]) -> dict:
    out = {}
    clipped = np.clip(pred, 0, 5)
    for j, au in enumerate(aus):
        known = M[:, j] > 0
        y, p = Y[known, j], clipped[known, j]
        present = y > 0
        out[au_label(au)] = {
            "mse": float(np.mean((p - y) ** 2)) if len(y) else float("nan"),
            "accuracy": float(np.mean(np.rint(p) == y)) if len(y) else float("nan"),
            "icc": icc_3_1(y, p) if len(y) > 1 else float("nan"),
            "mse_zero_baseline": float(np.mean(y ** 2)) if len(y) else float("nan"),  # predicting "absent" always
            "accuracy_zero_baseline": float(np.mean(y == 0)) if len(y) else float("nan"),
            "mse_present": float(np.mean((p[present] - y[present]) ** 2)) if present.any() else float("nan"),
            "accuracy_present": float(np.mean(np.rint(p[present]) == y[present])) if present.any() else float("nan"),
        }
    return out


def au_intensity_cv(learner: Learner, Y: np.ndarray, M: np.ndarray, aus: list[int], subjects, strata,
                    k: int = 10, config: dict | None = None, fold_seed: int = 0) -> AUResult:
    """AU intensity over subject folds: ``learner(train, test, Y, M)`` returns the test rows' values."""
    folds = make_folds(strata, subjects, k, "subject", fold_seed)
    per_fold = []
    for test in folds:
        train = np.setdiff1d(np.arange(len(Y)), test)
        per_fold.append(intensity_scores(Y[test], M[test], learner(train, test, Y, M), aus))
    per_au, summary = _fold_stats(per_fold, aus, ["mse", "accuracy", "icc", "mse_present", "accuracy_present",
                                                  "mse_zero_baseline", "accuracy_zero_baseline"])
    return AUResult("intensity", list(aus), per_au, summary, k, {**(config or {}), "fold_seed": fold_seed})
