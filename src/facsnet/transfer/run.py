"""The transfer verbs: the cross-dataset table, AU detection and intensity over subject folds, and the
bundled-style AU models fitted on all of CK+."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np

from ..au import read_ckplus_au_labels
from ..data import FaceSet
from ..data.specs import ckplus_dataset, dataset, default_au_labels, has_validation_split
from ..faces.align import CKPLUS48_FRAMING
from ..models.checkpoint import save_checkpoint
from ..models.hub import load_model, weights_digest
from ..provenance import provenance
from ..utils import atomic_write_json, atomic_write_text
from .au_tasks import au_detection_cv, au_intensity_cv, au_targets, intensity_targets, read_intensities
from .cross import CrossCell, as_is, refit_output_layer, to_markdown
from .fit import HeadConfig, fit_head
from .heads import attach_head, extract_features
from .learners import fine_tuned, frozen
from .learners import hurdle as hurdle_learner

log = logging.getLogger("facsnet")

CROSS_SOURCES = ("fer2013", "fer2013_bn", "ferplus", "ckplus48")
CROSS_TARGETS = ("ckplus48", "fer2013", "ferplus")


def _target_splits(spec: str) -> tuple[FaceSet | None, FaceSet]:
    """(train, test) of a cross-table target: the train/validation splits where a dataset has them
    (FER2013, FER+), else (None, everything) for k-fold scoring."""
    if has_validation_split(spec):
        name = spec.partition(":")[0]
        return dataset(name, "train"), dataset(name, "validation")
    return None, dataset(spec, "train")


def transfer_cross(sources=CROSS_SOURCES, targets=CROSS_TARGETS, out: str | None = "runs/transfer", k: int = 10,
                   epochs: int = 30, seed: int = 0, update: bool = False):
    """The cross-dataset table: each source model (bundled name or checkpoint) on each target
    dataset, as-is and with a re-fitted output layer; writes ``out``/cross.json and cross.md.
    ``update``: re-run only these sources' rows of the table already in ``out`` (same head settings),
    keeping the other rows."""
    cfg = HeadConfig(kind="multiclass", hidden=0, epochs=epochs, seed=seed)
    splits = {t: _target_splits(t) for t in targets}
    cells = []
    for source in sources:
        model = load_model(source)
        for target, (train, test) in splits.items():
            seen = f"{source} was trained on these images" if _trained_on(source, target) else "unseen images"
            cells.append(as_is(model, source, test, f"as-is on {test.name} ({seen})"))
            cells.append(refit_output_layer(model, source, train, test, cfg, k=k, fold_seed=seed))
            if _trained_on(source, target):
                cells[-1].protocol += f" ({source}'s backbone was trained on all of these images)"
            log.info("%s -> %s: as-is %.3f, fine-tuned %.3f", source, target, cells[-2].accuracy, cells[-1].accuracy)
    digests = {str(s): weights_digest(s) for s in sources}
    if update and out:
        cells, digests = _merge_cross(Path(out) / "cross.json", cfg.to_dict(), k, cells, digests)
    if out:
        atomic_write_json(Path(out) / "cross.json", {"head": cfg.to_dict(), "k": k, "weights_sha256": digests,
                                                     "provenance": provenance(),
                                                     "cells": [c.to_dict() for c in cells]})
        atomic_write_text(Path(out) / "cross.md", to_markdown(cells) + "\n")
    return cells


def _merge_cross(path: Path, head: dict, k: int, cells: list, digests: dict) -> tuple[list, dict]:
    """The table in ``path`` with the rows of the sources in ``cells`` replaced by them."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no cross table to update (run without --update first)")
    old = json.loads(path.read_text())
    diff = {key: (old["head"].get(key), head.get(key)) for key in sorted(set(old["head"]) | set(head))
            if old["head"].get(key) != head.get(key)}
    old_k = _recorded_k(old)
    if old_k is not None and old_k != k:   # only rows scored by k-fold CV depend on k
        diff["k"] = (old_k, k)
    if diff:
        raise ValueError(f"{path}: its output layers were fitted with other settings {diff}; "
                         "update only with the same --k/--epochs/--seed")
    fresh = {c.source for c in cells}
    kept = [CrossCell(**c) for c in old["cells"] if c["source"] not in fresh]
    order = list(dict.fromkeys([c["source"] for c in old["cells"]] + [c.source for c in cells]))
    merged = sorted(kept + cells, key=lambda c: order.index(c.source))  # stable: targets keep their order
    kept_digests = {src: d for src, d in old.get("weights_sha256", {}).items() if src not in fresh}
    return merged, {**kept_digests, **digests}


