"""LOSO runs: the MEGC 2019 composite variants and the frame-sequence CNN + LSTM.

Composite variants, each with two twins: ``<name>_scratch`` (the same CNN trained from random
weights) and ``<name>_frozen`` (the pretrained conv layers kept fixed, their features computed once
without augmentation, only the dense layers trained: cheap enough for a CPU):
  ``apex``  the FER-pretrained CNN fine-tuned on the apex face crops
  ``flow``  the same CNN (first conv widened to 3 channels) fine-tuned on the onset->apex flow images
  ``lstm``  the LSTM over the two-step sequence [flow, apex], each step encoded by the dense layer of
            that fold's flow / apex CNN
Sequence run (a database's frames): ``lstm`` = CNN trained on the selected frames with their
clip's label, then the LSTM over the encoded frames; ``apex`` = that CNN on the apex frame alone.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..data.augment import Augment
from .data import MicroSet
from ..data.splits import loso_folds
from ..training.run_folder import check_run_folder
from ..utils import atomic_write_json, folder_lock, parse_shard, shard_of
from .loso import FoldStore, LosoResult, score_predictions, write_results
from .model import MicroConfig, cnn_outputs, fit_cnn, fit_lstm, frozen_conv_features, lstm_predict

log = logging.getLogger("facsnet")

FACE_AUG = Augment()  # the emotion model's flips + affine
# Flow images: a flip or a rotation would turn the flow vectors' meaning; only shift and zoom.
FLOW_AUG = Augment(flip=0.0, rotate=0.0, translate=0.1, scale=0.1, shear=0.0)
COMPOSITE_VARIANTS = ("apex", "flow", "lstm", "apex_scratch", "flow_scratch", "lstm_scratch",
                      "apex_frozen", "flow_frozen", "lstm_frozen")
TWINS = ("", "_scratch", "_frozen")
DATA_PLACES = ("source", "table", "frames")   # where the data lies: moved data resumes a run if its clips are the same


def split_variant(variant: str) -> tuple[str, str]:
    """``'flow_scratch'`` -> ``('flow', '_scratch')``; ``'apex'`` -> ``('apex', '')``."""
    base, _, twin = variant.partition("_")
    return base, f"_{twin}" if twin else ""


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0


def _twin_config(cfg: MicroConfig, twin: str) -> MicroConfig:
    if twin == "_scratch":
        return replace(cfg, init=None)
    if twin == "_frozen":
        if not cfg.init:
            raise ValueError("a frozen variant needs pretrained weights (init)")
        return replace(cfg, frozen=True)
    return cfg


def _wanted(variants: list[str], twin: str) -> set[str]:
    return {base for base, t in map(split_variant, variants) if t == twin}


def composite_fold(data: MicroSet, train: np.ndarray, test: np.ndarray, variants: list[str],
                   cfg: MicroConfig) -> dict[str, np.ndarray]:
    """Predicted class indices for the ``test`` rows, per variant, trained on the ``train`` rows."""
    out = {}
    for twin in TWINS:
        want = _wanted(variants, twin)
        if not want:
            continue
        c = _twin_config(cfg, twin)
        feats = {}
        for name, images, aug in (("apex", data.apex, FACE_AUG), ("flow", data.flow, FLOW_AUG)):
            if name not in want and "lstm" not in want:
                continue
            conv = None
            if c.frozen:  # the same fixed features in every fold: computed once per data set
                key = ("conv", name, c.init)
                if key not in data.cache:
                    data.cache[key] = frozen_conv_features(c.init, _unit(images))
                conv = data.cache[key]
            model = fit_cnn(_unit(images[train]), data.y[train], data.class_names, c,
                            augment=None if c.frozen else aug, conv=None if conv is None else conv[train])
            logits, feats[name] = cnn_outputs(model, _unit(images), conv=conv)
            out[f"{name}{twin}"] = logits[test].argmax(1)
        if "lstm" in want:
            seqs = np.stack([feats["flow"], feats["apex"]], axis=1)
            lengths = np.full(len(seqs), 2)
            net = fit_lstm(seqs[train], lengths[train], data.y[train], len(data.class_names), c)
            out[f"lstm{twin}"] = lstm_predict(net, seqs[test], lengths[test])
    return {v: out[v] for v in variants}


def sequence_fold(data: MicroSet, train: np.ndarray, test: np.ndarray, variants: list[str],
                  cfg: MicroConfig) -> dict[str, np.ndarray]:
    """The paper's two stages in one fold: the CNN on the selected frames (clip label on each), then
    the LSTM on the frames encoded by the CNN's dense layer."""
    out = {}
    t_max = data.frames.shape[1]
    for twin in TWINS:
        want = _wanted(variants, twin)
        if not want:
            continue
        c = _twin_config(cfg, twin)
        valid = np.arange(t_max)[None, :] < data.lengths[:, None]            # (N, T)
        rows = np.zeros(len(data), dtype=bool)
        rows[train] = True
        pick = valid & rows[:, None]
        frames = data.frames[pick]                                         # (M, 1, 48, 48)
        labels = np.broadcast_to(data.y[:, None], valid.shape)[pick]
        model = fit_cnn(_unit(frames), labels, data.class_names, c, augment=None if c.frozen else FACE_AUG)
        if "apex" in want:
            logits, _ = cnn_outputs(model, _unit(data.apex[test]))
            out[f"apex{twin}"] = logits.argmax(1)
        if "lstm" in want:
            _, f = cnn_outputs(model, _unit(data.frames.reshape(-1, *data.frames.shape[2:])))
            seqs = f.reshape(len(data), t_max, -1)
            net = fit_lstm(seqs[train], data.lengths[train], data.y[train], len(data.class_names), c)
            out[f"lstm{twin}"] = lstm_predict(net, seqs[test], data.lengths[test])
    return {v: out[v] for v in variants}


