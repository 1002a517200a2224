"""Datasets named as the CLI names them: ``NAME``, ``NAME:SPLIT`` or a path, and the validation part
a training run is scored on (the dataset's own split, a fixed hold-out, or none)."""
from __future__ import annotations

import logging
from pathlib import Path

from .faceset import FaceSet
from .registry import data_root, load_dataset
from .splits import HOLDOUT_SEED, check_val_fraction, holdout_split, twin_masks, unseen_part

log = logging.getLogger("facsnet.data")
HOLDOUT_VALS = ("holdout", "holdout-unseen", "holdout-distinct")   # the fixed hold-out, and its faces less twins
TWIN_CHECK_MAX_FACES = 100_000   # the near-twin search holds the appearance of every training face and its mirror
                                 # image in memory: 4.6 KB a face, 460 MB at this many


def dataset(spec: str, default_split: str = "train", subject_pattern: str | None = None) -> FaceSet:
    """Load ``NAME[:SPLIT]`` or a path (a path may itself contain ':' on no system we support)."""
    spec = str(spec)
    name, _, split = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    return load_dataset(name, split or default_split, subject_pattern=subject_pattern)


def has_validation_split(spec: str) -> bool:
    name = spec.partition(":")[0]
    if name.lower().replace("+", "plus") in ("fer2013", "fer2013-votes", "ferplus", "ferplus-dist"):
        return True
    p = Path(spec)
    return p.is_dir() and (p / "train").is_dir() and (p / "validation").is_dir()



def train_and_validation(data: str, val: str | None, val_fraction: float, seed: int,
                         subject_pattern: str | None = None) -> tuple[FaceSet, FaceSet | None]:
    """The training set of ``data`` and what it is validated on: ``val`` ``none`` for nothing,
    ``holdout`` for a ``val_fraction`` carved from the training data with a fixed seed (so every model
    trained this way is chosen and calibrated on the same faces; ``holdout-unseen`` / ``holdout-distinct``
    score those faces less their twins among the training part, see :func:`holdout`), a dataset spec, or by default the
    dataset's validation split when it has one (FER2013, FER+), else a held-out ``val_fraction``."""
    check_val_fraction(val_fraction)
    train_set = dataset(data, "train", subject_pattern)
    if val is not None and val.lower() == "none":
        return train_set, None
    if val is not None and val.lower() in HOLDOUT_VALS:   # the same part for every seed: models stay comparable
        train_set, val_set = holdout(train_set, val, val_fraction)
    elif val is not None:
        val_set = dataset(val, "validation", subject_pattern)
        shared = _files_of(train_set) & _files_of(val_set)
        if shared:   # e.g. --val ckplus48 on ckplus48: a dataset without a validation split is read whole
            raise ValueError(f"--val {val}: {len(shared)} of its {len(val_set)} faces are training faces too "
                             f"(e.g. {sorted(shared)[0]}); validate on faces the run does not train on "
                             "(--val holdout carves them from the training data)")
    elif has_validation_split(data):
        val_set = dataset(data.partition(":")[0], "validation", subject_pattern)
    else:
        train_set, val_set = holdout_split(train_set, val_fraction, seed)
    return train_set, val_set


def holdout(train_set: FaceSet, val: str, val_fraction: float) -> tuple[FaceSet, FaceSet]:
    """The training part and the fixed hold-out of ``train_set`` (:data:`HOLDOUT_SEED`), as ``val`` names it:
    ``holdout`` all of it; ``holdout-unseen`` less the faces with an exact twin among the training part (the
    same pixels, or the mirror image's); ``holdout-distinct`` less the near twins too (the same picture
    re-cropped, re-toned or re-compressed). Every hold-out face stays out of training either way."""
    trained_on, held = holdout_split(train_set, val_fraction, HOLDOUT_SEED)
    return trained_on, holdout_part(held, trained_on, val)


