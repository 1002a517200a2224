"""Draw what was found on a frame: the box, the eyes and the top emotion with its probability."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..utils import atomic_write_bytes, check_writable_file
from .results import FrameResult

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".m4v")   # --annotate OUT.mp4: one annotated video

# One colour per canonical emotion (RGB), so a table and its pictures read the same way.
COLOURS = {"neutral": (200, 200, 200), "anger": (230, 40, 40), "contempt": (150, 80, 200),
           "disgust": (40, 160, 40), "fear": (140, 60, 220), "happy": (255, 200, 0),
           "sadness": (40, 110, 230), "surprise": (255, 120, 200)}


def annotate(rgb: np.ndarray, result: FrameResult) -> np.ndarray:
    """A copy of ``rgb`` with each face's box, eyes and label drawn."""
    out = np.ascontiguousarray(rgb.copy())
    thick = max(1, round(max(out.shape[:2]) / 400))
    for i, face in enumerate(result.faces):
        x, y, w, h = (int(round(v)) for v in face.box)
        colour = COLOURS.get(face.emotion, (255, 255, 255))
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick, cv2.LINE_AA)
        for eye in (face.left_eye, face.right_eye):
            cv2.circle(out, (int(round(eye[0])), int(round(eye[1]))), thick + 1, colour, -1, cv2.LINE_AA)
        label = f"{i}: {face.emotion} {face.probabilities[face.emotion]:.2f}"
        scale = max(0.4, w / 220)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 8 > 0 else y + h + th + 4
        cv2.rectangle(out, (x, ty - th - 4), (x + tw + 4, ty + base), colour, -1)
        cv2.putText(out, label, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if not result.faces:
        cv2.putText(out, "no face found", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 80, 80), 2, cv2.LINE_AA)
    return out


def write_image(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{path}: cannot encode an image with this suffix")
    atomic_write_bytes(path, buf.tobytes())
    return path


class VideoSink:
    """Annotated frames into a video file (mp4v for .mp4/.m4v/.mov, MJPG for .avi), written to a
    temporary name and moved into place when closed, so an interrupted run leaves no half file."""

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.fps = fps if fps and fps > 0 else 25.0
        self.writer = None

    def write(self, rgb: np.ndarray) -> None:
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            h, w = rgb.shape[:2]
            self.writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (w, h))
            if not self.writer.isOpened():
                raise ValueError(f"{self.path}: cannot write a video with this suffix")
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self, keep: bool = True) -> None:
        if self.writer is not None:
            self.writer.release()
            if keep:
                self.tmp.replace(self.path)
            elif self.tmp.exists():
                self.tmp.unlink()


def check_annotation_target(path: str | Path) -> Path:
    """Refuse, before any work, an ``--annotate`` target that is neither a folder (made when absent)
    nor a video file name: an existing photo or text file is never overwritten."""
    path = Path(path)
    if path.is_dir():            # a folder (also one named like a video: several inputs annotated into it)
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{path}: a read-only folder")
        return path
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return check_writable_file(path)
    if path.exists():
        raise ValueError(f"{path}: is a file; --annotate takes a folder (annotated photos and videos) "
                         f"or a video name ({', '.join(VIDEO_SUFFIXES)}) for one video")
    check_writable_file(path.parent / f"{path.name}.probe")   # the place it will be made in is writable
    return path
