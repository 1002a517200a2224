"""Datasets named as the CLI names them: ``NAME``, ``NAME:SPLIT`` or a path, and the validation part
a training run is scored on (the dataset's own split, a fixed hold-out, or none)."""
from __future__ import annotations

from pathlib import Path

from .faceset import FaceSet
from .registry import data_root, load_dataset
from .splits import HOLDOUT_SEED, holdout_split


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
    trained this way is chosen and calibrated on the same faces), a dataset spec, or by default the
    dataset's validation split when it has one (FER2013, FER+), else a held-out ``val_fraction``."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction = {val_fraction}: must lie strictly between 0 and 1")
    train_set = dataset(data, "train", subject_pattern)
    if val is not None and val.lower() == "none":
        return train_set, None
    if val is not None and val.lower() == "holdout":   # the same part for every seed: models stay comparable
        return holdout_split(train_set, val_fraction, HOLDOUT_SEED)
    if val is not None:
        val_set = dataset(val, "validation", subject_pattern)
        shared = _files_of(train_set) & _files_of(val_set)
        if shared:   # e.g. --val ckplus48 on ckplus48: a dataset without a validation split is read whole
            raise ValueError(f"--val {val}: {len(shared)} of its {len(val_set)} faces are training faces too "
                             f"(e.g. {sorted(shared)[0]}); validate on faces the run does not train on "
                             "(--val holdout carves them from the training data)")
        return train_set, val_set
    if has_validation_split(data):
        return train_set, dataset(data.partition(":")[0], "validation", subject_pattern)
    return holdout_split(train_set, val_fraction, seed)


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

