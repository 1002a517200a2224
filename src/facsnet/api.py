"""The Python API behind each CLI subcommand (same names, same options).

Datasets are given as ``NAME`` or ``NAME:SPLIT`` (``fer2013:validation``, ``ferplus:train``)
or as a path (class folders, a FER2013-style folder, a ``fer2013.csv``, a CK+ release).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from .data import FaceSet, load_dataset, make_folds
from .training import CVResult, EvalResult, TrainConfig, TrainResult, cross_validate, evaluate_on
from .training import train as _train

log = logging.getLogger("facsnet")


def dataset(spec: str, default_split: str = "train", subject_pattern: str | None = None) -> FaceSet:
    """Load ``NAME[:SPLIT]`` or a path (a path may itself contain ':' on no system we support)."""
    spec = str(spec)
    name, _, split = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    return load_dataset(name, split or default_split, subject_pattern=subject_pattern)


HOLDOUT_SEED = 0   # fixed, so ``val="holdout"`` carves the same faces whatever the training seed


def holdout_split(data: FaceSet, fraction: float, seed: int) -> tuple[FaceSet, FaceSet]:
    """A validation part of about ``fraction``, by subject when ``data`` has subjects."""
    k = max(2, round(1 / fraction))
    test = make_folds(data.labels, data.subjects, k, "subject" if data.has_subjects else "image", seed)[0]
    train_idx = np.setdiff1d(np.arange(len(data)), test)
    return data.subset(train_idx), data.subset(test, name=f"{data.name}-holdout")


def train(data: str = "fer2013", val: str | None = None, out: str = "runs/train",
          val_fraction: float = 0.1, subject_pattern: str | None = None, overwrite: bool = False,
          **settings) -> TrainResult:
    """Train on ``data``; validate on ``val`` (``none`` for no validation; ``holdout`` for a
    ``val_fraction`` carved from the training data with a fixed seed, so every model trained this
    way is chosen and calibrated on the same faces), on the dataset's validation split when it has
    one (FER2013, FER+), else on a held-out ``val_fraction``.
    ``overwrite`` starts afresh in an ``out`` that holds a run with other settings or data."""
    config = TrainConfig.from_dict(settings)
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction = {val_fraction}: must lie strictly between 0 and 1")
    train_set = dataset(data, "train", subject_pattern)
    if val is not None and val.lower() == "none":
        val_set = None
    elif val is not None and val.lower() == "holdout":   # the same part for every seed: models stay comparable
        train_set, val_set = holdout_split(train_set, val_fraction, HOLDOUT_SEED)
    elif val is not None:
        val_set = dataset(val, "validation", subject_pattern)
    elif _has_validation_split(data):
        val_set = dataset(data.partition(":")[0], "validation", subject_pattern)
    else:
        train_set, val_set = holdout_split(train_set, val_fraction, config.seed)
    if config.soft_targets and train_set.soft is None:
        raise ValueError(f"{data}: soft_targets asked for, but the dataset has no vote distributions (use ferplus-dist)")
    log.info("train: %s", train_set.summary())
    if val_set is not None:
        log.info("val:   %s", val_set.summary())
    if len(train_set.class_names) < 2:
        raise ValueError(f"{data}: {len(train_set.class_names)} class ({', '.join(train_set.class_names)}); "
                         "a classifier needs at least 2")
    return _train(train_set, val_set, config, out_dir=out, overwrite=overwrite)


def _has_validation_split(spec: str) -> bool:
    name = spec.partition(":")[0]
    if name.lower().replace("+", "plus") in ("fer2013", "ferplus", "ferplus-dist"):
        return True
    p = Path(spec)
    return p.is_dir() and (p / "train").is_dir() and (p / "validation").is_dir()


def cv(data: str = "ckplus48", k: int = 10, protocol: str | None = None, out: str = "runs/cv",
       fold_seed: int = 0, folds: list[int] | None = None, subject_pattern: str | None = None,
       overwrite: bool = False, **settings) -> CVResult | None:
    """k-fold cross-validation on ``data`` (``protocol`` subject or image; see :func:`cross_validate`)."""
    config = TrainConfig.from_dict(settings)
    data_set = dataset(data, "train", subject_pattern)
    log.info("cv: %s", data_set.summary())
    return cross_validate(data_set, config, k=k, protocol=protocol, seed=fold_seed, out_dir=out, folds=folds,
                          overwrite=overwrite)


def evaluate(model: str | None = None, data: str = "fer2013:validation", tta_flip: bool | None = None,
             subject_pattern: str | None = None, balanced: bool = False) -> EvalResult:
    """Score a bundled model name or checkpoint on a labelled dataset (accuracy, UAR, ECE);
    ``tta_flip=None`` averages the mirror image when the model asks for it; ``model=None`` is the
    default model (:data:`facsnet.pretrained.DEFAULT_MODEL`)."""
    from .pretrained import DEFAULT_MODEL, load_model

    model = model or DEFAULT_MODEL
    net = load_model(model)
    data_set = dataset(data, "validation", subject_pattern)
    return evaluate_on(net, data_set, model_label=str(model), tta_flip=tta_flip, balanced=balanced)


def ckplus_dataset(data: str) -> FaceSet:
    """A dataset with CK+ sequence ids: a folder of CK+-named crops (``S010_004_00000017.png``)
    is read as CK+48; names and other layouts go through :func:`dataset`."""
    from .data import read_ckplus48

    path = Path(data)
    if path.is_dir() and not (path / "cohn-kanade-images").is_dir():
        return read_ckplus48(path)
    return dataset(data, "train")


def au_correlate(model: str = "ckplus48", data: str = "ckplus48", labels: str | None = None,
                 layer: str = "conv3", ns=(5, 10, 20), permutations: int = 100, eps: float = 0.0,
                 out: str | None = None):
    """Live filters per layer and the filter-AU correlation P(j,u) on CK+ (see
    :func:`facsnet.interpret.analysis.au_analysis`); writes ``au.json`` and ``au.md`` to ``out``."""
    from .data import data_root
    from .interpret.analysis import au_analysis
    from .pretrained import load_model
    from .utils import atomic_write_json, atomic_write_text

    labels = labels or str(data_root() / "CK+_AU_labels" / "ckplus_327_sequences_AU_emotion.csv")
    data_set = ckplus_dataset(data)
    res = au_analysis(load_model(model), data_set, labels, model_label=str(model), layer=layer,
                      ns=tuple(ns), permutations=permutations, eps=eps)
    if out:
        atomic_write_json(Path(out) / "au.json", res.to_dict())
        atomic_write_text(Path(out) / "au.md", res.to_markdown())
    return res


def visualize(model: str = "ckplus48", data: str = "ckplus48", out: str = "runs/visualize", layer: str = "conv3",
              filters: list[int] | None = None, n: int = 8, rule: str = "guided", eps: float = 0.0,
              au_labels: str | None = None, au_n: int = 10) -> dict:
    """Top-N images per filter with reconstruction overlays (``{layer}_fNNN.png`` + ``index.json``);
    with ``au_labels`` also one figure per matched Action Unit (``AUxx_...png``)."""
    from .interpret.visualize import au_figures
    from .interpret.visualize import visualize as _visualize
    from .interpret.activations import max_activation_table
    from .pretrained import load_model

    net = load_model(model)
    data_set = ckplus_dataset(data) if au_labels else dataset(data, "train")
    table = max_activation_table(net, data_set.tensors()[0], layer)   # shared by both figure kinds
    index = _visualize(net, data_set, out, layer=layer, filters=filters, n=n, rule=rule, eps=eps, table=table)
    if au_labels:
        index["au_figures"] = au_figures(net, data_set, au_labels, out, layer=layer, n=au_n, rule=rule,
                                         eps=eps, table=table)
    return index


def analyze(inputs=None, model: str | None = None, out: str | None = None, annotate: str | None = None,
            detector: str = "blazeface", backend: str = "auto", stride: int = 1, max_frames: int | None = None,
            min_face_score: float = 0.5, level_eyes: bool = True, photo_tiles: int = 2, aus: str | None = "ckplus_au",
            au_intensity: str | None = "ckplus_au_intensity",
            detect_every: int = 1, precision: str = "auto", balanced: bool = False, num_threads: int | None = None,
            progress: bool = True, device: str = "cpu", landmarks: bool = True):
    """Faces and emotion probabilities for photos, folders, videos (``camera:N`` for a camera) or
    arrays; with no inputs, the photos bundled with the package. ``out`` writes the table
    (.csv/.parquet/.jsonl/.json); ``annotate`` a folder of annotated photos or an annotated video;
    ``aus`` an Action Unit model (bundled ``ckplus_au`` or a checkpoint) adds one probability column per AU
    and ``au_intensity`` (bundled ``ckplus_au_intensity``) one 0-5 intensity column per AU (None: none);
    ``balanced`` treats the emotions as equally likely (corrects for the training class shares);
    ``landmarks`` adds head pose and named face-mesh points per face (False: none, a little faster)."""
    from .inference import DEFAULT_MODEL, Analyzer
    from .samples import sample_paths

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    inputs = sample_paths() if inputs is None or (not isinstance(inputs, np.ndarray) and len(inputs) == 0) else inputs
    if out:
        from .inference.results import TABLE_SUFFIXES
        from .utils import check_writable_file

        if Path(out).suffix.lower() not in TABLE_SUFFIXES:
            raise ValueError(f"{out}: a table's format follows its suffix, one of {', '.join(TABLE_SUFFIXES)}; "
                             "for one result file per input, give a folder (end it with /)")
        check_writable_file(out, TABLE_SUFFIXES)
    if annotate:
        from .inference.annotate import check_annotation_target

        check_annotation_target(annotate)
    analyzer = Analyzer(model or DEFAULT_MODEL, detector=detector, backend=backend, min_face_score=min_face_score,
                        level_eyes=level_eyes, photo_tiles=photo_tiles, au_model=aus, au_intensity_model=au_intensity,
                        detect_every=detect_every, landmarks=landmarks,
                        precision=precision, balanced=balanced, num_threads=num_threads, device=device)
    stream = None
    if out:   # finished rows go to TABLE.partial.* as they come; the complete table replaces OUT at the end
        from .inference.results import COLUMNS, RowStream

        extra = analyzer.face_columns + analyzer.au_names
        stream = RowStream(partial_path(out), COLUMNS + extra)
    bar = _frame_bar(inputs, stride, max_frames) if progress else None

    def finished(fr):
        if stream is not None:
            stream.write(fr, extra)
        if bar is not None:
            bar.update(1)

    try:
        result = analyzer.analyze(inputs, stride=stride, max_frames=max_frames, annotate_to=annotate,
                                  progress=bar is None and progress, on_frame=finished)
    except BaseException as exc:   # Ctrl-C, a crash: the finished rows stay in the partial table
        if stream is not None:
            exc.kept = stream.close(keep=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    if out and result.frames:   # an existing table is only ever replaced by a complete new one
        result.save(out)
    elif out:
        log.warning("nothing was analysed: %s left as it was", out)
    if stream is not None:
        stream.close(keep=False)
    return result


def _frame_bar(inputs, stride: int, max_frames: int | None):
    """A progress bar over the frames to analyse (total, rate, time left) on a terminal; None elsewhere."""
    import sys

    if not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    from .inference.media import expected_frames
    from .inference.pipeline import _as_sources

    try:
        sources = _as_sources(inputs, [])
    except ValueError:        # the analysis itself will say what is wrong
        return None
    return tqdm(total=expected_frames(sources, stride, max_frames), unit="frame", desc="analyse", leave=False)


def is_corpus_out(out) -> bool:
    """``--out DIR`` (no suffix, an existing folder, or a trailing slash): one result file per input,
    resumable (see analyze_corpus); ``--out TABLE.csv`` (or .parquet, .jsonl, .json): one table."""
    if out is None:
        return False
    if str(out).strip() in ("", "."):
        raise ValueError(f"--out {str(out)!r}: name a table file or a new folder")
    from .inference.results import TABLE_SUFFIXES

    if str(out).endswith(("/", "\\")):
        return True
    return Path(out).suffix.lower() not in TABLE_SUFFIXES and (Path(out).suffix == "" or Path(out).is_dir())


def analyze_corpus(inputs, out: str, shard: str | tuple[int, int] = (1, 1), engine: str = "local",
                   workers: int | None = None, ray_address: str | None = None, overwrite: bool = False,
                   model: str | None = None, **settings):
    """Photos and videos of folders, globs or manifests (CSV with a ``path`` column), one result file
    per input in the folder ``out`` as each finishes; a rerun does only what is missing; ``shard``
    ``"i/n"`` does the i-th of n deterministic parts; ``engine="ray"`` runs the inputs as Ray tasks.
    Join the results with :func:`merge`."""
    from .inference.corpus import analyze_corpus as run, parse_shard
    from .pretrained import DEFAULT_MODEL

    shard = parse_shard(shard) if isinstance(shard, str) else tuple(shard)
    settings.setdefault("aus", "ckplus_au")                    # the same defaults as analyze
    settings.setdefault("au_intensity", "ckplus_au_intensity")
    settings.setdefault("landmarks", True)
    return run(inputs, out, shard=shard, engine=engine, workers=workers, ray_address=ray_address,
               overwrite=overwrite, model=model or DEFAULT_MODEL, **settings)


def merge(run_dir: str, out: str | None = None, allow_missing: bool = False):
    """The per-input results of a corpus run as one table (written to ``out`` when given)."""
    from .inference.corpus import merge_corpus

    return merge_corpus(run_dir, out, allow_missing=allow_missing)


def partial_path(out: str | Path) -> Path:
    """Where a run keeps its finished rows until the table is complete: ``table.csv`` ->
    ``table.partial.csv``; other formats stream as JSON Lines (``table.partial.jsonl``)."""
    out = Path(out)
    suffix = ".csv" if out.suffix.lower() == ".csv" else ".jsonl"
    return out.with_name(f"{out.stem}.partial{suffix}")


def export(model: str = "fer2013", out: str = "model.onnx") -> Path:
    """Export a bundled model or checkpoint to ONNX (framing and class names in its metadata)."""
    from .inference import export_onnx
    from .pretrained import framing_of, resolve_weights
    from .training.checkpoint import model_from_checkpoint, read_checkpoint

    from .utils import check_writable_file

    check_writable_file(out, (".onnx",))
    ckpt = read_checkpoint(resolve_weights(model))
    return export_onnx(model_from_checkpoint(ckpt), out, framing=framing_of(ckpt, str(model)),
                       task=ckpt.get("task", "emotion"))


def calibrate(model: str, data: str = "fer2013", val: str = "holdout", val_fraction: float = 0.1,
              tta_flip: bool | None = None, out: str | None = None, subject_pattern: str | None = None):
    """Fit the softmax temperature of ``model`` on held-out faces and write a copy of the
    checkpoint that carries it (and ``tta_flip``, how its predictions are to be made) to ``out``.

    ``val="holdout"`` fits on the ``val_fraction`` of ``data``'s training split that
    ``train(val="holdout")`` kept out of training (the same faces, checked against the run's
    record); any other value names a labelled dataset with the model's classes. ``tta_flip=None``
    keeps the checkpoint's own setting. Returns the :class:`~facsnet.training.calibration.Calibration`.
    """
    import torch

    from .pretrained import resolve_weights
    from .training.calibration import calibrate as fit
    from .training.checkpoint import model_from_checkpoint, read_checkpoint
    from .training.loop import predict_logits
    from .utils import atomic_torch_save, check_writable_file

    if out:
        check_writable_file(out, (".pt",))
    ckpt = read_checkpoint(resolve_weights(model))
    net = model_from_checkpoint(ckpt)
    if val.lower() == "holdout":
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction = {val_fraction}: must lie strictly between 0 and 1")
        _, held = holdout_split(dataset(data, "train", subject_pattern), val_fraction, HOLDOUT_SEED)
        recorded = ((ckpt.get("data") or {}).get("val") or {}).get("fingerprint")
        if recorded != held.fingerprint():
            raise ValueError(f"{model}: its run was not validated on the hold-out of {data} (fraction {val_fraction}) "
                             "that `train --val holdout` keeps out, so those faces may have been trained on; "
                             "name held-out faces with --val")
    else:
        held = dataset(val, "validation", subject_pattern)
    if tta_flip is None:
        tta_flip = bool((ckpt.get("inference") or {}).get("tta_flip", (ckpt.get("train_config") or {}).get("tta_flip")))
    if list(held.class_names) != list(net.class_names):
        raise ValueError(f"{held.name}: classes {', '.join(held.class_names)} are not the model's "
                         f"({', '.join(net.class_names)}), in that order")
    x, _ = held.tensors()
    logits = predict_logits(net, x).numpy()
    flipped = predict_logits(net, torch.flip(x, (-1,))).numpy() if tta_flip else None
    result = fit(logits, held.labels, fitted_on=held.name, flipped_logits=flipped)
    log.info("temperature %.3f on %d faces of %s: ECE %.4f -> %.4f, NLL %.4f -> %.4f", result.temperature,
             result.n, held.name, result.ece_before, result.ece_after, result.nll_before, result.nll_after)
    if out:
        atomic_torch_save({**ckpt, "calibration": result.to_dict(), "inference": {"tta_flip": bool(tta_flip)}}, out)
    return result


def ensemble(models: list[str], out: str) -> Path:
    """One checkpoint that averages the probabilities of ``models`` (emotion checkpoints or bundled
    names with the same classes, input and framing, trained on the same data and validated on the
    same faces, so that the ensemble can be calibrated on them); written to ``out``. The members'
    own temperatures do not carry over: calibrate the ensemble itself."""
    from .models.ensemble import Ensemble
    from .pretrained import framing_of, resolve_weights
    from .training.checkpoint import model_from_checkpoint, read_checkpoint, save_checkpoint
    from .utils import check_writable_file

    if len(models) < 2:
        raise ValueError("an ensemble needs at least two models")
    check_writable_file(out, (".pt",))
    ckpts = [read_checkpoint(resolve_weights(m)) for m in models]
    first = ckpts[0]
    for m, ck in zip(models[1:], ckpts[1:]):
        if ck["class_names"] != first["class_names"]:
            raise ValueError(f"{m}: classes {ck['class_names']} differ from {models[0]}'s {first['class_names']}")
        same = lambda part: ((ck.get("data") or {}).get(part) or {}).get("fingerprint") == \
            ((first.get("data") or {}).get(part) or {}).get("fingerprint")  # noqa: E731
        if not (same("train") and same("val")):
            raise ValueError(f"{m}: trained or validated on other faces than {models[0]} (data fingerprints differ)")
    for m, ck in zip(models, ckpts):
        if ck.get("task", "emotion") != "emotion":
            raise ValueError(f"{m}: an {ck['task']} model; ensembles average emotion models")
    nets = [model_from_checkpoint(ck) for ck in ckpts]
    framings = [framing_of(ck, str(m)) for m, ck in zip(models, ckpts)]
    for m, net, framing in zip(models[1:], nets[1:], framings[1:]):
        if net.data_config != nets[0].data_config or framing != framings[0]:
            raise ValueError(f"{m}: takes other faces than {models[0]} (input size, channels, normalisation or "
                             f"framing differ)")
    cfg = first["model_config"]
    ens = Ensemble(members=[{"model_name": ck["model_name"], "model_config": ck["model_config"]} for ck in ckpts],
                   in_chans=cfg.get("in_chans", 1), num_classes=len(first["class_names"]), img_size=cfg["img_size"],
                   norm=cfg.get("norm", "per_image"), class_names=first["class_names"])
    for member, net in zip(ens.members, nets):
        member.load_state_dict(net.state_dict())
    members = [{"source": str(m), "model_name": ck["model_name"], "epoch": ck.get("epoch"),
                "train_config": ck.get("train_config")} for m, ck in zip(models, ckpts)]
    framing = {"eye_distance": framings[0].eye_distance, "eye_height": framings[0].eye_height}
    save_checkpoint(out, ens, "ensemble", data=first.get("data"), train_config=first.get("train_config"),
                    members=members, framing=framing)
    return Path(out)


# ----------------------------------------------------------------------------- transfer (issue 5)

CROSS_SOURCES = ("fer2013", "fer2013_bn", "ferplus", "ckplus48")
CROSS_TARGETS = ("ckplus48", "fer2013", "ferplus")


def _target_splits(spec: str) -> tuple[FaceSet | None, FaceSet]:
    """(train, test) of a cross-table target: the train/validation splits where a dataset has them
    (FER2013, FER+), else (None, everything) for k-fold scoring."""
    if _has_validation_split(spec):
        name = spec.partition(":")[0]
        return dataset(name, "train"), dataset(name, "validation")
    return None, dataset(spec, "train")


def transfer_cross(sources=CROSS_SOURCES, targets=CROSS_TARGETS, out: str | None = None, k: int = 10,
                   epochs: int = 30, seed: int = 0, update: bool = False):
    """The cross-dataset table: each source model (bundled name or checkpoint) on each target
    dataset, as-is and with a re-fitted output layer; writes ``out``/cross.json and cross.md.
    ``update``: re-run only these sources' rows of the table already in ``out`` (same head settings),
    keeping the other rows."""
    from .pretrained import load_model, weights_digest
    from .transfer import HeadConfig, as_is, fine_tuned, to_markdown
    from .utils import atomic_write_json, atomic_write_text

    cfg = HeadConfig(kind="multiclass", hidden=0, epochs=epochs, seed=seed)
    splits = {t: _target_splits(t) for t in targets}
    cells = []
    for source in sources:
        model = load_model(source)
        for target, (train, test) in splits.items():
            seen = f"{source} was trained on these images" if _trained_on(source, target) else "unseen images"
            cells.append(as_is(model, source, test, f"as-is on {test.name} ({seen})"))
            cells.append(fine_tuned(model, source, train, test, cfg, k=k, fold_seed=seed))
            if _trained_on(source, target):
                cells[-1].protocol += f" ({source}'s backbone was trained on all of these images)"
            log.info("%s -> %s: as-is %.3f, fine-tuned %.3f", source, target, cells[-2].accuracy, cells[-1].accuracy)
    digests = {str(s): weights_digest(s) for s in sources}
    if update and out:
        cells, digests = _merge_cross(Path(out) / "cross.json", cfg.to_dict(), cells, digests)
    if out:
        atomic_write_json(Path(out) / "cross.json", {"head": cfg.to_dict(), "weights_sha256": digests,
                                                     "cells": [c.to_dict() for c in cells]})
        atomic_write_text(Path(out) / "cross.md", to_markdown(cells) + "\n")
    return cells


def _merge_cross(path: Path, head: dict, cells: list, digests: dict) -> tuple[list, dict]:
    """The table in ``path`` with the rows of the sources in ``cells`` replaced by them."""
    from .transfer import CrossCell

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no cross table to update (run without --update first)")
    old = json.loads(path.read_text())
    if old["head"] != head:
        diff = {key: (old["head"].get(key), val) for key, val in head.items() if old["head"].get(key) != val}
        raise ValueError(f"{path}: its output layers were fitted with other settings {diff}; "
                         "update only with the same --k/--epochs/--seed")
    fresh = {c.source for c in cells}
    kept = [CrossCell(**c) for c in old["cells"] if c["source"] not in fresh]
    order = list(dict.fromkeys([c["source"] for c in old["cells"]] + [c.source for c in cells]))
    merged = sorted(kept + cells, key=lambda c: order.index(c.source))  # stable: targets keep their order
    kept_digests = {src: d for src, d in old.get("weights_sha256", {}).items() if src not in fresh}
    return merged, {**kept_digests, **digests}


def _trained_on(source: str, target: str) -> bool:
    return source == "ckplus48" and target.partition(":")[0] == "ckplus48"


def _au_setup(backbone: str, data: str):
    from .pretrained import load_model

    return ckplus_dataset(data), load_model(backbone)


def _backbone_provenance(backbone: str) -> dict:
    from .pretrained import weights_digest

    return {"backbone": backbone, "backbone_sha256": weights_digest(backbone)}


def _learner(model, images: np.ndarray, cfg, fine_tune: bool, lr: float, rows=None, hurdle: bool = False):
    """Frozen conv features + a new head (or the two heads of the hurdle model), or the whole
    network fine-tuned per fold; returns the learner and a description of its features."""
    from .transfer import extract_features
    from .transfer.learners import fine_tuned, frozen
    from .transfer.learners import hurdle as hurdle_learner

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
    from .au import read_ckplus_au_labels
    from .transfer import HeadConfig, au_detection_cv, au_targets

    if task not in ("single", "multilabel"):
        raise ValueError(f"unknown AU task {task!r}; choose single or multilabel")
    if task == "single" and fine_tune:
        raise ValueError("single-AU detectors are linear heads on frozen features; fine-tune the multilabel head")
    faces, model = _au_setup(backbone, data)
    Y, kept = au_targets(faces, read_ckplus_au_labels(labels or _default_au_labels()), min_sequences, aus)
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
    from .transfer import HeadConfig, au_intensity_cv, intensity_targets, read_intensities

    faces, model = _au_setup(backbone, data)
    table = read_intensities(intensities or Path(_default_au_labels()).with_name("ck_facs_intensity.csv"))
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
    from .utils import atomic_write_json, atomic_write_text

    if out:
        atomic_write_json(Path(out), res.to_dict())
        atomic_write_text(Path(out).with_suffix(".md"), res.to_markdown() + "\n")


def _default_au_labels() -> Path:
    from .data.registry import data_root

    return data_root() / "CK+_AU_labels" / "ckplus_327_sequences_AU_emotion.csv"


def train_au_model(backbone: str = "fer2013", data: str = "ckplus48", labels: str | None = None, out: str = "au.pt",
                   epochs: int = 30, l1: float = 0.01, l2: float = 0.01, min_sequences: int = 10, seed: int = 0) -> Path:
    """Fit the multi-label AU head on all of ``data`` (frozen ``backbone`` conv layers) and save it
    as one model: images in, one sigmoid probability per AU out (``task`` "au" in its config).
    Faces for it are cropped with CK+48's framing, the images its head was fitted on."""
    from .au import read_ckplus_au_labels
    from .pretrained import load_model
    from .transfer import HeadConfig, attach_head, au_targets, extract_features, fit_head

    faces = ckplus_dataset(data)
    model = load_model(backbone)
    Y, aus = au_targets(faces, read_ckplus_au_labels(labels or _default_au_labels()), min_sequences)
    cfg = HeadConfig(kind="multilabel", hidden=512, epochs=epochs, l1=l1, l2=l2, seed=seed)
    head = fit_head(extract_features(model, faces.images, layer="conv"), Y, cfg)
    au_model = attach_head(model, head, [f"AU{a}" for a in aus], task="au")
    return _save_au_model(out, au_model, backbone, faces.name, len(faces), cfg)


