"""Readers that turn each dataset's own layout into a :class:`FaceSet`.

- :func:`read_class_folder` — any ``root/<class>/<image>`` tree (FER2013 folders, CK+48,
  NovaEmotions, JAFFE sorted by class, a user's own), with an optional subject pattern.
- :func:`read_fer2013_csv` — the original ``fer2013.csv`` (``emotion,pixels,Usage``).
- :func:`read_ferplus` — FER2013 images relabelled by the FER+ votes.
- :func:`read_ckplus_release` — the original CK+ release (``cohn-kanade-images/``, ``Emotion/``,
  ``Landmarks/``), aligned and cropped by the eyes.

Unreadable inputs are skipped and listed in ``FaceSet.skipped`` with the reason; an unknown
class name is an error naming its folder.
"""
from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np

from ..labels import (
    CKPLUS_CODES, FER2013_CODES, canonical_label, sort_canonical,
)
from .cache import fingerprint_files, load_cached, save_cached
from .faceset import FaceSet
from .images import ImageReadError, is_image_file, read_grey

log = logging.getLogger("facsnet.data")

CKPLUS_SUBJECT_PATTERN = r"^(S\d+)_"
CKPLUS_SEQUENCE_PATTERN = r"^(S\d+_\d+)_"


class DatasetError(ValueError):
    """A dataset that cannot be read as asked; the message says where and why."""


def _cached(key_settings: dict, files: list[Path], root: Path, build) -> FaceSet:
    key = fingerprint_files(files, root, key_settings)
    hit = load_cached(key)
    if hit is not None:
        return FaceSet.from_arrays(hit)
    fs = build()
    save_cached(key, fs.to_arrays())
    return fs


def _report_skips(fs: FaceSet) -> FaceSet:
    for path, reason in fs.skipped[:20]:
        log.warning("skipped %s: %s", path, reason)
    if len(fs.skipped) > 20:
        log.warning("... and %d more skipped files", len(fs.skipped) - 20)
    return fs


