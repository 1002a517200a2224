"""Classification metrics as small frozen dataclasses."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ClassificationMetrics:
    n: int
    accuracy: float
    per_class_recall: dict[str, float]
    confusion: list[list[int]]  # rows = true class, columns = predicted class
    class_names: list[str]

    @property
    def mean_recall(self) -> float:
        vals = [v for v in self.per_class_recall.values() if v == v]
        return float(np.mean(vals)) if vals else float("nan")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean_recall"] = self.mean_recall
        return d


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def metrics_from_confusion(cm: np.ndarray, class_names) -> ClassificationMetrics:
    cm = np.asarray(cm)
    n = int(cm.sum())
    support = cm.sum(1)
    recall = {c: (float(cm[i, i] / support[i]) if support[i] else float("nan")) for i, c in enumerate(class_names)}
    return ClassificationMetrics(
        n=n, accuracy=float(np.trace(cm) / n) if n else float("nan"),
        per_class_recall=recall, confusion=cm.tolist(), class_names=list(class_names),
    )


def classification_metrics(y_true, y_pred, class_names) -> ClassificationMetrics:
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, len(class_names)), class_names)
