"""Frames from photos, folders, video files, cameras and arrays, with errors that name the source.

Every input becomes a stream of :class:`Frame` objects (RGB uint8, the source's name, the frame
index and its time in seconds for videos). A source that cannot be read raises
:class:`MediaError` naming it; :func:`iter_sources` lets a batch run report it and go on.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..data.images import MAX_PIXELS, ImageReadError, is_image_file, read_rgb_frames

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}


class MediaError(ValueError):
    """A photo, video or camera that cannot be used; the message names it and the problem."""


@dataclass
class Frame:
    source: str          # file path, "camera:N" or "array:N"
    index: int           # frame number in the source (0 for a photo)
    time_s: float | None  # seconds from the start of a video; None for photos
    rgb: np.ndarray      # (H, W, 3) uint8


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def as_rgb(array: np.ndarray, name: str = "array") -> np.ndarray:
    """An (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array as (H, W, 3) uint8 RGB."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or min(a.shape[:2]) < 1:
        raise MediaError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    if a.dtype == np.uint16:
        a = (a.astype(np.float64) / 257.0).round()
    elif a.dtype.kind == "f":
        a = a * 255.0 if a.max(initial=0.0) <= 1.0 else a
    elif a.dtype != np.uint8 and a.dtype.kind not in "iu":
        raise MediaError(f"{name}: unsupported pixel type {a.dtype}")
    a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def expand_paths(inputs: Iterable[str | Path], ignored: list[tuple[str, str]] | None = None) -> list[Path]:
    """Files as given; a folder gives its photos and videos (sorted, not recursive). Photos are
    recognised by content where the suffix is unknown or missing (``.jfif``, none); what a folder
    holds besides is appended to ``ignored`` as (path, reason), hidden files aside."""
    out = []
    for item in inputs:
        p = Path(item)
        if not p.is_dir():
            out.append(p)
            continue
        found = []
        for f in sorted(p.iterdir()):
            reason = _why_not_media(f)
            if reason is None:
                found.append(f)
            elif reason and ignored is not None:
                ignored.append((str(f), f"{f}: ignored, {reason}"))
        if not found and ignored is not None:
            ignored.append((str(p), f"{p}: folder holds no photos or videos"))
        elif not found:
            raise MediaError(f"{p}: folder holds no photos or videos")
        out.extend(found)
    return out


def _why_not_media(path: Path) -> str | None:
    """None for a photo or video; else why not ('' for hidden files, which go unmentioned)."""
    if path.name.startswith("."):
        return ""
    if path.is_symlink() and not path.exists():
        return "a broken link"
    if path.is_dir():
        return "a sub-folder (folders are not searched recursively)"
    if not path.is_file():
        return "not a regular file (a pipe, socket or device)"
    if is_image_file(path) or is_video_file(path):
        return None
    return None if _looks_like_an_image(path) else "not a photo or video"


def _looks_like_an_image(path: Path) -> bool:
    """Whether the file's header is an image format Pillow reads (nothing is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return True
    except UnidentifiedImageError:
        return False
    except Exception:  # noqa: BLE001 - a decompression bomb or a damaged header: the reader will say which
        return True


def photo_frames(path: Path, stride: int = 1, max_frames: int | None = None) -> Iterator[Frame]:
    """One frame for a photo; every ``stride``-th frame (index 0, stride, ...) of an animated GIF /
    WebP / PNG or a multi-page TIFF, at most ``max_frames``."""
    try:
        for k, rgb in enumerate(read_rgb_frames(path, stride, max_frames)):
            yield Frame(str(path), k * stride, None, rgb)
    except ImageReadError as exc:
        raise MediaError(str(exc)) from None


def _open_capture(source, name: str) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        cap.release()
        raise MediaError(f"{name}: cannot open as a video (missing, unreadable or an unknown format)")
    return cap


def video_frames(path: Path | int, stride: int = 1, max_frames: int | None = None,
                 name: str | None = None) -> Iterator[Frame]:
    """Every ``stride``-th frame of a video file or camera index; time from the container's clock."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    name = name or str(path)
    if isinstance(path, Path):
        if not path.is_file():
            raise MediaError(f"{name}: no such file")
        if path.stat().st_size == 0:
            raise MediaError(f"{name}: empty file (0 bytes)")
    cap = _open_capture(str(path) if isinstance(path, Path) else path, name)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if w * h > MAX_PIXELS:
            raise MediaError(f"{name}: video frames of {int(w)}x{int(h)} pixels are too large")
        index, emitted = 0, 0
        while max_frames is None or emitted < max_frames:
            if index % stride:
                if not cap.grab():  # skip without decoding
                    break
                index += 1
                continue
            ok, bgr = cap.read()
            if not ok:
                break
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            time_s = index / fps if fps > 0 else (msec / 1000.0 if msec else None)
            yield Frame(name, index, time_s, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
            emitted += 1
        if index == 0:
            raise MediaError(f"{name}: no frames could be decoded (empty, truncated or not a video)")
    finally:
        cap.release()


def source_frames(source, stride: int = 1, max_frames: int | None = None, index: int = 0) -> Iterator[Frame]:
    """Frames of one source: a path (photo or video), ``camera:N``, or an array (one photo)."""
    if isinstance(source, np.ndarray):
        yield Frame(f"array:{index}", 0, None, as_rgb(source, f"array:{index}"))
        return
    text = str(source)
    if text.startswith("camera:"):
        index = text.split(":", 1)[1] or "0"
        if not index.isdecimal() or not index.isascii():
            raise MediaError(f"{text}: a camera is camera:N, N its number (camera:0 is the first)")
        yield from video_frames(int(index), stride, max_frames, name=text)
        return
    path = Path(source)
    if is_video_file(path):
        yield from video_frames(path, stride, max_frames)
    elif path.is_dir():
        raise MediaError(f"{path}: is a folder; pass it to expand_paths first")
    else:
        yield from photo_frames(path, stride, max_frames)


def expected_frames(sources, stride: int = 1, max_frames: int | None = None) -> int | None:
    """How many frames analysing ``sources`` will give, from headers alone (video frame counts,
    image page counts); None when it cannot be known (a camera). For progress bars."""
    total = 0
    for source in sources:
        if isinstance(source, np.ndarray):
            n = 1
        elif str(source).startswith("camera:"):
            return None
        elif is_video_file(Path(source)):
            cap = cv2.VideoCapture(str(source))
            n = -(-int(max(cap.get(cv2.CAP_PROP_FRAME_COUNT), 0)) // stride)
            cap.release()
        else:
            n = -(-_pages(Path(source)) // stride)
        total += min(n, max_frames) if max_frames else n
    return total


def _pages(path: Path) -> int:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return max(1, getattr(img, "n_frames", 1)) if img.format != "MPO" else 1
    except Exception:  # noqa: BLE001 - the reader will say what is wrong with it
        return 1
