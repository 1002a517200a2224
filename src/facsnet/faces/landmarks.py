"""468 facial landmarks per face from MediaPipe's face mesh, and a named subset for tables.

The mesh network (``face_landmark.tflite``, 192x192 RGB in, 468 points (x, y, z) and a face score
out) ships inside this package beside BlazeFace, taken unchanged from the same mediapipe 0.10.21
wheel (Apache-2.0, see ``assets/README.md``) and runs on the same CPU runtime (OpenVINO, else the
TFLite runtime). Each face is cut out the way MediaPipe does it: the detector's box, turned so the
eyes are level, enlarged 1.5 times to a square. The points come back in frame pixels; ``z`` is depth
in the same pixel units, relative to the face (smaller = nearer the camera).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .detect import Detection
from .runtime import bundled_asset, check_frame, tflite_runner
from .framing import EyeOffset

MESH_FILE = "face_landmark.tflite"
MESH_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
MESH_POINTS = 468
MESH_INPUT = 192
ROI_SCALE = 1.5   # MediaPipe's enlargement of the detector box

# A documented subset of the 468 mesh vertices, by name ("right" and "left" are the subject's:
# the right eye is on the image's left). These go into analysis tables as <name>_x, <name>_y.
NAMED_LANDMARKS: dict[str, int] = {
    "forehead": 10,
    "right_brow_outer": 70, "right_brow_mid": 105, "right_brow_inner": 107,
    "left_brow_inner": 336, "left_brow_mid": 334, "left_brow_outer": 300,
    "right_eye_outer": 33, "right_eye_top": 159, "right_eye_inner": 133, "right_eye_bottom": 145,
    "left_eye_inner": 362, "left_eye_top": 386, "left_eye_outer": 263, "left_eye_bottom": 374,
    "nose_bridge": 168, "nose_tip": 1, "nose_base": 2, "right_nostril": 98, "left_nostril": 327,
    "right_face_edge": 234, "left_face_edge": 454,
    "mouth_right": 61, "upper_lip_top": 0, "upper_lip_inner": 13, "lower_lip_inner": 14,
    "lower_lip_bottom": 17, "mouth_left": 291,
    "right_jaw": 172, "chin": 152, "left_jaw": 397,
}
# The mesh's eye centres in BlazeFace's terms, so that crops framed by the mesh's eyes match the
# framing measured with BlazeFace (medians over 2,425 FER2013 Training faces;
# `python scripts/measure_framing.py --mesh-eyes`, results/framing.json "mesh_eyes").
MESH_EYE_OFFSET = EyeOffset(ratio=1.0032, dx=-0.0093, dy=-0.0373, n=2425)
LANDMARK_COLUMNS = [f"{name}_{axis}" for name in NAMED_LANDMARKS for axis in ("x", "y")]


@dataclass(frozen=True)
class FaceMeshResult:
    """One face's mesh: ``points`` (468, 3) as (x, y, z) in frame pixels; ``score`` in [0, 1] that a
    face fills the cut-out (low when the detector's box held no face)."""

    points: np.ndarray
    score: float

    def named(self) -> dict[str, tuple[float, float]]:
        """The documented subset: name -> (x, y) in frame pixels."""
        return {n: (float(self.points[i, 0]), float(self.points[i, 1])) for n, i in NAMED_LANDMARKS.items()}

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """(image-left, image-right) eye centres: the mean of each eye's four named corners and lids."""
        right = self.points[[33, 133, 159, 145], :2].mean(axis=0)  # the subject's right eye, image left
        left = self.points[[362, 263, 386, 374], :2].mean(axis=0)
        return right, left


def roi_transform(centre, side: float, angle_deg: float, size: int = MESH_INPUT) -> np.ndarray:
    """The 2x3 affine map from frame pixels to the mesh input: a square of ``side`` pixels about
    ``centre``, turned by ``angle_deg`` (the eye line's angle), filling ``size`` x ``size``."""
    angle, scale = np.radians(angle_deg), size / side
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    # frame point p -> input point q = R(-angle) * scale * (p - centre) + size / 2
    m = np.array([[cos, sin, 0.0], [-sin, cos, 0.0]])
    m[:, 2] = size / 2.0 - m[:, :2] @ np.asarray(centre, dtype=np.float64)
    return m


def detection_roi(face: Detection) -> tuple[np.ndarray, float, float]:
    """MediaPipe's cut-out from a detection: the box's centre, its longer side x 1.5, the eye line's angle."""
    x, y, w, h = face.box
    return np.array([x + w / 2.0, y + h / 2.0]), max(w, h) * ROI_SCALE, face.roll_degrees


def mesh_roi(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The cut-out from a mesh (as MediaPipe tracks a face): the points' box, longer side x 1.5,
    the angle of the line between the outer eye corners."""
    xy = points[:, :2]
    low, high = xy.min(axis=0), xy.max(axis=0)
    dx, dy = xy[263] - xy[33]
    return (low + high) / 2.0, float((high - low).max()) * ROI_SCALE, float(np.degrees(np.arctan2(dy, dx)))


def with_mesh_eyes(face: Detection, mesh: FaceMeshResult, offset: EyeOffset = MESH_EYE_OFFSET) -> Detection:
    """The detection with its two eye keypoints taken from the mesh (in the detector's terms)."""
    keypoints = np.array(face.keypoints, dtype=np.float64, copy=True)
    keypoints[0], keypoints[1] = offset.detector_eyes(*mesh.eyes)
    return Detection(face.box, face.score, keypoints)


class FaceMesh:
    """The bundled face-mesh network on the CPU, for faces already found by a detector."""

    def __init__(self, num_threads: int | None = None, runtime: str = "auto", model_path: str | Path | None = None,
                 refine: int = 1):
        self.refine = refine
        path = Path(model_path) if model_path else bundled_asset(MESH_FILE, MESH_SHA256, "face-mesh model")
        self.runtime, self._run = tflite_runner(path, runtime, num_threads, "mesh")

    def __call__(self, rgb: np.ndarray, faces: list[Detection]) -> list[FaceMeshResult]:
        """One mesh per detected face, in the same order."""
        check_frame(rgb)
        return [self.one(rgb, f) for f in faces]

    def one(self, rgb: np.ndarray, face: Detection) -> FaceMeshResult:
        """The mesh of one face: a first pass in the detector's cut-out, then ``refine`` passes in
        the cut-out the mesh itself gives (the detector's box sits off-centre on a turned head;
        one more pass halves the yaw error at 45 degrees on turned test faces)."""
        result = self._in_roi(rgb, *detection_roi(face))
        for _ in range(self.refine):
            result = self._in_roi(rgb, *mesh_roi(result.points))
        return result

    def _in_roi(self, rgb: np.ndarray, centre, side: float, angle: float) -> FaceMeshResult:
        m = roi_transform(centre, max(side, 1.0), angle)
        crop = cv2.warpAffine(rgb, m, (MESH_INPUT, MESH_INPUT), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        points, logit = self._run(crop.astype(np.float32)[None] / 255.0)
        points = points.reshape(MESH_POINTS, 3).astype(np.float64)
        inverse = cv2.invertAffineTransform(m)
        xy = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
        z = points[:, 2] * np.hypot(*inverse[:, 0])   # input pixels -> frame pixels, as for x and y
        score = 1.0 / (1.0 + np.exp(-float(np.clip(logit.ravel()[0], -100, 100))))
        return FaceMeshResult(np.column_stack([xy, z]), score)