# ----------------------------------------------------------------------------- class folders
def read_class_folder(
    root: str | Path,
    size: int = 48,
    subject_pattern: str | None = None,
    sequence_pattern: str | None = None,
    name: str | None = None,
) -> FaceSet:
    """Read ``root/<class>/<image>``; class names map onto the canonical set.

    ``subject_pattern`` is a regular expression whose first group, searched in each file
    name, is the subject id (e.g. ``r"^(S\\d+)_"`` for CK+). A file it does not match is an error.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DatasetError(f"{root}: no class folders inside (expected {root}/<class>/<image>)")
    mapping = {d: canonical_label(d.name, where=str(d)) for d in class_dirs}
    files = [f for d in class_dirs for f in sorted(d.iterdir()) if f.is_file() and not f.name.startswith(".")]
    settings = {"reader": "class_folder", "size": size, "subject": subject_pattern, "seq": sequence_pattern}

    def build() -> FaceSet:
        class_names = sort_canonical(mapping.values())
        index = {c: i for i, c in enumerate(class_names)}
        images, labels, paths, skipped = [], [], [], []
        for d in class_dirs:
            members = [f for f in files if f.parent == d]
            if not members:
                skipped.append((str(d), "empty class folder"))
            for f in members:
                if not is_image_file(f):
                    skipped.append((str(f), "not an image file (unknown suffix)"))
                    continue
                try:
                    images.append(read_grey(f, size))
                except ImageReadError as exc:
                    skipped.append((str(f), str(exc).removeprefix(f"{f}: ")))
                    continue
                labels.append(index[mapping[d]])
                paths.append(str(f.relative_to(root)))
        if not images:
            raise DatasetError(f"{root}: no readable images in any class folder")
        present = sort_canonical({class_names[i] for i in labels})
        remap = np.array([present.index(c) if c in present else -1 for c in class_names])
        return FaceSet(
            name=name or root.name,
            images=np.stack(images),
            labels=remap[np.array(labels, dtype=np.int64)],
            class_names=present,
            paths=paths,
            subjects=_ids_from_names(paths, subject_pattern, root),
            sequences=_ids_from_names(paths, sequence_pattern, root),
            skipped=skipped,
            source=str(root),
        )

    return _report_skips(_cached(settings, files, root, build))


def _ids_from_names(paths: list[str], pattern: str | None, root: Path) -> np.ndarray | None:
    if pattern is None:
        return None
    rx = re.compile(pattern)
    ids = []
    for p in paths:
        m = rx.search(Path(p).name)
        if m is None:
            raise DatasetError(f"{root / p}: file name does not match the id pattern {pattern!r}")
        ids.append(m.group(1) if m.groups() else m.group(0))
    return np.array(ids, dtype=str)


def read_ckplus48(root: str | Path) -> FaceSet:
    """The flat CK+48 set: 7 class folders, subject and sequence ids from ``S010_004_00000017.png``."""
    return read_class_folder(
        root, size=48, subject_pattern=CKPLUS_SUBJECT_PATTERN,
        sequence_pattern=CKPLUS_SEQUENCE_PATTERN, name="ckplus48",
    )


FER2013_SPLITS = {
    "train": ("train", "Training"), "training": ("train", "Training"),
    "validation": ("validation", "PublicTest"), "val": ("validation", "PublicTest"),
    "publictest": ("validation", "PublicTest"),
    "test": ("test", "PrivateTest"), "privatetest": ("test", "PrivateTest"),
}


def _fer_split(split: str) -> tuple[str, str]:
    try:
        return FER2013_SPLITS[split.lower()]
    except KeyError:
        raise DatasetError(f"unknown FER2013 split {split!r}; choose from train, validation, test") from None


def read_fer2013_folder(root: str | Path, split: str = "train") -> FaceSet:
    """FER2013 as class folders: ``root/train`` (Training), ``root/validation`` (PublicTest)."""
    folder, usage = _fer_split(split)
    fs = read_class_folder(Path(root) / folder, size=48, name=f"fer2013-{folder}")
    return fs


# ----------------------------------------------------------------------------- fer2013.csv
def read_fer2013_csv(path: str | Path, split: str | None = "train") -> FaceSet:
    """The original ``fer2013.csv``; ``split`` picks a Usage (None keeps every row).

    A malformed row (wrong field count, bad label, pixel string not 48*48 integers 0-255)
    is skipped and reported as ``path:line``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    usage = None if split is None else _fer_split(split)[1]
    settings = {"reader": "fer2013_csv", "usage": usage}

    def build() -> FaceSet:
        try:
            return read_rows()
        except (UnicodeDecodeError, csv.Error) as exc:
            why = f"not UTF-8 text: {exc.reason}" if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise DatasetError(f"{path}: not a readable text CSV ({why})") from None

    def read_rows() -> FaceSet:
        images, labels, paths, rows, skipped = [], [], [], [], []
        with path.open(newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or [h.strip().lower() for h in header[:3]] != ["emotion", "pixels", "usage"]:
                raise DatasetError(f"{path}: expected header 'emotion,pixels,Usage', got {header}")
            for row_no, row in enumerate(reader):
                where = f"{path}:{row_no + 2}"
                if len(row) < 3:
                    skipped.append((where, f"expected 3 fields, got {len(row)}"))
                    continue
                if usage is not None and row[2].strip() != usage:
                    continue
                try:
                    code = int(row[0])
                    label = FER2013_CODES[code]
                except (ValueError, KeyError):
                    skipped.append((where, f"emotion {row[0]!r} is not a FER2013 code 0-6"))
                    continue
                try:
                    px = np.array(row[1].split(), dtype=np.int64)
                except ValueError:
                    skipped.append((where, "pixel string holds a non-integer"))
                    continue
                if px.size != 48 * 48 or px.min(initial=0) < 0 or px.max(initial=0) > 255:
                    skipped.append((where, f"pixel string has {px.size} values (expected 2304 in 0-255)"))
                    continue
                images.append(px.astype(np.uint8).reshape(48, 48))
                labels.append(label)
                paths.append(f"{path.name}#{row_no}")
                rows.append(row_no)
        if not images:
            raise DatasetError(f"{path}: no usable rows for usage {usage!r}")
        class_names = sort_canonical(labels)
        return FaceSet(
            name=f"fer2013-csv-{usage or 'all'}", images=np.stack(images),
            labels=np.array([class_names.index(c) for c in labels], dtype=np.int64),
            class_names=class_names, paths=paths, skipped=skipped, source=str(path),
        )

    return _report_skips(_cached(settings, [path], path.parent, build))


# ----------------------------------------------------------------------------- FER+
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


# ----------------------------------------------------------------------------- CK+ release
def _read_landmarks(path: Path) -> np.ndarray:
    pts = np.loadtxt(path, dtype=np.float64)
    if pts.shape != (68, 2):
        raise DatasetError(f"{path}: expected 68 landmark rows of 'x y', got shape {pts.shape}")
    return pts


def read_ckplus_release(root: str | Path, size: int = 48, peak_frames: int = 3,
                        include_neutral: bool = False) -> FaceSet:
    """The original CK+ release: every emotion-labelled sequence gives its last ``peak_frames``
    frames with that emotion (and, with ``include_neutral``, its first frame as neutral), each
    rotated to level eyes and cropped with :func:`facsnet.faces.align_face` from the landmarks.
    """
    from ..faces.align import CKPLUS48_FRAMING, align_face, eye_centres_from_landmarks68

    root = Path(root)
    img_root, emo_root, lm_root = root / "cohn-kanade-images", root / "Emotion", root / "Landmarks"
    for d in (img_root, emo_root, lm_root):
        if not d.is_dir():
            raise DatasetError(f"{d}: missing; a CK+ release holds cohn-kanade-images/, Emotion/, Landmarks/")
    emo_files = sorted(emo_root.glob("S*/*/*_emotion.txt"))
    if not emo_files:
        raise DatasetError(f"{emo_root}: no *_emotion.txt files")
    spec = CKPLUS48_FRAMING.resized(size)  # crops framed like the CK+48 set
    settings = {"reader": "ckplus_release", "size": size, "peak": peak_frames, "neutral": include_neutral,
                "framing": [spec.eye_distance, spec.eye_height]}

    def build() -> FaceSet:
        images, labels, paths, subjects, sequences, skipped = [], [], [], [], [], []
        for ef in emo_files:
            subject, seq = ef.parent.parent.name, ef.parent.name
            try:
                code = int(float(ef.read_text().split()[0]))
                emotion = CKPLUS_CODES[code]
            except (ValueError, KeyError, IndexError):
                skipped.append((str(ef), "emotion file does not hold a CK+ code 0-7"))
                continue
            frames = sorted(p for p in (img_root / subject / seq).glob("*.png"))
            if not frames:
                skipped.append((str(ef), f"no frames in {img_root / subject / seq}"))
                continue
            picks = [(f, emotion) for f in frames[-peak_frames:]]
            if include_neutral:
                picks.insert(0, (frames[0], "neutral"))
            for frame, label in picks:
                lm = lm_root / subject / seq / f"{frame.stem}_landmarks.txt"
                try:
                    left, right = eye_centres_from_landmarks68(_read_landmarks(lm))
                    grey = read_grey(frame)
                except (OSError, DatasetError, ImageReadError, ValueError) as exc:
                    skipped.append((str(frame), f"{exc}"))
                    continue
                images.append(align_face(grey, left, right, spec))
                labels.append(label)
                paths.append(str(frame.relative_to(root)))
                subjects.append(subject)
                sequences.append(f"{subject}_{seq}")
        if not images:
            raise DatasetError(f"{root}: no usable CK+ frames")
        class_names = sort_canonical(labels)
        return FaceSet(
            name="ckplus", images=np.stack(images),
            labels=np.array([class_names.index(c) for c in labels], dtype=np.int64),
            class_names=class_names, paths=paths, subjects=np.array(subjects, dtype=str),
            sequences=np.array(sequences, dtype=str), skipped=skipped, source=str(root),
        )

    files = emo_files + sorted(lm_root.glob("S*/*/*.txt"))
    return _report_skips(_cached(settings, files, root, build))
