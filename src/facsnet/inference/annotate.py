"""Draw what was found on a frame: the box, the eyes and the top emotion with its probability; with
landmarks also the named mesh points and the head pose as an arrow from the nose."""
from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..faces.pose import rotation_matrix
from ..utils import atomic_write_bytes, check_writable_file
from .results import FrameResult

log = logging.getLogger("facsnet")

VIDEO_OUT_SUFFIXES = (".mp4", ".webm", ".avi", ".mov", ".m4v")   # --annotate OUT.mp4: one annotated video

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
        if face.pose is not None:
            _draw_landmarks(out, face, colour, thick, w)
        label = f"{i}: {face.emotion} {face.probabilities[face.emotion]:.2f}"
        scale = max(0.4, w / 220)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 8 > 0 else y + h + th + 4
        cv2.rectangle(out, (x, ty - th - 4), (x + tw + 4, ty + base), colour, -1)
        cv2.putText(out, label, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if not result.faces:
        cv2.putText(out, "no face found", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 80, 80), 2, cv2.LINE_AA)
    return out


def _draw_landmarks(out: np.ndarray, face, colour, thick: int, width: int) -> None:
    """The named mesh points as dots, and where the nose points (yaw and pitch) as an arrow."""
    for x, y in face.landmarks.values():
        cv2.circle(out, (int(round(x)), int(round(y))), max(1, thick), colour, -1, cv2.LINE_AA)
    if not np.isfinite(face.pose.yaw):
        return
    nose = np.asarray(face.landmarks["nose_tip"])
    facing = rotation_matrix(face.pose.yaw, face.pose.pitch, face.pose.roll) @ [0.0, 0.0, -1.0]   # towards the camera
    tip = nose + 0.6 * width * facing[:2]
    cv2.arrowedLine(out, tuple(int(v) for v in nose.round()), tuple(int(v) for v in tip.round()), (255, 255, 255),
                    thick, cv2.LINE_AA, tipLength=0.2)


def write_image(path: str | Path, rgb: np.ndarray, durable: bool = True) -> Path:
    """An RGB (or 2-D grey) uint8 image, encoded as its suffix says, written atomically (``durable``: and
    flushed to disk before it replaces an older file)."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".jpg", rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{path}: cannot encode an image with this suffix")
    atomic_write_bytes(path, buf.tobytes(), durable=durable)
    return path


class VideoSink:
    """Annotated frames into a video that browsers play: H.264 (yuv420p, index at the front) in
    .mp4/.m4v/.mov, VP9 in .webm, through PyAV, whose wheel ships both encoders; Motion JPEG in .avi.
    Written to a temporary name and moved into place when closed, so an interrupted run leaves no
    half file. Without PyAV, .mp4 falls back to OpenCV's MPEG-4 Part 2, which browsers do not play."""

    CODECS = {".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
              ".webm": ("webm", "libvpx-vp9")}

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.fps = fps if fps and fps > 0 else 25.0
        self.writer = None        # a cv2.VideoWriter, or (container, stream) for PyAV

    def write(self, rgb: np.ndarray) -> None:
        if self.writer is None:
            self.writer = self._open(*rgb.shape[:2])
        if isinstance(self.writer, tuple):
            import av

            container, stream = self.writer
            frame = av.VideoFrame.from_ndarray(_even(rgb), format="rgb24")
            container.mux(stream.encode(frame))
        else:
            self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def _open(self, h: int, w: int):
        suffix = self.path.suffix.lower()
        if suffix in self.CODECS and _has_pyav():
            import av

            fmt, codec = self.CODECS[suffix]
            options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
            container = av.open(str(self.tmp), "w", format=fmt, options=options)
            stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = w + w % 2, h + h % 2, "yuv420p"
            stream.options = {"crf": "23", "preset": "veryfast"} if codec == "libx264" else {"crf": "32", "b": "0"}
            return container, stream
        if suffix == ".webm":
            raise ValueError(f"{self.path}: writing WebM needs PyAV (pip install av)")
        if suffix != ".avi":
            log.warning("%s: written as MPEG-4 Part 2, which browsers do not play; pip install av for H.264", self.path)
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if suffix == ".avi" else "mp4v"))
        writer = cv2.VideoWriter(str(self.tmp), fourcc, self.fps, (w, h))
        if not writer.isOpened():
            raise ValueError(f"{self.path}: cannot write a video with this suffix")
        return writer

    def close(self, keep: bool = True) -> None:
        if self.writer is None:
            return
        if isinstance(self.writer, tuple):
            container, stream = self.writer
            container.mux(stream.encode(None))   # flush the encoder's delayed frames
            container.close()
        else:
            self.writer.release()
        self.writer = None
        if keep:
            self.tmp.replace(self.path)
        elif self.tmp.exists():
            self.tmp.unlink()


def _even(rgb: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: repeat the last row / column where one is odd."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return np.ascontiguousarray(rgb)


def _has_pyav() -> bool:
    import importlib.util

    return importlib.util.find_spec("av") is not None


def check_annotation_target(path: str | Path) -> Path:
    """Refuse, before any work, an ``--annotate`` target that is neither a folder (made when absent)
    nor a video file name: an existing photo or text file is never overwritten."""
    path = Path(path)
    if path.is_dir():            # a folder (also one named like a video: several inputs annotated into it)
        if not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(f"{path}: a read-only folder")
        return path
    if path.suffix.lower() in VIDEO_OUT_SUFFIXES:
        return check_writable_file(path)
    if path.exists():
        raise ValueError(f"{path}: is a file; --annotate takes a folder (annotated photos and videos) "
                         f"or a video name ({', '.join(VIDEO_OUT_SUFFIXES)}) for one video")
    check_writable_file(path.parent / f"{path.name}.probe")   # the place it will be made in is writable
    return path
