"""Micro-expression clips as arrays: the MEGC 2019 composite (apex crop + onset->apex flow image per
clip) and frame sequences read from a coding table and a frame folder."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.images import ImageReadError, read_grey, read_rgb
from .tables import MEGC3, Clip, with_labels

SIZE = 48


@dataclass
class MicroSet:
    """N clips: ids, subjects (prefixed by database, so two databases never share one), labels, and
    whichever inputs the source has: ``apex`` (N, 1, 48, 48), ``flow`` (N, 3, 48, 48) and
    ``frames`` (N, T, 1, 48, 48) with ``lengths`` (N,), all uint8."""

    keys: list[str]
    subjects: np.ndarray
    databases: np.ndarray
    y: np.ndarray
    class_names: list[str]
    apex: np.ndarray | None = None
    flow: np.ndarray | None = None
    frames: np.ndarray | None = None
    lengths: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict, repr=False)  # per-run memo (e.g. frozen conv features)

    def __len__(self) -> int:
        return len(self.keys)

    def summary(self) -> str:
        parts = [f"{db} {int((self.databases == db).sum())}" for db in sorted(set(self.databases.tolist()))]
        counts = ", ".join(f"{c} {int((self.y == i).sum())}" for i, c in enumerate(self.class_names))
        return (f"{len(self)} clips, {len(set(self.subjects.tolist()))} subjects ({', '.join(parts)}); {counts}"
                + (f"; {len(self.problems)} reported" if self.problems else ""))


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    """Area-average down (the 224 px apex crops), bilinear up (the 28 px flow images)."""
    from PIL import Image

    resample = Image.Resampling.BOX if img.shape[0] > size else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(img).resize((size, size), resample))


def read_megc2019(root: str | Path) -> MicroSet:
    """The MEGC 2019 composite as HTNet distributes it: ``labels.csv`` (dataset, subject, sample,
    label3, apex_file, flow_file), ``apex_224/*.jpg`` face crops, ``flow_28/*.png`` flow images
    (u, v, optical strain as RGB). The apex crops are already faces: they are resized, not re-detected.
    A clip whose image is missing or unreadable is skipped and reported."""
    root = Path(root)
    table = root / "labels.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{table}: not found; expected the MEGC 2019 composite layout "
                                f"(labels.csv, apex_224/, flow_28/)")
    keys, subjects, dbs, ys, apex, flow, problems = [], [], [], [], [], [], []
    with table.open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=2):
            try:
                label = int(row["label3"])
                if not 0 <= label < len(MEGC3):
                    raise ValueError(f"label3 {label} is not 0, 1 or 2")
                a = _resize(read_grey(root / row["apex_file"]), SIZE)
                fl = _resize(read_rgb(root / row["flow_file"]), SIZE)
            except (KeyError, ValueError, ImageReadError, OSError) as e:
                problems.append(f"{table}:{i} ({row.get('sample', '?')}): {e}; skipped")
                continue
            db = row["dataset"].strip().lower()
            keys.append(f"{db}/{row['subject']}/{row['sample']}")
            subjects.append(f"{db}/{row['subject']}")
            dbs.append(db)
            ys.append(label)
            apex.append(a[None])
            flow.append(fl.transpose(2, 0, 1))
    if not keys:
        raise ValueError(f"{table}: no usable clip ({len(problems)} rows reported)")
    return MicroSet(keys, np.array(subjects), np.array(dbs), np.array(ys), list(MEGC3),
                    apex=np.stack(apex), flow=np.stack(flow), problems=problems)


def sequence_set(clips: list[Clip], frames_root: str | Path, classes: str = "megc3", mode: str = "five",
                 detector="blazeface", spec=None) -> MicroSet:
    """Frame sequences for the clips of a coding table: select, crop, pad to the longest clip."""
    from .frames import load_clips

    kept, names = with_labels(clips, classes)
    left_out = len(clips) - len(kept)
    loaded, problems = load_clips(kept, frames_root, mode=mode, size=SIZE, spec=spec, detector=detector)
    if left_out:
        problems.insert(0, f"{left_out} clips have no class under {classes!r} and were left out")
    if not loaded:
        raise ValueError(f"{frames_root}: none of the {len(kept)} clips could be loaded; first problems: "
                         + "; ".join(problems[:3]))
    t = max(len(c.frames) for c in loaded)
    frames = np.zeros((len(loaded), t, 1, SIZE, SIZE), dtype=np.uint8)
    for i, c in enumerate(loaded):
        frames[i, :len(c.frames), 0] = c.images
    return MicroSet(keys=[c.clip.key for c in loaded],
                    subjects=np.array([f"{c.clip.database}/{c.clip.subject}" for c in loaded]),
                    databases=np.array([c.clip.database for c in loaded]),
                    y=np.array([names.index(c.clip.label(classes)) for c in loaded]), class_names=names,
                    apex=np.stack([c.images[c.frames.index(c.clip.apex)][None] for c in loaded]),
                    frames=frames, lengths=np.array([len(c.frames) for c in loaded]), problems=problems)
