"""Face detection behind one small interface, with MediaPipe's BlazeFace (full range) as the default.

A detector takes an RGB frame (H, W, 3) uint8 and returns :class:`Detection` objects: a box, a
score and the two eye centres the aligner needs. Backends register with :func:`register_detector`;
:func:`create_detector` builds one by name. ``crops`` detects nothing: each image is taken as one face
already cropped (:class:`WholeImageFace`).

Why BlazeFace full range: on 640x480 frames with 40 faces, some rotated +-20 degrees, it found 39-40
faces at 8-20 ms a frame where OpenCV's Haar cascade found 34 at 41 ms (and misses rotated faces),
dlib's HOG 35 at 98 ms, and MTCNN 40 at 60-130 ms; it also gives eye keypoints, so no second
landmark model is needed. Its weights ship inside this package (``faces/assets``, Apache-2.0, from
the mediapipe 0.10.21 wheel) and run on OpenVINO where it is installed (it reads the TFLite file
itself; the same outputs to 1e-4, about 1.4x faster on a 2-core CPU) or on ``ai-edge-litert``;
nothing is downloaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from .align import FER2013_FRAMING, AlignSpec
from .runtime import bundled_asset, check_frame, tflite_runner

BLAZEFACE_FILE = "blazeface_full_range_sparse.tflite"
MIN_FRAME_SIDE = 8   # pixels: a frame (or tile) narrower than this holds no detectable face
BLAZEFACE_SHA256 = "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"

# BlazeFace keypoint order (MediaPipe): the subject's right eye, left eye, nose tip, mouth centre,
# right ear tragion, left ear tragion. The subject's right eye is on the image's left.
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_centre", "right_ear", "left_ear")


@dataclass(frozen=True)
class Detection:
    """One face in image pixels: box (x, y, w, h), score in [0, 1], keypoints (K, 2) as (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray

    @property
    def left_eye(self) -> np.ndarray:
        """The eye on the image's left (the subject's right eye)."""
        return self.keypoints[0]

    @property
    def right_eye(self) -> np.ndarray:
        """The eye on the image's right (the subject's left eye)."""
        return self.keypoints[1]

    @property
    def roll_degrees(self) -> float:
        """In-plane head rotation: the angle of the eye line, positive when the image-right eye is lower."""
        dx, dy = self.right_eye - self.left_eye
        return float(np.degrees(np.arctan2(dy, dx)))


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in one (H, W, 3) uint8 RGB frame, best first."""


_DETECTORS: dict[str, Callable[..., FaceDetector]] = {}


def register_detector(name: str):
    def deco(factory):
        _DETECTORS[name] = factory
        return factory
    return deco


def list_detectors() -> list[str]:
    return sorted(_DETECTORS)


def create_detector(name: str = "blazeface", **kwargs) -> FaceDetector:
    if name not in _DETECTORS:
        raise ValueError(f"unknown face detector {name!r}; available: {', '.join(list_detectors())}")
    return _DETECTORS[name](**kwargs)


def detect_tiled(detector: FaceDetector, rgb: np.ndarray, grid: int = 2, overlap: float = 0.3,
                 iou_threshold: float = 0.3) -> list[Detection]:
    """The whole frame plus a ``grid`` x ``grid`` of overlapping tiles, for small faces in big photos.

    A detector with a fixed input (BlazeFace: 192x192) sees a 50-pixel face in a 960-pixel photo as
    10 pixels; in a tile it is twice that. Faces from tiles are kept only when small (under half a
    tile) and clear of the tile's inner borders; duplicates are removed, best score first."""
    faces = list(detector.detect(rgb))
    if grid < 2:
        return faces
    h, w = rgb.shape[:2]
    tw, th = w / (grid - (grid - 1) * overlap), h / (grid - (grid - 1) * overlap)
    for r in range(grid):
        for c in range(grid):
            x0, y0 = int(c * tw * (1 - overlap)), int(r * th * (1 - overlap))
            x1, y1 = min(w, int(x0 + tw)), min(h, int(y0 + th))
            if min(x1 - x0, y1 - y0) < MIN_FRAME_SIDE:
                continue
            for f in detector.detect(np.ascontiguousarray(rgb[y0:y1, x0:x1])):
                bx, by, bw, bh = f.box
                inner_cut = ((x0 > 0 and bx <= 1) or (y0 > 0 and by <= 1)
                             or (x1 < w and bx + bw >= x1 - x0 - 1) or (y1 < h and by + bh >= y1 - y0 - 1))
                if bw > 0.5 * min(tw, th) or inner_cut:
                    continue
                faces.append(Detection((bx + x0, by + y0, bw, bh), f.score, f.keypoints + [x0, y0]))
    faces.sort(key=lambda f: -f.score)
    kept: list[Detection] = []
    for f in faces:
        if all(_iou(f.box, k.box) <= iou_threshold for k in kept):
            kept.append(f)
    return kept


def _iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax1, bx1) - max(a[0], b[0])) * max(0.0, min(ay1, by1) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


# ----------------------------------------------------------------------------- BlazeFace


def blazeface_anchors(grid: int = 48) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1] of the full-range model: one fixed-size anchor per cell of a
    stride-4 grid over its 192x192 input (MediaPipe's SsdAnchorsCalculator with num_layers=1,
    strides=[4], aspect_ratios=[1.0], fixed_anchor_size=true)."""
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def area_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Shrink ``image`` to ``size`` (w, h) by area averaging, halving first (exact 2x2 means, OpenCV's
    fast path) while the image is still more than twice too large: about 2x faster than one
    area resize by a fractional factor, and within one grey level of it on average."""
    w, h = size
    while image.shape[1] >= 2 * w and image.shape[0] >= 2 * h:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio and pad to ``size`` x ``size`` (black);
    returns the image, the scale (output px per input px) and the (x, y) padding."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = area_resize(rgb, (nw, nh)) if scale < 1 else cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (size - nw) // 2, (size - nh) // 2
    out = np.zeros((size, size, 3), dtype=np.uint8)
    out[pad_y:pad_y + nh, pad_x:pad_x + nw] = resized
    return out, scale, (float(pad_x), float(pad_y))


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray, iou_threshold: float):
    """MediaPipe's WEIGHTED non-maximum suppression: each kept face is the score-weighted mean of
    the candidates that overlap the best remaining one by more than ``iou_threshold``.

    ``boxes`` (N, 4) as x0, y0, x1, y1. Returns (boxes, scores, keypoints) of the kept faces."""
    order = np.argsort(-scores)
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    kept_b, kept_s, kept_k = [], [], []
    remaining = np.arange(len(scores))
    while remaining.size:
        best = boxes[remaining[0]]
        others = boxes[remaining]
        ix0 = np.maximum(best[0], others[:, 0])
        iy0 = np.maximum(best[1], others[:, 1])
        ix1 = np.minimum(best[2], others[:, 2])
        iy1 = np.minimum(best[3], others[:, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        area = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
        best_area = (best[2] - best[0]) * (best[3] - best[1])
        iou = inter / np.maximum(area + best_area - inter, 1e-9)
        overlap = iou > iou_threshold
        overlap[0] = True  # the best face joins its own group even if its box is degenerate
        group = remaining[overlap]
        w = scores[group][:, None]
        kept_b.append((boxes[group] * w).sum(0) / w.sum())
        kept_k.append((keypoints[group] * w[:, :, None]).sum(0) / w.sum())
        kept_s.append(scores[group[0]])
        remaining = remaining[~overlap]
    if not kept_s:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0,) + keypoints.shape[1:], np.float32)
    return np.array(kept_b), np.array(kept_s), np.array(kept_k)


