"""FER+ (Barsoum et al. 2016): the FER2013 images relabelled by ten crowd votes each, read as
majority labels or as vote distributions (:func:`read_ferplus`)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..labels import sort_canonical
from .faceset import FaceSet
from .readers import DatasetError, _fer_split, read_fer2013_folder

FERPLUS_EMOTIONS = ("neutral", "happy", "surprise", "sadness", "anger", "disgust", "fear", "contempt")


def ferplus_targets(votes: np.ndarray, mode: str = "majority") -> tuple[np.ndarray, np.ndarray]:
    """FER+ targets from (N, 10) vote counts in FER+ column order.

    Follows the FER+ authors' rule: single votes are dropped as outliers; ``majority`` keeps an
    image whose top emotion has more than half the remaining votes, ``distribution`` keeps the
    normalised votes over the 8 emotions. Images whose winner is unknown / not-a-face, or with no
    emotion vote left, are dropped. Returns (keep mask, targets in ``FERPLUS_EMOTIONS`` order:
    int labels for majority, (N, 8) float distributions for distribution).
    """
    v = np.asarray(votes, dtype=np.float64).copy()
    v[v <= 1] = 0  # outlier votes
    emo = v[:, :8]
    total = v.sum(axis=1)
    top = v.argmax(axis=1)
    if mode == "majority":
        keep = (top < 8) & (v.max(axis=1) > 0.5 * total) & (total > 0)
        return keep, top.astype(np.int64)
    if mode == "distribution":
        esum = emo.sum(axis=1)
        keep = (top < 8) & (esum > 0)
        dist = np.divide(emo, esum[:, None], out=np.zeros_like(emo), where=esum[:, None] > 0)
        return keep, dist.astype(np.float32)
    raise DatasetError(f"unknown FER+ mode {mode!r}; choose majority or distribution")


def read_ferplus(fer2013_root: str | Path, ferplus_root: str | Path, split: str = "train",
                 mode: str = "majority") -> FaceSet:
    """FER2013 folder images with FER+ labels (via ``fer2013_images_to_ferplus_map.csv``).

    ``majority``: hard labels; ``distribution``: also ``soft`` vote distributions (labels = argmax).
    """
    fer2013_root, ferplus_root = Path(fer2013_root), Path(ferplus_root)
    folder, usage = _fer_split(split)
    base = read_fer2013_folder(fer2013_root, split)
    map_csv = ferplus_root / "fer2013_images_to_ferplus_map.csv"
    votes_csv = ferplus_root / "fer2013new.csv"
    for f in (map_csv, votes_csv):
        if not f.is_file():
            raise DatasetError(f"{f}: FER+ file missing")
    with votes_csv.open(newline="") as fh:
        vote_rows = list(csv.reader(fh))[1:]
    row_of = {}
    with map_csv.open(newline="") as fh:
        for r in csv.DictReader(fh):
            if r["fer2013_csv_row"]:
                row_of[r["image_path"]] = int(r["fer2013_csv_row"])
    votes, keep_idx = [], []
    for i, p in enumerate(base.paths):
        row = row_of.get(f"{folder}/{p}")
        if row is None:
            continue
        votes.append([float(x) for x in vote_rows[row][2:12]])
        keep_idx.append(i)
    keep, targets = ferplus_targets(np.array(votes), mode)
    idx = np.array(keep_idx)[keep]
    fs = base.subset(idx, name=f"ferplus-{folder}-{mode}")
    targets = targets[keep]
    class_names = sort_canonical(FERPLUS_EMOTIONS)  # canonical order
    order = [FERPLUS_EMOTIONS.index(c) for c in class_names]
    if mode == "majority":
        fs.labels = np.array([class_names.index(FERPLUS_EMOTIONS[t]) for t in targets], dtype=np.int64)
    else:
        fs.soft = targets[:, order]
        fs.labels = fs.soft.argmax(axis=1).astype(np.int64)
    fs.class_names = class_names
    fs.source = f"{fer2013_root / folder} + {ferplus_root}"
    fs.skipped = base.skipped
    return fs
