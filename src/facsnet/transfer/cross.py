"""The cross-dataset table (the paper's Table 3): every emotion model scored on every dataset, on
the classes the two share, as it is and after re-fitting its output layer on the target's training data.

As-is: the model's prediction is the most probable of the shared classes (the probabilities of
classes the target lacks are ignored); images of classes the model lacks are left out. Fine-tuned:
the backbone (conv layers and the 512-d dense layer) is frozen and a new output layer over the
shared classes is fitted on the target's training part (its train split, or k subject folds when
the target has no split), then scored on the test part.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..data import FaceSet, make_folds
from .fit import HeadConfig, fit_head, head_outputs
from .heads import extract_features


class NoSharedClassesError(ValueError):
    """The model and the dataset have no class in common."""


@dataclass
class CrossCell:
    source: str
    target: str
    mode: str          # as_is / fine_tuned
    accuracy: float
    n: int
    classes: list[str]
    protocol: str

    def to_dict(self) -> dict:
        return asdict(self)


def shared_classes(model_classes: list[str], data: FaceSet, source: str = "model") -> list[str]:
    present = set(data.class_counts())
    shared = [c for c in model_classes if c in present]
    if not shared:
        raise NoSharedClassesError(f"{source} ({', '.join(model_classes)}) and {data.name} "
                                   f"({', '.join(sorted(present))}) share no class")
    return shared


def restrict(data: FaceSet, classes: list[str]) -> tuple[FaceSet, np.ndarray]:
    """The images of ``classes`` and their labels as indices into ``classes``."""
    names = np.array(data.class_names)[data.labels]
    keep = np.flatnonzero(np.isin(names, classes))
    return data.subset(keep), np.array([classes.index(c) for c in names[keep]], dtype=np.int64)


def as_is(model, source: str, test: FaceSet, protocol: str) -> CrossCell:
    classes = shared_classes(list(model.class_names), test, source)
    sub, y = restrict(test, classes)
    feats = extract_features(model, sub.images, layer="fc1")
    import torch

    with torch.no_grad():
        logits = model.head(torch.from_numpy(feats)).numpy()
    cols = [list(model.class_names).index(c) for c in classes]
    pred = logits[:, cols].argmax(1)
    return CrossCell(source, test.name, "as_is", float(np.mean(pred == y)), len(y), classes, protocol)


def refit_output_layer(model, source: str, train: FaceSet | None, test: FaceSet, cfg: HeadConfig, k: int = 10,
                       fold_seed: int = 0) -> CrossCell:
    """A new output layer on the frozen 512-d features: fitted on ``train`` and scored on ``test``,
    or, with ``train=None``, over k folds of ``test`` (by subject when it has subject ids)."""
    classes = shared_classes(list(model.class_names), test, source)
    te, y_te = restrict(test, classes)
    f_te = extract_features(model, te.images, layer="fc1")
    if train is not None:
        tr, y_tr = restrict(train, classes)
        head = fit_head(extract_features(model, tr.images, layer="fc1"), y_tr, cfg)
        pred = head_outputs(head, f_te, "multiclass").argmax(1)
        protocol = f"output layer fitted on {train.name} ({len(y_tr)} images), scored on {test.name}"
        return CrossCell(source, test.name, "fine_tuned", float(np.mean(pred == y_te)), len(y_te), classes, protocol)
    how = "subject" if te.has_subjects else "image"
    folds = make_folds(y_te, te.subjects, k, how, fold_seed)
    correct = 0
    for fold in folds:
        tr_idx = np.setdiff1d(np.arange(len(y_te)), fold)
        head = fit_head(f_te[tr_idx], y_te[tr_idx], cfg)
        correct += int(np.sum(head_outputs(head, f_te[fold], "multiclass").argmax(1) == y_te[fold]))
    protocol = f"{k}-fold {how}-independent CV on {test.name}, output layer fitted per fold (pooled accuracy)"
    return CrossCell(source, test.name, "fine_tuned", correct / len(y_te), len(y_te), classes, protocol)


def to_markdown(cells: list[CrossCell]) -> str:
    """Rows = source model, columns = target set; each cell 'as-is / fine-tuned' accuracy."""
    sources = list(dict.fromkeys(c.source for c in cells))
    targets = list(dict.fromkeys(c.target for c in cells))
    get = {(c.source, c.target, c.mode): c for c in cells}
    lines = ["| model (trained on) | " + " | ".join(targets) + " |", "|---|" + "---:|" * len(targets)]
    for s in sources:
        row = []
        for t in targets:
            a, f = get.get((s, t, "as_is")), get.get((s, t, "fine_tuned"))
            fmt = lambda c: f"{100 * c.accuracy:.1f}" if c else "-"  # noqa: E731
            row.append(f"{fmt(a)} / {fmt(f)}")
        lines.append(f"| {s} | " + " | ".join(row) + " |")
    return "\n".join(lines)
