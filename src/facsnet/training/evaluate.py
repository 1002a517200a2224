"""Score a trained model on a labelled dataset, mapping classes by canonical name."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..data.faceset import FaceSet
from .loop import predict_logits
from .metrics import classification_metrics


@dataclass(frozen=True)
class EvalResult:
    model: str
    dataset: str
    n: int
    accuracy: float
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    class_names: list[str]                 # the model's classes (rows/columns of confusion)
    left_out_classes: dict[str, int]       # dataset classes the model lacks -> images left out
    skipped_files: list[list[str]]

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_on(model, data: FaceSet, model_label: str = "", tta_flip: bool = False,
                batch_size: int = 512) -> EvalResult:
    """Accuracy of ``model`` on the images of ``data`` whose class the model knows.

    Predictions range over all of the model's classes; images of classes the model lacks are
    left out and counted in ``left_out_classes``.
    """
    model_classes = list(model.class_names)
    if getattr(model, "task", "emotion") != "emotion":
        raise ValueError(f"{model_label or 'the model'} is an {model.task} model: evaluate scores emotion models "
                         "(Action Unit models are scored by facsnet transfer au)")
    names = np.array(data.class_names)[data.labels]
    known = np.isin(names, model_classes)
    size = tuple(model.data_config["input_size"][1:])
    if size != (data.image_size, data.image_size):
        raise ValueError(f"{model_label or 'the model'} takes {size[0]}x{size[1]} faces but {data.name} holds "
                         f"{data.image_size}x{data.image_size} crops")
    if not known.any():
        raise ValueError(f"{data.name}: none of its classes ({', '.join(data.class_names)}) is one of the model's "
                         f"({', '.join(model_classes)}): nothing to score")
    left_out = {str(c): int(k) for c, k in zip(*np.unique(names[~known], return_counts=True))}
    sub = data.subset(np.flatnonzero(known))
    y_true = np.array([model_classes.index(c) for c in np.array(data.class_names)[sub.labels]], dtype=np.int64)
    x, _ = sub.tensors()
    pred = predict_logits(model, x, batch_size, tta_flip).argmax(1).numpy() if len(sub) else np.array([], dtype=np.int64)
    m = classification_metrics(y_true, pred, model_classes)
    recall = {str(c): r for c, r in m.per_class_recall.items() if c in set(names[known])}
    return EvalResult(
        model=model_label, dataset=data.name, n=m.n, accuracy=m.accuracy, per_class_recall=recall,
        confusion=m.confusion, class_names=model_classes, left_out_classes=left_out,
        skipped_files=[list(s) for s in data.skipped],
    )