def train_au_intensity_model(backbone: str = "fer2013", data: str = "ckplus48", intensities: str | None = None,
                             out: str = "au_intensity.pt", epochs: int = 30, min_coded: int = 10,
                             seed: int = 0) -> Path:
    """Fit the AU intensity regression head (0-5 per AU) on all of ``data``'s FACS intensity files
    (frozen ``backbone`` conv layers; the recipe ``facsnet transfer intensity`` scores over subject
    folds) and save it as one model: images in, one intensity per AU out (``task`` "au_intensity")."""
    from .transfer import HeadConfig, attach_head, extract_features, fit_head, intensity_targets, read_intensities

    faces, model = _au_setup(backbone, data)
    table = read_intensities(intensities or Path(_default_au_labels()).with_name("ck_facs_intensity.csv"))
    Y, M, kept, rows = intensity_targets(faces, table, min_coded, None)
    cfg = HeadConfig(kind="regression", hidden=512, epochs=epochs, seed=seed)
    head = fit_head(extract_features(model, faces.images[rows], layer="conv"), Y, cfg, mask=M)
    au_model = attach_head(model, head, [f"AU{a}_intensity" for a in kept], task="au_intensity")
    return _save_au_model(out, au_model, backbone, faces.name, len(rows), cfg)


def _save_au_model(out: str, au_model, backbone: str, data_name: str, n_images: int, cfg) -> Path:
    """An AU model (presence or intensity) as a half-precision checkpoint with CK+48's framing, whose
    faces its head was fitted on, and where its backbone and head came from."""
    from .faces.align import CKPLUS48_FRAMING
    from .training.checkpoint import save_checkpoint

    framing = CKPLUS48_FRAMING.resized(au_model.config["img_size"])
    arch = "breuer2017_bn" if au_model.config.get("batchnorm") else "breuer2017"
    save_checkpoint(out, au_model, arch, half=True, task=au_model.task,
                    framing={"eye_distance": framing.eye_distance, "eye_height": framing.eye_height},
                    provenance={**_backbone_provenance(backbone), "data": data_name, "n_images": n_images,
                                "head": cfg.to_dict()})
    return Path(out)