def _recorded_k(table: dict) -> int | None:
    """The number of folds a cross table's k-fold rows were scored with (as recorded, else read from
    their protocols, "10-fold ..."); None when no row was scored by k-fold CV."""
    folds = {int(m.group(1)) for c in table["cells"] if (m := re.match(r"(\d+)-fold", c["protocol"]))}
    if not folds:
        return None
    return table.get("k", folds.pop() if len(folds) == 1 else None)


def _trained_on(source: str, target: str) -> bool:
    return source == "ckplus48" and target.partition(":")[0] == "ckplus48"


def _au_setup(backbone: str, data: str):

    return ckplus_dataset(data), load_model(backbone)


def _backbone_provenance(backbone: str) -> dict:

    return {"backbone": backbone, "backbone_sha256": weights_digest(backbone)}


def _learner(model, images: np.ndarray, cfg, fine_tune: bool, lr: float, rows=None, hurdle: bool = False):
    """Frozen conv features + a new head (or the two heads of the hurdle model), or the whole
    network fine-tuned per fold; returns the learner and a description of its features."""
    images = images if rows is None else images[rows]
    if fine_tune:
        if hurdle:
            raise ValueError("the hurdle intensity model uses frozen features; drop --fine-tune")
        return fine_tuned(model, images, cfg, lr=lr), "conv + head fine-tuned end to end per fold"
    feats = extract_features(model, images, layer="conv")
    if hurdle:
        return hurdle_learner(feats, cfg), "conv (frozen); presence head + intensity head on present cells (hurdle)"
    return frozen(feats, cfg), "conv (frozen)"


def transfer_au(backbone: str = "fer2013", data: str = "ckplus48", labels: str | None = None, task: str = "multilabel",
                k: int = 10, epochs: int = 30, l1: float = 0.0, l2: float = 0.0, min_sequences: int = 10,
                aus: list[int] | None = None, seed: int = 0, out: str | None = None, balanced: bool = False,
                fine_tune: bool = False, lr: float = 3e-4):
    """AU detection on CK+ from an emotion backbone, over subject folds. ``task``: ``single`` (an
    independent logistic detector per AU on the frozen conv features) or ``multilabel`` (one dense-512
    head with sigmoid outputs, BCE + ``l1``/``l2`` on the outputs; ``fine_tune`` trains the conv
    layers too, at ``lr``)."""
    if task not in ("single", "multilabel"):
        raise ValueError(f"unknown AU task {task!r}; choose single or multilabel")
    if task == "single" and fine_tune:
        raise ValueError("single-AU detectors are linear heads on frozen features; fine-tune the multilabel head")
    faces, model = _au_setup(backbone, data)
    Y, kept = au_targets(faces, read_ckplus_au_labels(labels or default_au_labels()), min_sequences, aus)
    cfg = HeadConfig(kind="multilabel", hidden=0 if task == "single" else 512, epochs=epochs, l1=l1, l2=l2,
                     seed=seed, balanced=balanced)
    learner, features = _learner(model, faces.images, cfg, fine_tune, lr)
    config = {"head": cfg.to_dict(), **_backbone_provenance(backbone), "data": faces.name, "n_images": len(faces),
              "features": features, **({"lr": lr} if fine_tune else {})}
    res = au_detection_cv(learner, Y, kept, faces.subjects, faces.labels, k=k, task=task, config=config, fold_seed=seed)
    _write_au_result(res, out)
    return res