def run_record(data: MicroSet, cfg: MicroConfig, title: str, extra: dict | None = None) -> dict:
    """What a LOSO run folder holds (its ``config.json``): the experiment, the settings and the clips
    (a hash of their ids and labels). The variants are not part of it: one may be added to a run later."""
    clips = hashlib.sha1(json.dumps([data.keys, data.y.tolist(), data.class_names]).encode()).hexdigest()[:16]
    settings = {k: v for k, v in (extra or {}).items() if k not in DATA_PLACES}
    return {"experiment": title, "config": cfg.to_dict(), "data": {"clips": len(data), "fingerprint": clips},
            **settings}


def claim_run_folder(out: Path, record: dict, overwrite: bool) -> None:
    """Check ``out`` against this run and record it, one process at a time (shards start together).
    Folds in a folder that records no run (written before runs were recorded) are kept and the run
    adopts them, unless ``overwrite``."""
    with folder_lock(out):
        if not (out / "config.json").exists() and any((out / "folds").glob("fold_*.json")):
            if overwrite:
                shutil.rmtree(out / "folds")
            else:
                log.warning("%s records no run settings: its finished folds are taken as this run's "
                            "(--overwrite starts afresh)", out)
        check_run_folder(out, record, overwrite, files=("loso.json", "loso.md"), folders="folds")
        atomic_write_json(out / "config.json", record)


def run_loso(data: MicroSet, variants: list[str], cfg: MicroConfig, out: str | Path, fold_fn,
             title: str, shard: str | tuple[int, int] = (1, 1), max_minutes: float | None = None,
             extra: dict | None = None, overwrite: bool = False) -> list[LosoResult]:
    """Run (or resume) every fold of this shard, then score the variants whose predictions are complete.
    ``shard=(i, n)`` runs folds i, i+n, ... (1-based) so n processes can share one output folder.
    A folder holding a run with other settings or clips is refused (:class:`RunFolderError`) unless
    ``overwrite``; a variant added to a finished run trains only itself in each fold."""
    shard = parse_shard(shard)                # a bad shard stops here, before any folder is made
    if overwrite and shard != (1, 1):
        raise ValueError("--overwrite clears the whole run folder: do it once, without --shard, then start the shards")
    out = Path(out)
    claim_run_folder(out, run_record(data, cfg, title, extra), overwrite)
    store = FoldStore(out / "folds")
    folds = loso_folds(data.subjects)
    t0 = time.perf_counter()
    for j, (subject, train, test) in shard_of(list(enumerate(folds)), shard):
        todo = store.missing(subject, variants)
        if not todo:
            continue
        if max_minutes is not None and time.perf_counter() - t0 > 60 * max_minutes:
            log.warning("stopping: time limit of %.1f min reached (rerun the same command to resume)", max_minutes)
            break
        missing = sorted(set(data.y.tolist()) - set(data.y[train].tolist()))
        if missing:
            log.warning("fold %s: no training clip of %s", subject, ", ".join(data.class_names[i] for i in missing))
        if len(test) == 1:
            log.info("fold %s: a subject with one clip (%s), scored as a fold of one", subject, data.keys[test[0]])
        preds = fold_fn(data, train, test, todo, cfg)
        store.save(subject, {v: {data.keys[i]: int(p) for i, p in zip(test, preds[v])} for v in todo})
        log.info("fold %d/%d (%s, %d clips) done after %.0f s", j + 1, len(folds), subject, len(test),
                 time.perf_counter() - t0)
    return score_store(data, variants, cfg, out, title, extra)


def score_store(data: MicroSet, variants: list[str], cfg: MicroConfig, out: str | Path, title: str,
                extra: dict | None = None) -> list[LosoResult]:
    """Score what the fold store holds; a variant missing some clips is scored on those it has and
    marked partial in its config record."""
    merged = FoldStore(Path(out) / "folds").load_all()
    n_folds = len(set(data.subjects.tolist()))
    results = []
    for v in variants:
        preds = merged.get(v, {})
        idx = [i for i, k in enumerate(data.keys) if k in preds]
        if not idx:
            continue
        conf = {**cfg.to_dict(), "init": None if v.endswith("_scratch") else cfg.init, "frozen": v.endswith("_frozen")}
        if len(idx) < len(data):
            conf["partial"] = f"{len(idx)} of {len(data)} clips scored (folds still to run)"
        done_folds = len({data.subjects[i] for i in idx})
        results.append(score_predictions(v, data.y[idx], [preds[data.keys[i]] for i in idx], data.databases[idx],
                                         data.class_names, done_folds, conf))
    write_results(results, out, title, {"data": data.summary(), "subjects": n_folds, "problems": data.problems,
                                        **(extra or {})})
    return results
