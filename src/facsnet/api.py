"""The Python API behind each CLI subcommand (same names, same options): a lobby, one entry per verb.

Datasets are given as ``NAME`` or ``NAME:SPLIT`` (``fer2013:validation``, ``ferplus:train``) or as a
path (class folders, a FER2013-style folder, a ``fer2013.csv``, a CK+ release). Each verb's work
lives in its room: ``data`` (names, splits), ``training``, ``models`` (checkpoints, bundled weights),
``inference`` (analyze, corpora, ONNX), ``interpret``, ``transfer`` and ``micro``.
"""
from __future__ import annotations

import logging
import os

from .data.specs import HOLDOUT_SEED, HOLDOUT_VALS, dataset, holdout_split, note_twins, train_and_validation
from .data.splits import stratified_subset
from .inference.onnx_export import export_checkpoint as export
from .inference.run import analyze, analyze_corpus, is_corpus_out, merge, partial_path
from .interpret.run import au_correlate, visualize
from .micro.experiments import micro_loso, micro_megc2019
from .models.ensemble import ensemble_checkpoint as ensemble
from .models.hub import DEFAULT_MODEL, load_model
from .training import CVResult, EvalResult, TrainConfig, TrainResult, cross_validate, evaluate_on
from .training import train as train_model
from .training.calibration import calibrate_checkpoint as calibrate
from .transfer.run import (CROSS_SOURCES, CROSS_TARGETS, train_au_intensity_model, train_au_model, transfer_au,
                           transfer_cross, transfer_intensity)
from .utils import check_writable_folder

log = logging.getLogger("facsnet")

__all__ = ["HOLDOUT_SEED", "dataset", "holdout_split", "train", "cv", "evaluate", "analyze", "analyze_corpus",
           "is_corpus_out", "merge", "partial_path", "export", "calibrate", "ensemble", "au_correlate", "visualize",
           "transfer_cross", "transfer_au", "transfer_intensity", "train_au_model", "train_au_intensity_model",
           "CROSS_SOURCES", "CROSS_TARGETS", "micro_megc2019", "micro_loso"]


def train(data: str, val: str | None = None, out: str = "runs/train",
          val_fraction: float = 0.1, subject_pattern: str | None = None, overwrite: bool = False,
          train_fraction: float = 1.0, **settings) -> TrainResult:
    """Train on ``data``; validate on ``val`` (``none``, ``holdout``, ``holdout-unseen``, ``holdout-distinct``,
    a dataset, or by default the dataset's own validation split where it has one; see
    :func:`facsnet.data.specs.train_and_validation`).
    ``train_fraction`` < 1 trains on that share of the training part, stratified and the same faces for
    every seed (quick experiments, ablations); the validation part stays whole.
    ``overwrite`` starts afresh in an ``out`` that holds a run with other settings or data."""
    config = TrainConfig.from_dict(settings)
    check_writable_folder(out)
    train_set, val_set = train_and_validation(data, val, val_fraction, config.seed, subject_pattern)
    kept_out = None    # validated on a part of the hold-out: the whole of it is recorded as kept out of training
    if val is not None and val.lower() in HOLDOUT_VALS and val.lower() != "holdout":
        kept_out = holdout_split(dataset(data, "train", subject_pattern), val_fraction, HOLDOUT_SEED)[1]
    train_set = stratified_subset(train_set, train_fraction)
    if not config.soft_targets and str(data).partition(":")[0].lower() == "fer2013-votes":
        raise ValueError(f"{data}: its FER+ votes are learnt only with soft_targets (--soft-targets); "
                         "without them it is fer2013")
    if config.soft_targets and train_set.soft is None:
        raise ValueError(f"{data}: soft_targets asked for, but the dataset has no vote distributions (use ferplus-dist or fer2013-votes)")
    log.info("train: %s", train_set.summary())
    if val_set is not None:
        log.info("val:   %s", val_set.summary())
        if os.environ.get("RANK", "0") == "0":   # once, not on every rank of a torchrun launch
            note_twins(val_set, train_set)
    if len(train_set.class_names) < 2:
        raise ValueError(f"{data}: {len(train_set.class_names)} class ({', '.join(train_set.class_names)}); "
                         "a classifier needs at least 2")
    return train_model(train_set, val_set, config, out_dir=out, overwrite=overwrite, kept_out=kept_out)


def cv(data: str = "ckplus48", k: int = 10, protocol: str | None = None, out: str = "runs/cv",
       fold_seed: int = 0, folds: list[int] | None = None, subject_pattern: str | None = None,
       overwrite: bool = False, **settings) -> CVResult | None:
    """k-fold cross-validation on ``data`` (``protocol`` subject or image; see :func:`cross_validate`)."""
    check_writable_folder(out)
    data_set = dataset(data, "train", subject_pattern)
    log.info("cv: %s", data_set.summary())
    return cross_validate(data_set, TrainConfig.from_dict(settings), k=k, protocol=protocol, seed=fold_seed,
                          out_dir=out, folds=folds, overwrite=overwrite)


def evaluate(model: str | None = None, data: str = "fer2013:validation", tta_flip: bool | None = None,
             subject_pattern: str | None = None, balanced: bool | float | None = None,
             data_classes_only: bool = False) -> EvalResult:
    """Score a bundled model name or checkpoint on a labelled dataset (accuracy, UAR, ECE);
    ``tta_flip=None`` averages the mirror image when the model asks for it, ``balanced=None`` corrects for
    the training class prior as far as the model asks (False: not at all; True: equally likely classes;
    a number in 0-1: part of the way); ``model=None`` is the default model (:data:`facsnet.models.hub.DEFAULT_MODEL`)."""
    model = model or DEFAULT_MODEL
    data_set = dataset(data, "validation", subject_pattern)
    return evaluate_on(load_model(model), data_set, model_label=str(model), tta_flip=tta_flip, balanced=balanced,
                       data_classes_only=data_classes_only)
