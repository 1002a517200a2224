"""Score a trained model on a labelled dataset, mapping classes by canonical name."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..data.faceset import FaceSet
from .calibration import (class_share_distance, expected_calibration_error, negative_log_likelihood,
                          prior_corrected, prior_strength, tempered_probs)
from .predict import predict_logits
from .metrics import classification_metrics


@dataclass(frozen=True)
class EvalResult:
    model: str
    dataset: str
    n: int
    accuracy: float
    uar: float                             # unweighted average recall (balanced accuracy) over the classes present
    ece: float                             # expected calibration error of the probabilities (15 bins)
    nll: float                             # mean negative log-likelihood of the true class
    temperature: float                     # softmax temperature used (the model's calibration; 1.0 if none)
    tta_flip: bool                         # probabilities averaged with the mirror image
    balanced: float                        # strength of the class-prior correction (0: none, 1: equally likely classes)
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    class_names: list[str]                 # the model's classes (rows/columns of confusion)
    left_out_classes: dict[str, int]       # dataset classes the model lacks -> images left out
    skipped_files: list[list[str]]
    data_classes_only: bool = False        # predictions restricted to the model's classes that the dataset has
    training_shares: dict[str, float] | None = None   # the model's training class shares (None: not recorded)

    def per_class(self) -> dict[str, dict]:
        """Precision, recall, F1 and support of each class with images (rows of ``confusion``)."""
        cm = np.asarray(self.confusion, dtype=float)
        out = {}
        for i, name in enumerate(self.class_names):
            support, predicted, hit = cm[i].sum(), cm[:, i].sum(), cm[i, i]
            if support == 0:
                continue
            precision = hit / predicted if predicted else 0.0
            recall = hit / support
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            out[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(support)}
        return out

    @property
    def macro_f1(self) -> float:
        """Mean F1 over the classes with images (a class predicted but absent from the data is not
        averaged in, so this can read higher than scikit-learn's macro F1 over all labels)."""
        rows = self.per_class().values()
        return float(np.mean([r["f1"] for r in rows])) if rows else float("nan")

    @property
    def class_share_distance(self) -> float | None:
        """How far the scored faces' class shares lie from the model's training shares, over the classes with
        faces (:func:`~facsnet.training.calibration.class_share_distance`, the total variation). None when the
        checkpoint does not record its training class counts."""
        if not self.training_shares:
            return None
        return class_share_distance(np.asarray(self.confusion).sum(1),
                                    [self.training_shares.get(c, 0.0) for c in self.class_names])

    def to_dict(self) -> dict:
        d = {**asdict(self), "macro_f1": self.macro_f1, "per_class": self.per_class(),
             "class_share_distance": self.class_share_distance}
        return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}   # NaN is no JSON


def faces_of_known_classes(data: FaceSet, model_classes: list[str]) -> tuple[FaceSet, np.ndarray, dict[str, int]]:
    """The faces of ``data`` whose class the model knows, their labels as indices into ``model_classes``,
    and the number of faces left out per class the model lacks."""
    names = np.array(data.class_names)[data.labels]
    known = np.isin(names, model_classes)
    if not known.any():
        raise ValueError(f"{data.name}: none of its classes ({', '.join(data.class_names)}) is one of the model's "
                         f"({', '.join(model_classes)}): nothing to score")
    left_out = {str(c): int(k) for c, k in zip(*np.unique(names[~known], return_counts=True))}
    y_true = np.array([model_classes.index(c) for c in names[known]], dtype=np.int64)
    return data.subset(np.flatnonzero(known)), y_true, left_out


def evaluate_on(model, data: FaceSet, model_label: str = "", tta_flip: bool | None = None,
                batch_size: int = 512, balanced: bool | float | None = None,
                data_classes_only: bool = False) -> EvalResult:
    """Accuracy, balanced recall (UAR) and calibration of ``model`` on the images of ``data`` whose
    class the model knows, read the way the model is meant to be read: its calibrated temperature,
    and mirror averaging when it asks for it (``tta_flip=None``) or when told.

    Predictions range over all of the model's classes; images of classes the model lacks are
    left out and counted in ``left_out_classes``. ``balanced`` corrects the probabilities for the
    training class prior (:func:`~facsnet.training.calibration.prior_corrected`): True or 1 in full,
    a number between 0 and 1 part of the way, False or 0 not at all; None (the default) as far as the
    model's checkpoint asks (``inference.prior_strength``, chosen on held-out faces; 0 when it does not say).

    ``data_classes_only`` scores on the label set both share, the usual protocol across datasets: the
    model's classes that ``data`` does not have (neutral, on CK+48) are never predicted (their
    probability is set to 0 and the rest renormalised).
    """
    prior = getattr(model, "class_prior", None)
    balanced = prior_strength(balanced, getattr(model, "prior_strength", 0.0))
    if balanced and prior is None:
        raise ValueError(f"{model_label or 'the model'}: its checkpoint does not record the training class counts "
                         "that the balanced correction needs")
    if tta_flip is None:
        tta_flip = bool(getattr(model, "tta_flip", False))
    temperature = float(getattr(model, "temperature", 1.0))
    model_classes = list(model.class_names)
    if getattr(model, "task", "emotion") != "emotion":
        raise ValueError(f"{model_label or 'the model'} is an {model.task} model: evaluate scores emotion models "
                         "(Action Unit models are scored by facsnet transfer au)")
    size = tuple(model.data_config["input_size"][1:])
    if size != (data.image_size, data.image_size):
        raise ValueError(f"{model_label or 'the model'} takes {size[0]}x{size[1]} faces but {data.name} holds "
                         f"{data.image_size}x{data.image_size} crops")
    sub, y_true, left_out = faces_of_known_classes(data, model_classes)
    x, _ = sub.tensors()
    logits = predict_logits(model, x, batch_size).numpy()
    flipped = predict_logits(model, x.flip(-1), batch_size).numpy() if tta_flip else None
    probs = tempered_probs(logits, temperature, flipped)
    if balanced:
        probs = prior_corrected(probs, prior, balanced)
    if data_classes_only:   # the classes with faces (a class folder may be declared and empty)
        present = set(np.unique(y_true).tolist())
        probs = restricted_to(probs, [i in present for i in range(len(model_classes))])
    m = classification_metrics(y_true, probs.argmax(1), model_classes)
    recall = {str(c): r for c, r in m.per_class_recall.items() if c in {model_classes[i] for i in np.unique(y_true)}}
    return EvalResult(
        model=model_label, dataset=data.name, n=m.n, accuracy=m.accuracy,
        uar=float(np.mean(list(recall.values()))), ece=expected_calibration_error(probs, y_true),
        nll=negative_log_likelihood(probs, y_true), temperature=temperature, tta_flip=tta_flip, balanced=balanced,
        per_class_recall=recall,
        confusion=m.confusion, class_names=model_classes, left_out_classes=left_out,
        skipped_files=[list(s) for s in data.skipped], data_classes_only=data_classes_only,
        training_shares=None if prior is None else {c: float(p) for c, p in zip(model_classes, prior)},
    )


def restricted_to(probs: np.ndarray, allowed) -> np.ndarray:
    """Probabilities over the ``allowed`` classes only (a boolean per column): the others set to 0, each
    row renormalised."""
    allowed = np.asarray(allowed, dtype=bool)
    if not allowed.any():
        raise ValueError("no class left to predict: the data shares none of the model's classes")
    p = np.where(allowed, np.asarray(probs, dtype=np.float64), 0.0)
    return p / p.sum(axis=1, keepdims=True).clip(1e-300)