def transfer_intensity(backbone: str = "fer2013", data: str = "ckplus48", intensities: str | None = None,
                       k: int = 10, epochs: int = 30, min_coded: int = 10, aus: list[int] | None = None,
                       seed: int = 0, out: str | None = None, fine_tune: bool = False, lr: float = 3e-4,
                       hurdle: bool = False):
    """AU intensity 0-5 on CK+ (regression head on the conv features, frozen unless ``fine_tune``), over
    subject folds; ``hurdle``: a presence head times an intensity head fitted on present cells."""
    faces, model = _au_setup(backbone, data)
    table = read_intensities(intensities or Path(default_au_labels()).with_name("ck_facs_intensity.csv"))
    Y, M, kept, rows = intensity_targets(faces, table, min_coded, aus)
    sub = faces.subset(rows)
    cfg = HeadConfig(kind="regression", hidden=512, epochs=epochs, seed=seed)
    learner, features = _learner(model, faces.images, cfg, fine_tune, lr, rows=rows, hurdle=hurdle)
    config = {"head": cfg.to_dict(), **_backbone_provenance(backbone), "data": faces.name, "n_images": len(rows),
              "n_sequences": len(set(map(str, sub.sequences))), "features": features,
              "known_cells": int(M.sum()), "present_cells": int(((Y > 0) & (M > 0)).sum()),
              **({"lr": lr} if fine_tune else {})}
    res = au_intensity_cv(learner, Y, M, kept, sub.subjects, sub.labels, k=k, config=config, fold_seed=seed)
    _write_au_result(res, out)
    return res


def _write_au_result(res, out: str | None) -> None:
    """``out`` (JSON) and the markdown table beside it (same name, .md)."""
    if out:
        atomic_write_json(Path(out), {**res.to_dict(), "provenance": provenance()})
        atomic_write_text(Path(out).with_suffix(".md"), res.to_markdown() + "\n")


def train_au_model(backbone: str = "fer2013", data: str = "ckplus48", labels: str | None = None,
                   out: str = "runs/au_model.pt",
                   epochs: int = 30, l1: float = 0.01, l2: float = 0.01, min_sequences: int = 10, seed: int = 0) -> Path:
    """Fit the multi-label AU head on all of ``data`` (frozen ``backbone`` conv layers) and save it
    as one model: images in, one sigmoid probability per AU out (``task`` "au" in its config).
    Faces for it are cropped with CK+48's framing, the images its head was fitted on."""
    faces = ckplus_dataset(data)
    model = load_model(backbone)
    Y, aus = au_targets(faces, read_ckplus_au_labels(labels or default_au_labels()), min_sequences)
    cfg = HeadConfig(kind="multilabel", hidden=512, epochs=epochs, l1=l1, l2=l2, seed=seed)
    head = fit_head(extract_features(model, faces.images, layer="conv"), Y, cfg)
    au_model = attach_head(model, head, [f"AU{a}" for a in aus], task="au")
    return _save_au_model(out, au_model, backbone, faces.name, len(faces), cfg)


def train_au_intensity_model(backbone: str = "fer2013", data: str = "ckplus48", intensities: str | None = None,
                             out: str = "runs/au_intensity_model.pt", epochs: int = 30, min_coded: int = 10,
                             seed: int = 0) -> Path:
    """Fit the AU intensity regression head (0-5 per AU) on all of ``data``'s FACS intensity files
    (frozen ``backbone`` conv layers; the recipe ``facsnet transfer intensity`` scores over subject
    folds) and save it as one model: images in, one intensity per AU out (``task`` "au_intensity")."""
    faces, model = _au_setup(backbone, data)
    table = read_intensities(intensities or Path(default_au_labels()).with_name("ck_facs_intensity.csv"))
    Y, M, kept, rows = intensity_targets(faces, table, min_coded, None)
    cfg = HeadConfig(kind="regression", hidden=512, epochs=epochs, seed=seed)
    head = fit_head(extract_features(model, faces.images[rows], layer="conv"), Y, cfg, mask=M)
    au_model = attach_head(model, head, [f"AU{a}_intensity" for a in kept], task="au_intensity")
    return _save_au_model(out, au_model, backbone, faces.name, len(rows), cfg)


def _save_au_model(out: str, au_model, backbone: str, data_name: str, n_images: int, cfg) -> Path:
    """An AU model (presence or intensity) as a half-precision checkpoint with CK+48's framing, whose
    faces its head was fitted on, and where its backbone and head came from."""
    framing = CKPLUS48_FRAMING.resized(au_model.config["img_size"])
    arch = "breuer2017_bn" if au_model.config.get("batchnorm") else "breuer2017"
    save_checkpoint(out, au_model, arch, half=True, task=au_model.task,
                    framing={"eye_distance": framing.eye_distance, "eye_height": framing.eye_height},
                    provenance={**_backbone_provenance(backbone), "data": data_name, "n_images": n_images,
                                "head": cfg.to_dict()})
    return Path(out)

