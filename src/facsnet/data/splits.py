"""Every way facsnet splits faces: k folds stratified per image, or stratified and grouped by subject;
one hold-out part (and its faces unseen in training: FER2013 holds some pictures more than once, some
exactly, some re-cropped or re-toned); a stratified share of a training set; leave one subject out.

Grouped folds never put one subject in the training and the test part of a fold; both
kinds are repeatable for a given seed.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .faceset import FaceSet


def stratified_folds(labels, k: int, seed: int = 0) -> list[np.ndarray]:
    """Per-image stratified k-fold: returns k arrays of test indices."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    folds = [[] for _ in range(k)]
    offset = 0
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        for j, i in enumerate(idx):
            folds[(j + offset) % k].append(i)
        offset += len(idx)  # spread the remainders of each class over different folds
    return [np.sort(np.array(f, dtype=np.int64)) for f in folds]


def subject_folds(labels, subjects, k: int, seed: int = 0) -> list[np.ndarray]:
    """Stratified group k-fold: every subject's images fall in exactly one test fold.

    Subjects are placed greedily, largest and most class-skewed first, each into the fold
    whose class proportions it disturbs least (the strategy of scikit-learn's
    StratifiedGroupKFold), with ties broken by a seeded shuffle.
    """
    labels, subjects = np.asarray(labels), np.asarray(subjects)
    classes = np.unique(labels)
    groups = np.unique(subjects)
    if len(groups) < k:
        raise ValueError(f"{len(groups)} subjects cannot fill {k} subject-independent folds")
    rng = np.random.default_rng(seed)
    counts = np.stack([(labels[subjects == g][:, None] == classes[None]).sum(0) for g in groups])
    order = rng.permutation(len(groups))
    order = order[np.argsort(-np.std(counts[order], axis=1), kind="stable")]
    fold_counts = np.zeros((k, len(classes)))
    totals = counts.sum(0)
    assign = np.empty(len(groups), dtype=np.int64)
    for g in order:
        best, best_cost = 0, None
        for f in rng.permutation(k):
            trial = fold_counts.copy()
            trial[f] += counts[g]
            cost = np.mean(np.std(trial / np.maximum(totals, 1), axis=0)) + 1e-9 * trial[f].sum()
            if best_cost is None or cost < best_cost - 1e-12:
                best, best_cost = f, cost
        assign[g] = best
        fold_counts[best] += counts[g]
    subject_fold = dict(zip(groups, assign))
    fold_of = np.array([subject_fold[s] for s in subjects])
    return [np.flatnonzero(fold_of == f) for f in range(k)]


def make_folds(labels, subjects=None, k: int = 10, protocol: str = "subject", seed: int = 0):
    """Test-index arrays for ``protocol`` ``subject`` (needs ``subjects``) or ``image``."""
    if protocol == "subject":
        if subjects is None:
            raise ValueError("protocol 'subject' needs subject ids; this dataset has none (use protocol 'image')")
        return subject_folds(labels, subjects, k, seed)
    if protocol == "image":
        return stratified_folds(labels, k, seed)
    raise ValueError(f"unknown protocol {protocol!r}; choose 'subject' or 'image'")


def loso_folds(subjects) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(subject, train rows, test rows) for each subject, in sorted order."""
    subjects = np.asarray(subjects)
    return [(s, np.flatnonzero(subjects != s), np.flatnonzero(subjects == s)) for s in sorted(set(subjects.tolist()))]


HOLDOUT_SEED = 0   # fixed, so ``val="holdout"`` carves the same faces whatever the training seed


def check_val_fraction(fraction: float) -> None:
    """A hold-out is one fold of k (k >= 2), so its share lies in (0, 0.5]."""
    if not 0 < fraction <= 0.5:
        raise ValueError(f"--val-fraction {fraction}: must lie in (0, 0.5] (the hold-out is one of k >= 2 folds)")


def holdout_split(data: FaceSet, fraction: float, seed: int) -> tuple[FaceSet, FaceSet]:
    """A validation part of about ``fraction`` (one fold of round(1 / fraction)), by subject when ``data``
    has subjects."""
    check_val_fraction(fraction)
    k = max(2, round(1 / fraction))
    test = make_folds(data.labels, data.subjects, k, "subject" if data.has_subjects else "image", seed)[0]
    train_idx = np.setdiff1d(np.arange(len(data)), test)
    return data.subset(train_idx), data.subset(test, name=f"{data.name}-holdout")


def pixel_digest(image: np.ndarray) -> str:
    """A digest of a face's pixels: equal exactly when the pixels are."""
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def pixel_twins(faces: FaceSet, seen: FaceSet, mirrored: bool = True) -> np.ndarray:
    """(N,) bool: which of ``faces`` have their very pixels, or (``mirrored``) those of their mirror image,
    among ``seen``'s faces: a "twin". Training flips faces, so a mirrored copy was seen as well. FER2013
    repeats some pictures (``scripts/fer2013_twins.py``); only exact copies are found, not re-cropped or
    re-toned ones, so the twins are a lower bound on the repeats."""
    known = {pixel_digest(im) for im in seen.images}
    return np.array([pixel_digest(im) in known or (mirrored and pixel_digest(im[:, ::-1]) in known)
                     for im in faces.images], dtype=bool)


