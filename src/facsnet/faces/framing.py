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