@register_detector("blazeface")
class BlazeFaceDetector:
    """MediaPipe BlazeFace full range on the CPU: OpenVINO where installed (``runtime="auto"``),
    else the TFLite runtime (``ai-edge-litert``, XNNPACK).

    ``min_score`` 0.5 and NMS IoU 0.3 are MediaPipe's defaults. Faces from about 2% of the longer
    image side (a few pixels in the 192x192 input) to the whole frame are found."""

    name = "blazeface"
    input_size = 192

    def __init__(self, min_score: float = 0.5, iou_threshold: float = 0.3, num_threads: int | None = None,
                 model_path: str | Path | None = None, runtime: str = "auto"):
        path = Path(model_path) if model_path else bundled_asset(BLAZEFACE_FILE, BLAZEFACE_SHA256, "face detector")
        self.runtime, self._run = tflite_runner(path, runtime, num_threads, "detector")
        self.min_score, self.iou_threshold = min_score, iou_threshold
        self._anchors = blazeface_anchors(self.input_size // 4)

    def raw(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, tuple[float, float]]:
        """The network's regressors (N, 16) and logits (N,) for one frame, with the letterbox geometry."""
        check_frame(rgb)
        boxed, scale, pad = letterbox(rgb, self.input_size)
        x = boxed.astype(np.float32)[None] * (2.0 / 255.0) - 1.0
        reg, logits = self._run(x)
        return reg[0], logits[0, :, 0], scale, pad

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        check_frame(rgb)
        if min(rgb.shape[:2]) < MIN_FRAME_SIDE:
            return []   # too small to hold a face the detector could find
        reg, logits, scale, (pad_x, pad_y) = self.raw(rgb)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        keep = scores >= self.min_score
        if not keep.any():
            return []
        reg, scores, anchors = reg[keep], scores[keep], self._anchors[keep]
        s = float(self.input_size)
        centre = reg[:, 0:2] / s + anchors          # fixed-size anchors: width = height = 1
        size = reg[:, 2:4] / s
        boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        kps = reg[:, 4:16].reshape(-1, 6, 2) / s + anchors[:, None, :]
        boxes, scores, kps = weighted_nms(boxes, scores, kps, self.iou_threshold)
        # From the 192x192 letterbox back to image pixels.
        to_px = lambda v, pad: (v * s - pad) / scale  # noqa: E731
        h, w = rgb.shape[:2]
        faces = []
        for b, sc, k in zip(boxes, scores, kps):
            x0, y0 = to_px(b[0], pad_x), to_px(b[1], pad_y)
            x1, y1 = to_px(b[2], pad_x), to_px(b[3], pad_y)
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            points = np.stack([to_px(k[:, 0], pad_x), to_px(k[:, 1], pad_y)], axis=1).astype(np.float64)
            faces.append(Detection((x0, y0, x1 - x0, y1 - y0), float(sc), points))
        return faces


@register_detector("crops")
class WholeImageFace:
    """No detection: every image is one face crop already (a folder of FER2013- or CK+-style crops, the
    output of another tool), so none goes missing the way small, tight crops can for a detector. The face
    is the image's centre square, which the analyzer resizes for each model (``whole_image``); its eyes are
    put where ``framing`` has them, for what reads them (the annotation, the face mesh)."""

    name = "crops"
    whole_image = True   # no tiled second pass for small faces

    def __init__(self, framing: AlignSpec = FER2013_FRAMING, min_score: float = 0.5, num_threads: int | None = None):
        self.framing = framing

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        check_frame(rgb)
        h, w = rgb.shape[:2]
        side = min(h, w)
        x0, y0 = float((w - side) // 2), float((h - side) // 2)
        half_gap, eye_y = side * self.framing.eye_distance / 2, y0 + side * self.framing.eye_height
        eyes = np.array([[x0 + side / 2 - half_gap, eye_y], [x0 + side / 2 + half_gap, eye_y]], np.float32)
        return [Detection((x0, y0, float(side), float(side)), 1.0, eyes)]