# Near twins: the same photograph re-cropped a little, re-toned, re-compressed or mirrored. On FER2013 the pairs
# whose appearance correlates at >= 0.94 were looked at by eye: 35 of 36 drawn from [0.935, 0.95) were one
# photograph, 9 of 12 from [0.92, 0.93), 4 of 12 from [0.90, 0.91) (scripts/fer2013_twins.py).
NEAR_TWIN_CORRELATION = 0.94
APPEARANCE_SIZE = 24


def appearance(images: np.ndarray, size: int = APPEARANCE_SIZE) -> np.ndarray:
    """(N, size*size) float32 unit vectors: each face averaged down to ``size`` x ``size`` pixels (area
    averaging, any face size), less its mean brightness; the dot product of two is the correlation of their
    coarse pixels, blind to contrast and brightness and to fine detail (noise, compression). A face whose
    coarse pixels spread by less than one grey level (a blank frame, say) has no appearance: a zero vector."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).reshape(len(images), 1, *np.shape(images)[1:3])
    x = F.adaptive_avg_pool2d(x, size).reshape(len(images), size * size).numpy()
    x -= x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    # norm = std * size: below one grey level of spread the "appearance" is quantisation noise
    return np.divide(x, norm, out=np.zeros_like(x), where=norm >= size)


def _appearance_in_parts(images: np.ndarray, part: int = 8192) -> np.ndarray:
    """:func:`appearance` of many faces, a part at a time (no float copy of them all at once)."""
    return np.concatenate([appearance(images[i:i + part]) for i in range(0, len(images), part)])


def nearest_seen(faces: FaceSet, seen: FaceSet, chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``faces``: the highest appearance correlation with a face of ``seen`` or its mirror image
    (training flips faces), and that face's index in ``seen`` (0 and -1 when ``seen`` is empty). Memory:
    4.6 KB a seen face, and ``chunk`` query faces at a time against all of them (by default as many as
    keep that block near 200 MB)."""
    seen_images = np.asarray(seen.images)
    best = np.zeros(len(faces), dtype=np.float32)
    index = np.full(len(faces), -1, dtype=np.int64)
    if len(seen_images) == 0 or len(faces) == 0:
        return best, index
    known = np.concatenate([_appearance_in_parts(seen_images), _appearance_in_parts(seen_images[:, :, ::-1])])
    query = _appearance_in_parts(np.asarray(faces.images))
    chunk = chunk or max(1, 50_000_000 // len(known))
    for start in range(0, len(query), chunk):
        corr = query[start:start + chunk] @ known.T
        arg = corr.argmax(axis=1)
        best[start:start + chunk] = corr[np.arange(len(arg)), arg]
        index[start:start + chunk] = arg % len(seen_images)
    return best, index


def twin_masks(faces: FaceSet, seen: FaceSet,
               threshold: float = NEAR_TWIN_CORRELATION) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(exact, exact or near, best correlation), each (N,): the exact twins (:func:`pixel_twins`), those plus
    the faces whose appearance correlates at ``threshold`` or more with a seen face or its mirror image
    (:func:`appearance`), and each face's highest correlation (:func:`nearest_seen`)."""
    exact = pixel_twins(faces, seen)
    best, _ = nearest_seen(faces, seen)
    return exact, exact | (best >= threshold), best


def near_twins(faces: FaceSet, seen: FaceSet, threshold: float = NEAR_TWIN_CORRELATION) -> np.ndarray:
    """(N,) bool: which of ``faces`` have a twin among ``seen``'s faces, exact (:func:`pixel_twins`) or near:
    their appearance correlates at ``threshold`` or more with a seen face or its mirror image
    (:func:`appearance`). Catches the copies that were re-cropped slightly, re-toned or re-compressed, which
    :func:`pixel_twins` misses; a picture cropped very differently still escapes."""
    return twin_masks(faces, seen, threshold)[1]


def unseen_part(faces: FaceSet, trained_on: FaceSet, near: bool = False) -> FaceSet:
    """``faces`` less those with a twin in ``trained_on``: exact or mirrored (:func:`pixel_twins`), and with
    ``near`` also the near twins (:func:`near_twins`)."""
    twins = near_twins(faces, trained_on) if near else pixel_twins(faces, trained_on)
    return faces.subset(np.flatnonzero(~twins), name=f"{faces.name}-{'distinct' if near else 'unseen'}")


SUBSET_SEED = 1    # fixed, so ``train_fraction`` keeps the same faces whatever the training seed


def stratified_subset(data: FaceSet, fraction: float, seed: int = SUBSET_SEED) -> FaceSet:
    """About ``fraction`` of ``data``'s faces, the same share of every class (at least one face each),
    drawn with ``seed``: the reduced training sets of quick experiments and ablations."""
    if not 0 < fraction <= 1:
        raise ValueError(f"train_fraction = {fraction}: must lie in (0, 1]")
    if fraction == 1:
        return data
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(data.labels):
        idx = np.flatnonzero(data.labels == c)
        keep.append(rng.permutation(idx)[:max(1, round(fraction * len(idx)))])
    return data.subset(np.sort(np.concatenate(keep)), name=f"{data.name}-{fraction:g}")
