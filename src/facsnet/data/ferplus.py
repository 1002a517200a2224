"""FER+ (Barsoum et al. 2016): the FER2013 images relabelled by ten crowd votes each, read as
majority labels or as vote distributions (:func:`read_ferplus`), or as extra supervision of
FER2013's own labels (:func:`read_fer2013_votes`)."""
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

    ``majority`` follows the FER+ authors' majority rule: single votes are dropped as outliers, and an
    image is kept when its top emotion has more than half the remaining votes (of all 10 columns).
    ``distribution`` is this project's own reading, not FER+'s probability mode: single votes dropped, the
    remaining votes over the 8 emotions normalised (every emotion with two or more votes kept, not only
    the top three), images kept whenever an emotion vote is left; the hard label derived from it (the
    loader's ``labels``) is the argmax, ties going to the first class in canonical order. In both modes,
    images whose winner is unknown / not-a-face, or with no emotion vote left, are dropped. Returns (keep
    mask, targets in ``FERPLUS_EMOTIONS`` order: int labels for majority, (N, 8) float distributions for
    distribution).
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


def _fer_votes(base: FaceSet, folder: str, ferplus_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(indices into ``base``, (n, 10) FER+ vote counts) of the images of ``base`` (the FER2013 folder
    ``folder``) that FER+ relabelled, via ``fer2013_images_to_ferplus_map.csv``."""
    map_csv = ferplus_root / "fer2013_images_to_ferplus_map.csv"
    votes_csv = ferplus_root / "fer2013new.csv"
    for f in (map_csv, votes_csv):
        if not f.is_file():
            raise DatasetError(f"{f}: FER+ file missing")
    with votes_csv.open(newline="") as fh:
        vote_rows = list(csv.reader(fh))[1:]
    row_of = {}
    with map_csv.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"image_path", "fer2013_csv_row"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{map_csv}: no column {', '.join(sorted(missing))} in its header")
        for r in reader:
            if not r["fer2013_csv_row"]:
                continue   # an image FER+ did not relabel
            try:
                row_of[r["image_path"]] = int(r["fer2013_csv_row"])
            except ValueError:
                raise DatasetError(f"{map_csv}: line {reader.line_num}: fer2013_csv_row "
                                   f"{r['fer2013_csv_row']!r} is not a row number") from None
    votes, keep_idx = [], []
    for i, p in enumerate(base.paths):
        row = row_of.get(f"{folder}/{p}")
        if row is None:
            continue
        try:
            counts = [float(x) for x in vote_rows[row][2:12]]
        except (IndexError, ValueError):
            counts = []
        if len(counts) != 10:   # csv line = row + 2 (the header is line 1)
            raise DatasetError(f"{votes_csv}: line {row + 2} (mapped from {map_csv.name} for {folder}/{p}) "
                               "does not hold ten vote counts")
        votes.append(counts)
        keep_idx.append(i)
    return np.array(keep_idx, dtype=np.int64), np.array(votes, dtype=np.float64).reshape(-1, 10)


def read_ferplus(fer2013_root: str | Path, ferplus_root: str | Path, split: str = "train",
                 mode: str = "majority") -> FaceSet:
    """FER2013 folder images with FER+ labels (via ``fer2013_images_to_ferplus_map.csv``).

    ``majority``: hard labels; ``distribution``: also ``soft`` vote distributions (labels = argmax).
    """
    fer2013_root, ferplus_root = Path(fer2013_root), Path(ferplus_root)
    folder, _ = _fer_split(split)
    base = read_fer2013_folder(fer2013_root, split)
    keep_idx, votes = _fer_votes(base, folder, ferplus_root)
    keep, targets = ferplus_targets(votes, mode)
    fs = base.subset(keep_idx[keep], name=f"ferplus-{folder}-{mode}")
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


VOTE_WEIGHT = 0.5   # the FER+ votes' share of the targets of ``fer2013-votes``


def fer2013_vote_targets(labels: np.ndarray, class_names: list[str], votes: np.ndarray,
                         weight: float = VOTE_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """Soft targets that mix FER2013 labels with FER+ votes: ``(1 - weight)`` on the FER2013 label and
    ``weight`` on the FER+ vote distribution over the same classes (outlier votes dropped as in
    :func:`ferplus_targets`; votes for classes outside ``class_names``, e.g. contempt, left out).
    Returns (the (N, C) targets, a mask of the faces whose votes were used); a face whose votes name
    none of ``class_names``, or that FER+ calls unknown / not a face, keeps its one-hot label."""
    if not 0 <= weight <= 1:
        raise ValueError(f"vote weight = {weight}: must lie in [0, 1]")
    missing = [c for c in class_names if c not in FERPLUS_EMOTIONS]
    if missing:
        raise DatasetError(f"FER+ has no votes for {missing}")
    keep, dist = ferplus_targets(votes, "distribution")
    dist = dist[:, [FERPLUS_EMOTIONS.index(c) for c in class_names]]
    total = dist.sum(axis=1)
    used = keep & (total > 0)
    targets = np.eye(len(class_names), dtype=np.float32)[labels]
    targets[used] = (1 - weight) * targets[used] + weight * dist[used] / total[used, None]
    return targets, used


def read_fer2013_votes(fer2013_root: str | Path, ferplus_root: str | Path, split: str = "train",
                       weight: float = VOTE_WEIGHT) -> FaceSet:
    """FER2013 with FER+ votes as extra supervision (``fer2013-votes``): the FER2013 images and their
    own labels, plus ``soft`` targets from :func:`fer2013_vote_targets` (train with ``--soft-targets``).
    Labels, class names and so the hold-out (``--val holdout``) are FER2013's: models trained on it
    are chosen and scored on the same faces and labels as those trained on ``fer2013``."""
    fer2013_root, ferplus_root = Path(fer2013_root), Path(ferplus_root)
    folder, _ = _fer_split(split)
    fs = read_fer2013_folder(fer2013_root, split)
    idx, votes = _fer_votes(fs, folder, ferplus_root)
    targets, _ = fer2013_vote_targets(fs.labels[idx], fs.class_names, votes, weight)
    fs.soft = np.eye(len(fs.class_names), dtype=np.float32)[fs.labels]
    fs.soft[idx] = targets
    fs.name = f"{fs.name}-votes"
    fs.source = f"{fer2013_root / folder} + {ferplus_root} (votes weighted {weight:g})"
    return fs