# --- micro-expressions (issue 6) -------------------------------------------------------------------

def _init_provenance(init: str | None) -> dict:
    """Which pretrained weights a micro-expression run started from (their SHA-256 prefix)."""
    from .pretrained import weights_digest

    return {"init_sha256": weights_digest(init)} if init else {}


def _micro_config(init, epochs, lstm_epochs, seed, device, frozen=False, **extra):
    from .micro import MicroConfig

    return MicroConfig(init=init, cnn_epochs=epochs, lstm_epochs=lstm_epochs, seed=seed, device=device,
                       frozen=frozen, **extra)


def micro_megc2019(data: str | None = None, variants=None, init: str | None = "fer2013", out: str = "runs/micro/megc2019",
                   epochs: int = 30, lstm_epochs: int = 150, seed: int = 0, device: str = "auto",
                   shard: tuple[int, int] = (0, 1), max_minutes: float | None = None, score_only: bool = False):
    """Leave-one-subject-out on the MEGC 2019 composite (apex crop + onset->apex flow per clip):
    ``apex``, ``flow``, ``lstm`` over [flow, apex], each beside its ``_scratch`` twin (random init) and
    its ``_frozen`` twin (pretrained conv layers fixed, dense layers trained). Resumable;
    ``shard=(i, n)`` lets n processes share the folds. Returns the scored ``LosoResult`` list."""
    from .data.registry import data_root
    from .micro import COMPOSITE_VARIANTS, composite_fold, read_megc2019, run_loso, score_store

    root = Path(data) if data else data_root() / "MEGC2019_composite_HTNet"
    micro_set = read_megc2019(root)
    for p in micro_set.problems:
        log.warning("%s", p)
    variants = list(variants or (v for v in COMPOSITE_VARIANTS if init or v.endswith("_scratch")))
    unknown = sorted(set(variants) - set(COMPOSITE_VARIANTS))
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {', '.join(COMPOSITE_VARIANTS)}")
    cfg = _micro_config(init, epochs, lstm_epochs, seed, device)
    title = "MEGC 2019 composite (CASME II + SAMM + SMIC-HS), leave one subject out"
    extra = {"source": str(root), **_init_provenance(init)}
    if score_only:
        return score_store(micro_set, variants, cfg, out, title, extra)
    return run_loso(micro_set, variants, cfg, out, composite_fold, title, shard=shard, max_minutes=max_minutes,
                    extra=extra)


