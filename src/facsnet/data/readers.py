"""Readers that turn each dataset's own layout into a :class:`FaceSet`.

- :func:`read_class_folder` — any ``root/<class>/<image>`` tree (FER2013 folders, CK+48,
  NovaEmotions, JAFFE sorted by class, a user's own), with an optional subject pattern.
- :func:`read_fer2013_csv` — the original ``fer2013.csv`` (``emotion,pixels,Usage``).

Two layouts have readers of their own: FER+ votes (:mod:`facsnet.data.ferplus`) and the original CK+
release (:mod:`facsnet.data.ckplus_release`).

Unreadable inputs are skipped and listed in ``FaceSet.skipped`` with the reason; an unknown
class name is an error naming its folder.
"""
from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np

from ..labels import FER2013_CODES, canonical_label, sort_canonical
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
