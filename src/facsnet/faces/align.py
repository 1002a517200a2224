"""Rotate a face so the eyes are level, scale it and crop it to the model's input.

One function serves training data that carries landmarks (the original CK+ release) and
inference on photos, so a model always sees faces framed the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class AlignSpec:
    """Where the eyes land in the output crop, as fractions of its side.

    The defaults are FER2013's framing, measured: BlazeFace's eye keypoints on 28,709 FER2013
    training faces (each padded by 48 px of edge pixels so the detector sees the whole face) have a
    median inter-ocular distance of 0.363 of the side and a median eye line at 0.397 from the top
    (24,728 of the 28,709 faces found)
    (``scripts/measure_framing.py``, ``results/framing.json``). CK+48 is framed a little tighter.
    """

    size: int = 48
    eye_distance: float = 0.363  # inter-ocular distance / crop side
    eye_height: float = 0.397    # eye line / crop side, from the top

    def resized(self, size: int) -> "AlignSpec":
        return AlignSpec(size, self.eye_distance, self.eye_height)


FER2013_FRAMING = AlignSpec(48, 0.363, 0.397)
CKPLUS48_FRAMING = AlignSpec(48, 0.373, 0.411)


def eye_centres_from_landmarks68(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centres in image coordinates from the 68-point (iBUG) layout.

    "Left" is the eye on the image's left (the subject's right eye, points 36-41).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected 68 (x, y) landmarks, got shape {points.shape}")
    return points[36:42].mean(axis=0), points[42:48].mean(axis=0)


def align_face(image: np.ndarray, left_eye, right_eye, spec: AlignSpec = AlignSpec()) -> np.ndarray:
    """Crop ``image`` (H, W[, C]) uint8 so the eyes are level at ``spec``'s place; returns (size, size[, C]).

    A face larger than the crop is resampled with anti-aliasing, as photos are shrunk to make 48x48
    training sets: the rotated crop is first cut at k times the output size (k up to 8, so each
    sample falls about one source pixel apart) and then area-averaged down k times; a face more
    than 8 times too large is first shrunk around the eyes. Pixels outside the image are black.
    """
    left = np.asarray(left_eye, dtype=np.float64)
    right = np.asarray(right_eye, dtype=np.float64)
    dist = float(np.hypot(*(right - left)))
    if dist < 1e-6:
        raise ValueError("eye positions coincide; cannot align")
    scale = spec.size * spec.eye_distance / dist  # output pixels per input pixel
    if scale < 1 / MAX_SUPERSAMPLE:
        image, left, right = _shrink_around(image, left, right, dist, factor=int(1 / (MAX_SUPERSAMPLE * scale)))
        scale = spec.size * spec.eye_distance / float(np.hypot(*(right - left)))
    k = max(1, min(MAX_SUPERSAMPLE, int(1.0 / scale)))
    if k == 1:
        return _warp(image, left, right, spec)
    big = _warp(image, left, right, spec.resized(spec.size * k))
    return cv2.resize(big, (spec.size, spec.size), interpolation=cv2.INTER_AREA)


MAX_SUPERSAMPLE = 8


def _shrink_around(image: np.ndarray, left, right, dist: float, factor: int):
    """Cut a generous square around the eyes and shrink it ``factor`` times with area averaging."""
    centre = (left + right) / 2.0
    half = 3.0 * dist  # the crop spans about 2.8 eye distances; keep margin for rotation
    x0, y0 = (max(0, int(c - half)) for c in centre)
    x1 = min(image.shape[1], int(centre[0] + half) + 1)
    y1 = min(image.shape[0], int(centre[1] + half) + 1)
    region = image[y0:y1, x0:x1]
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    sx, sy = small.shape[1] / w, small.shape[0] / h
    shift = np.array([x0, y0], dtype=np.float64)
    scale = np.array([sx, sy])
    return small, (left - shift) * scale, (right - shift) * scale


def _warp(image: np.ndarray, left: np.ndarray, right: np.ndarray, spec: AlignSpec) -> np.ndarray:
    dx, dy = right - left
    angle = np.arctan2(dy, dx)
    scale = spec.size * spec.eye_distance / float(np.hypot(dx, dy))
    cos, sin = np.cos(angle), np.sin(angle)
    centre = (left + right) / 2.0
    out_centre = np.array([spec.size / 2.0, spec.size * spec.eye_height])
    # Output pixel o maps to input point p = centre + R(angle) @ (o - out_centre) / scale.
    a, b = cos / scale, -sin / scale
    c, d = sin / scale, cos / scale
    ox, oy = out_centre
    coeffs = (a, b, centre[0] - a * ox - b * oy, c, d, centre[1] - c * ox - d * oy)
    pil = Image.fromarray(np.ascontiguousarray(image))
    out = pil.transform((spec.size, spec.size), Image.AFFINE, coeffs, resample=Image.BILINEAR)
    return np.asarray(out)