def micro_loso(table: str, frames: str, database: str | None = None, classes: str = "megc3", select: str = "five",
               variants=("lstm", "apex"), init: str | None = "fer2013", out: str = "runs/micro/loso",
               epochs: int = 30, lstm_epochs: int = 150, seed: int = 0, device: str = "auto",
               detector="blazeface", max_minutes: float | None = None):
    """The paper's pipeline on a database's own frames (e.g. CASME II ``sub01/EP02_01f/img46.jpg``):
    frames chosen per clip (``five`` or ``every:K``), one aligned crop per clip, the CNN trained on the
    frames, the LSTM on the encoded frames, leave one subject out."""
    from .faces.align import AlignSpec
    from .micro import read_coding_table, run_loso, sequence_fold, sequence_set
    from .pretrained import framing_of, resolve_weights
    from .training.checkpoint import read_checkpoint

    coding = read_coding_table(table, database)
    for p in coding.problems:
        log.warning("%s", p)
    spec = AlignSpec()
    if init:
        framing = framing_of(read_checkpoint(resolve_weights(init)), str(init))
        spec = framing or spec
    micro_set = sequence_set(coding.clips, frames, classes=classes, mode=select, detector=detector, spec=spec)
    for p in micro_set.problems:
        log.warning("%s", p)
    log.info("%s", micro_set.summary())
    cfg = _micro_config(init, epochs, lstm_epochs, seed, device)
    from .micro.run import TWINS

    allowed = [b + t for t in TWINS for b in ("lstm", "apex")]
    bad = sorted(set(variants) - set(allowed))
    if bad:
        raise ValueError(f"unknown variant(s) {bad}; choose from {', '.join(allowed)}")
    title = f"{coding.database} frame sequences ({select}), CNN + LSTM, leave one subject out"
    return run_loso(micro_set, list(variants), cfg, out, sequence_fold, title, max_minutes=max_minutes,
                    extra={"table": str(table), "frames": str(frames), "classes": classes, "select": select,
                           "table_problems": coding.problems, **_init_provenance(init)})
