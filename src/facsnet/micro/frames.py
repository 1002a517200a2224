"""Frames of a micro-expression clip on disk: find them, choose some, crop the face.

Layouts as distributed (``root`` is the folder the user points at):

- CASME II: ``sub01/EP02_01f/img46.jpg`` (raw) or ``sub01/EP02_01f/reg_img46.jpg`` (cropped)
- SAMM: ``006/006_1_2/006_05562.jpg``
- SMIC-HS: ``s3/micro/negative/s3_ne_03/image302370.bmp``
- CAS(ME)^3 part A: ``spNO.1/a/color/355.jpg``
- DFME: ``sub0003/sub0003_01/<n>.jpg``

A frame's number is the last run of digits in its file name, so zero-padding and prefixes do not
matter. The clip folder is looked up at its usual place first, then anywhere below ``root``.

Selection: ``five`` = the paper's first, onset, apex, offset, last frames; ``every:K`` = every K-th
frame from onset to offset (the apex always included). Cropping: one face detection on the apex
frame fixes an eye-levelled crop (the model's framing) for the whole clip, so the tiny motion of a
micro-expression is not drowned by frame-to-frame detector jitter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.images import ImageReadError, is_image_file, read_rgb
from .tables import Clip


class FrameError(ValueError):
    """A clip whose frames cannot be used; the message names the clip."""


def candidate_dirs(root: Path, clip: Clip) -> list[Path]:
    """Where the layouts put a clip's frames, most specific first."""
    base = root / clip.subject / clip.clip
    return [base / "color", base, root / clip.clip]


_NUMBER = re.compile(r"(\d+)$")


def frame_index(folder: Path) -> dict[int, Path]:
    """Frame number -> file for the images in ``folder``. When a folder mixes name patterns (CASME II
    ``img`` and ``reg_img``), the most common pattern wins."""
    groups: dict[str, dict[int, Path]] = {}
    for p in folder.iterdir():
        m = _NUMBER.search(p.stem)
        if m and is_image_file(p):
            groups.setdefault(p.stem[:m.start()], {})[int(m.group(1))] = p
    if not groups:
        return {}
    return max(groups.values(), key=len)


class FrameLocator:
    """Finds each clip's frame folder below ``root`` (indexing sub-folders once, for layouts that
    nest clips under emotion folders like SMIC)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FrameError(f"{self.root}: frame folder not found")
        self._by_name: dict[str, list[Path]] | None = None

    def _search(self, name: str) -> list[Path]:
        if self._by_name is None:
            self._by_name = {}
            for d in self.root.rglob("*"):
                if d.is_dir():
                    self._by_name.setdefault(d.name, []).append(d)
        return self._by_name.get(name, [])

    def frames(self, clip: Clip) -> dict[int, Path]:
        for d in candidate_dirs(self.root, clip):
            if d.is_dir():
                idx = frame_index(d)
                if idx:
                    return idx
        for d in self._search(clip.clip):
            if clip.subject in d.parts or len(self._search(clip.clip)) == 1:
                for sub in (d / "color", d):
                    if sub.is_dir() and (idx := frame_index(sub)):
                        return idx
        raise FrameError(f"{clip.key}: no frames found under {self.root} (looked in {clip.subject}/{clip.clip})")


def select_frames(clip: Clip, available: dict[int, Path], mode: str = "five") -> list[int]:
    """Frame numbers to use, in time order. A coded frame missing on disk is an error naming it."""
    if mode == "five":
        wanted = {"first": min(available), "onset": clip.onset, "apex": clip.apex,
                  "offset": clip.offset, "last": max(available)}
        missing = [f"{k} {v}" for k, v in wanted.items() if v not in available]
        if missing:
            raise FrameError(f"{clip.key}: coded frame(s) {', '.join(missing)} not on disk "
                             f"(frames {min(available)}..{max(available)})")
        return list(wanted.values())
    m = re.fullmatch(r"every:(\d+)", mode)
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"unknown frame selection {mode!r}; use 'five' or 'every:K' (K >= 1)")
    if clip.apex not in available:
        raise FrameError(f"{clip.key}: apex frame {clip.apex} not on disk")
    lo, hi = min(clip.onset, clip.apex), max(clip.offset, clip.apex)
    chosen = {f for f in range(lo, hi + 1, int(m.group(1))) if f in available} | {clip.apex}
    return sorted(chosen)


@dataclass
class ClipFrames:
    clip: Clip
    frames: list[int]
    images: np.ndarray          # (T, size, size) uint8 grey, aligned crops
    face_found: bool            # False: no face on the apex frame, the whole frame was used


def crop_clip(paths: list[Path], apex_path: Path, detector, spec, size: int) -> tuple[np.ndarray, bool]:
    """Grey ``size`` x ``size`` crops of ``paths``, all with the crop found on the apex frame."""
    import cv2

    from ..faces.align import align_face

    apex = read_rgb(apex_path)
    dets = detector.detect(apex) if detector is not None else []
    out = []
    for p in paths:
        rgb = apex if p == apex_path else read_rgb(p)
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if dets:
            best = max(dets, key=lambda d: d.score)
            out.append(align_face(grey, best.left_eye, best.right_eye, spec.resized(size)))
        else:  # already a face crop, or no face: the whole frame, squared by its centre
            h, w = grey.shape
            s = min(h, w)
            sq = grey[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
            out.append(cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out), bool(dets)


def load_clips(clips: list[Clip], root: str | Path, mode: str = "five", size: int = 48, spec=None,
               detector="blazeface") -> tuple[list[ClipFrames], list[str]]:
    """Select and crop every clip's frames; a clip whose frames are missing or unreadable is skipped
    and reported (the message names it), the others go on."""
    from ..faces.align import AlignSpec

    locator = FrameLocator(root)
    spec = spec or AlignSpec()
    if isinstance(detector, str):
        from ..faces.detect import create_detector
        detector = create_detector(detector)
    loaded, problems = [], []
    for clip in clips:
        try:
            available = locator.frames(clip)
            chosen = select_frames(clip, available, mode)
            images, found = crop_clip([available[f] for f in chosen], available[clip.apex], detector, spec, size)
        except (FrameError, ImageReadError, OSError) as e:
            problems.append(f"{e}; skipped" if str(e).startswith(clip.key) else f"{clip.key}: {e}; skipped")
            continue
        if not found:
            problems.append(f"{clip.key}: no face found on the apex frame; the whole frame was used")
        loaded.append(ClipFrames(clip, chosen, images, found))
    return loaded, problems
