"""Leave-one-subject-out scoring with the MEGC metrics.

Every subject is the test set of one fold; the predictions of all folds are pooled and scored as
MEGC 2019 does: accuracy, unweighted F1 (UF1: the mean over classes of per-class F1) and
unweighted average recall (UAR: the mean over classes of per-class recall), on the composite and
on each database's clips. A class with no clip in a subset is left out of that subset's means.

Fold predictions are written as they are made (one small JSON per fold, atomically), so an
interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..training.metrics import confusion_matrix
from ..provenance import provenance
from ..utils import atomic_write_json, atomic_write_text, folder_lock

log = logging.getLogger("facsnet")


@dataclass(frozen=True)
class MicroScores:
    n: int
    accuracy: float
    uf1: float
    uar: float
    per_class_f1: dict[str, float]
    per_class_recall: dict[str, float]
    confusion: list[list[int]]  # rows = true class, columns = predicted


def micro_scores(y_true, y_pred, class_names: list[str]) -> MicroScores:
    cm = confusion_matrix(np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int), len(class_names))
    f1, rec = {}, {}
    for i, c in enumerate(class_names):
        tp, support, predicted = cm[i, i], cm[i].sum(), cm[:, i].sum()
        if support == 0:
            continue
        rec[c] = float(tp / support)
        f1[c] = float(2 * tp / (support + predicted))
    n = int(cm.sum())
    return MicroScores(n=n, accuracy=float(np.trace(cm) / n) if n else float("nan"),
                       uf1=float(np.mean(list(f1.values()))) if f1 else float("nan"),
                       uar=float(np.mean(list(rec.values()))) if rec else float("nan"),
                       per_class_f1=f1, per_class_recall=rec, confusion=cm.tolist())


@dataclass
class LosoResult:
    """Pooled LOSO scores of one variant, on the composite and per database."""

    variant: str
    class_names: list[str]
    composite: MicroScores
    per_database: dict[str, MicroScores]
    folds: int
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"variant": self.variant, "class_names": self.class_names, "folds": self.folds,
                "composite": asdict(self.composite),
                "per_database": {k: asdict(v) for k, v in self.per_database.items()}, "config": self.config}


def score_predictions(variant: str, y_true, y_pred, databases, class_names, folds: int, config=None) -> LosoResult:
    databases = np.asarray(databases)
    per_db = {db: micro_scores(np.asarray(y_true)[databases == db], np.asarray(y_pred)[databases == db], class_names)
              for db in sorted(set(databases.tolist()))}
    return LosoResult(variant, list(class_names), micro_scores(y_true, y_pred, class_names), per_db, folds,
                      dict(config or {}))


def to_markdown(results: list[LosoResult], title: str = "Leave-one-subject-out") -> str:
    dbs = sorted({db for r in results for db in r.per_database})
    cols = ["composite", *dbs]
    lines = [f"# {title}", "", "UF1 / UAR / accuracy, predictions pooled over all folds (MEGC 2019 scoring).", "",
             "| variant | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for r in results:
        cells = [r.composite, *[r.per_database.get(db) for db in dbs]]
        lines.append(f"| {r.variant} | " + " | ".join(
            "-" if s is None else f"{s.uf1:.3f} / {s.uar:.3f} / {100 * s.accuracy:.1f}%" for s in cells) + " |")
    if results:
        lines += ["", "Per class on the composite (F1 / recall):", "",
                  "| variant | " + " | ".join(results[0].class_names) + " |", "|---|" + "---:|" * len(results[0].class_names)]
        for r in results:
            c = r.composite
            lines.append(f"| {r.variant} | " + " | ".join(
                f"{c.per_class_f1[k]:.3f} / {c.per_class_recall[k]:.3f}" if k in c.per_class_f1 else "-"
                for k in r.class_names) + " |")
    n = results[0] if results else None
    if n:
        counts = ", ".join(f"{db} {s.n}" for db, s in n.per_database.items())
        lines += ["", f"Clips: {n.composite.n} ({counts}); {n.folds} folds (one per subject); classes "
                      f"{', '.join(n.class_names)}."]
    return "\n".join(lines) + "\n"


class FoldStore:
    """One JSON per finished fold under ``folder`` (``fold_<subject>.json``): the predictions of each
    variant for that subject's clips. A rerun skips the folds already there."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, subject: str) -> Path:
        return self.folder / f"fold_{subject.replace('/', '_')}.json"  # subjects are "database/id"

    def _stored(self, subject: str) -> dict[str, dict[str, int]]:
        path = self._path(subject)
        return json.loads(path.read_text())["predictions"] if path.exists() else {}

    def missing(self, subject: str, variants: list[str]) -> list[str]:
        """The ``variants`` this subject's fold has no predictions for yet (a variant asked for after the
        fold ran is trained on its own; the others are not trained again)."""
        stored = self._stored(subject)
        return [v for v in variants if v not in stored]

    def save(self, subject: str, predictions: dict[str, dict[str, int]]) -> None:
        """Add these variants' predictions to the fold's file (written whole or not at all; under the
        folder's lock, so two processes adding variants to one fold keep both)."""
        with folder_lock(self.folder):
            atomic_write_json(self._path(subject), {"subject": subject,
                                                    "predictions": {**self._stored(subject), **predictions}})

    def load_all(self) -> dict[str, dict[str, int]]:
        """variant -> clip key -> predicted class index, over every finished fold."""
        merged: dict[str, dict[str, int]] = {}
        for p in sorted(self.folder.glob("fold_*.json")):
            for variant, preds in json.loads(p.read_text())["predictions"].items():
                merged.setdefault(variant, {}).update(preds)
        return merged


def write_results(results: list[LosoResult], out: str | Path, title: str, extra: dict | None = None) -> None:
    out = Path(out)
    payload = {"results": {r.variant: r.to_dict() for r in results}, **(extra or {})}
    atomic_write_json(out / "loso.json", {**payload, "provenance": provenance()})
    atomic_write_text(out / "loso.md", to_markdown(results, title))
