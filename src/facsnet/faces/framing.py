"""Measure how a set of face crops is framed, so inference can crop faces the same way.

Each crop is padded with its edge pixels (so the detector sees a whole face with some context),
the detector's eye keypoints are read back in crop coordinates, and the medians give an
:class:`~facsnet.faces.align.AlignSpec`. Using the same detector here and at inference makes the
two framings agree in that detector's own idea of where the eyes are.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .align import AlignSpec
from .detect import FaceDetector, create_detector


@dataclass(frozen=True)
class Framing:
    n: int                 # crops measured
    found: int             # crops in which a face was found
    eye_distance: float    # median inter-ocular distance / side
    eye_height: float      # median eye line / side, from the top
    eye_centre_x: float    # median eye midpoint / side, from the left
    roll_p10_p90: tuple[float, float]  # spread of the eye-line angle (degrees)

    def spec(self, size: int) -> AlignSpec:
        return AlignSpec(size, round(self.eye_distance, 3), round(self.eye_height, 3))

    def to_dict(self) -> dict:
        return asdict(self)


def measure_framing(crops: np.ndarray, detector: FaceDetector | None = None, pad_fraction: float = 1.0) -> Framing:
    """Framing of square grey crops (N, S, S) uint8."""
    detector = detector or create_detector()
    rows = []
    for crop in crops:
        side = crop.shape[0]
        pad = int(round(side * pad_fraction))
        big = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        faces = detector.detect(np.repeat(big[:, :, None], 3, axis=2))
        if not faces:
            continue
        face = faces[0]
        left, right = (face.left_eye - pad) / side, (face.right_eye - pad) / side
        rows.append((np.hypot(*(right - left)), (left[1] + right[1]) / 2, (left[0] + right[0]) / 2,
                     face.roll_degrees))
    if not rows:
        raise ValueError(f"no face found in any of {len(crops)} crops")
    a = np.asarray(rows)
    med = np.median(a, axis=0)
    return Framing(len(crops), len(rows), float(med[0]), float(med[1]), float(med[2]),
                   (float(np.percentile(a[:, 3], 10)), float(np.percentile(a[:, 3], 90))))


@dataclass(frozen=True)
class EyeOffset:
    """Where the face mesh puts the eyes, in the detector's terms (medians over a set of faces):
    ``ratio`` = mesh eye distance / detector eye distance; ``dx``, ``dy`` = mesh eye midpoint minus
    detector eye midpoint, along and across (down) the eye line, in detector eye distances."""
    ratio: float
    dx: float
    dy: float
    n: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def detector_eyes(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The eye points the detector would most likely give, from the mesh's (image-left, image-right) eyes."""
        v = np.asarray(right, np.float64) - np.asarray(left, np.float64)
        mesh_distance = float(np.hypot(*v))
        u = v / max(mesh_distance, 1e-9)
        down = np.array([-u[1], u[0]])
        distance = mesh_distance / self.ratio
        centre = (np.asarray(left) + np.asarray(right)) / 2 - (self.dx * u + self.dy * down) * distance
        return centre - u * distance / 2, centre + u * distance / 2


def measure_mesh_eyes(crops: np.ndarray, detector: FaceDetector | None = None, mesh=None,
                      pad_fraction: float = 1.0) -> EyeOffset:
    """:class:`EyeOffset` over square grey crops (N, S, S) uint8, each padded as in :func:`measure_framing`."""
    from .landmarks import FaceMesh

    detector, mesh = detector or create_detector(), mesh or FaceMesh()
    rows = []
    for crop in crops:
        pad = int(round(crop.shape[0] * pad_fraction))
        big = np.repeat(cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)[:, :, None], 3, axis=2)
        faces = detector.detect(big)
        if not faces:
            continue
        m = mesh.one(big, faces[0])
        if m.score < 0.5:
            continue
        d_left, d_right = faces[0].left_eye, faces[0].right_eye
        m_left, m_right = m.eyes
        v = d_right - d_left
        distance = float(np.hypot(*v))
        u, down = v / distance, np.array([-v[1], v[0]]) / distance
        shift = (m_left + m_right) / 2 - (d_left + d_right) / 2
        rows.append((float(np.hypot(*(m_right - m_left))) / distance, shift @ u / distance, shift @ down / distance))
    if not rows:
        raise ValueError(f"no face found in any of {len(crops)} crops")
    med = np.median(np.asarray(rows), axis=0)
    return EyeOffset(float(med[0]), float(med[1]), float(med[2]), len(rows))
