"""The original CK+ release (``cohn-kanade-images/``, ``Emotion/``, ``Landmarks/``): the last frames
of every labelled sequence, levelled by the eyes and cropped with CK+48's framing."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..labels import CKPLUS_CODES, sort_canonical
from .faceset import FaceSet
from .images import ImageReadError, read_grey
from .readers import DatasetError, _cached, _report_skips

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