def holdout_part(held: FaceSet, trained_on: FaceSet, val: str) -> FaceSet:
    """The part of the hold-out ``held`` that ``val`` names (see :func:`holdout`); an error when no face is left."""
    kind = val.lower()
    if kind not in HOLDOUT_VALS:
        raise ValueError(f"{val!r}: a hold-out is one of {', '.join(HOLDOUT_VALS)}")
    if kind == "holdout":
        return held
    if len(trained_on) > TWIN_CHECK_MAX_FACES:
        raise ValueError(f"--val {val}: {trained_on.name} has {len(trained_on)} training faces, more than the "
                         f"{TWIN_CHECK_MAX_FACES} the twin search holds in memory; use --val holdout")
    part = unseen_part(held, trained_on, near=kind == "holdout-distinct")
    if not len(part):
        raise ValueError(f"--val {val}: all {len(held)} hold-out faces of {trained_on.name} have a twin among its "
                         f"{len(trained_on)} training faces, so none is left to score; use --val holdout")
    return part


def kept_out_fingerprint(val_record: dict | None) -> str | None:
    """The fingerprint of the faces a run kept out of training, from its run record's ``data.val``: the
    whole hold-out for a run validated on a part of it (``holdout_fingerprint``), else its validation faces."""
    val_record = val_record or {}
    return val_record.get("holdout_fingerprint") or val_record.get("fingerprint")


def kept_out_by(val_record: dict | None, train_set: FaceSet, val_fraction: float) -> tuple[FaceSet, FaceSet] | None:
    """(training part, hold-out) of ``train_set`` when the run whose record holds ``val_record`` (its
    ``data.val``) kept that whole hold-out out of training (``train --val holdout`` and its ``-unseen`` /
    ``-distinct`` parts all do), else None."""
    trained_on, held = holdout_split(train_set, val_fraction, HOLDOUT_SEED)
    recorded = kept_out_fingerprint(val_record)
    return (trained_on, held) if recorded is not None and recorded == held.fingerprint() else None


def note_twins(val_set: FaceSet, train_set: FaceSet) -> tuple[int, int] | None:
    """Warn when validation faces have a twin among the training faces: the same picture under another name,
    exactly or re-cropped / re-toned (:func:`~facsnet.data.splits.near_twins`; FER2013 has hundreds). They
    stay in, since a dataset's own split is what others report, but they flatter the validation score.
    Returns (exact twins, exact or near twins), or None where the sets are too large to search."""
    if not len(val_set) or not len(train_set):
        return None
    if len(train_set) > TWIN_CHECK_MAX_FACES:
        log.info("%s: not searched for twins among the %d training faces (more than %d)", val_set.name,
                 len(train_set), TWIN_CHECK_MAX_FACES)
        return None
    twin, near_or_twin, _ = twin_masks(val_set, train_set)
    exact, near = int(twin.sum()), int(near_or_twin.sum())
    if near:
        log.warning("%s: %d of its %d faces have a twin among the %d training faces of %s (%d the very same "
                    "pixels, the rest the same picture re-cropped or re-toned); the validation score counts them",
                    val_set.name, near, len(val_set), len(train_set), train_set.name, exact)
    return exact, near


def _files_of(data: FaceSet) -> set[str]:
    """The files (or file#row) ``data``'s faces were read from, as absolute paths (readers keep them
    relative to the folder they read, ``source``)."""
    root = Path(data.source).resolve() if data.source else Path()
    return {str(root / p) for p in data.paths}


def ckplus_dataset(data: str) -> FaceSet:
    """A dataset with CK+ sequence ids: a folder of CK+-named crops (``S010_004_00000017.png``)
    is read as CK+48; names and other layouts go through :func:`dataset`."""
    from .readers import read_ckplus48

    path = Path(data)
    if path.is_dir() and not (path / "cohn-kanade-images").is_dir():
        return read_ckplus48(path)
    return dataset(data, "train")



def default_au_labels() -> Path:
    return data_root() / "CK+_AU_labels" / "ckplus_327_sequences_AU_emotion.csv"

