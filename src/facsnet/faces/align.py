"""Rotate a face so the eyes are level, scale it and crop it to the model's input.

One function serves training data that carries landmarks (the original CK+ release) and
inference on photos, so a model always sees faces framed the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class AlignSpec:
    """Where the eyes land in the output crop, as fractions of its side."""

    size: int = 48
    eye_distance: float = 0.40  # inter-ocular distance / crop side
    eye_height: float = 0.36    # eye line / crop side, from the top


def eye_centres_from_landmarks68(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centres in image coordinates from the 68-point (iBUG) layout.

    "Left" is the eye on the image's left (the subject's right eye, points 36-41).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected 68 (x, y) landmarks, got shape {points.shape}")
    return points[36:42].mean(axis=0), points[42:48].mean(axis=0)


def align_face(image: np.ndarray, left_eye, right_eye, spec: AlignSpec = AlignSpec()) -> np.ndarray:
    """Crop ``image`` (H, W[, C]) uint8 so the eyes are level at ``spec``'s place; returns (size, size[, C])."""
    left = np.asarray(left_eye, dtype=np.float64)
    right = np.asarray(right_eye, dtype=np.float64)
    dx, dy = right - left
    dist = float(np.hypot(dx, dy))
    if dist < 1e-6:
        raise ValueError("eye positions coincide; cannot align")
    angle = np.arctan2(dy, dx)
    scale = spec.size * spec.eye_distance / dist  # output pixels per input pixel
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
