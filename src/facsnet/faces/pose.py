"""Head pose (yaw, pitch, roll in degrees) from a face mesh and a canonical 3-D face.

The mesh network gives each of its 468 points a depth, in the same pixel units as x and y, so
the pose is the rotation of the best similarity fit (Umeyama / Kabsch) of the canonical face onto
the face's mesh, taken over the points of the skull (brows, eyes, nose, cheeks, forehead) and not
the jaw or lips, which move with the expression.

The canonical face (``assets/canonical_face.npy``, 468 x 3) is the mean shape of the mesh over
FER2013 Training faces after generalised Procrustes alignment, turned so that its left-right
mirror symmetry plane is the y-z plane (``scripts/make_canonical_face.py``). Zero pitch is
therefore where those faces look on average: at the camera, as people do in photos.

Conventions, in image terms: ``yaw`` > 0 when the face turns towards the image's right (the nose
moves right), ``pitch`` > 0 when it tilts up (the nose moves up), ``roll`` > 0 when it tilts so the
eye on the image's right is lower (the same sign as ``roll_deg`` from the eye line). The rotation
from the canonical face to the camera is ``rotation_matrix(yaw, pitch, roll)``: pitch first, then
yaw, then roll in the image plane (camera axes: x right, y down, z away from the camera).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

CANONICAL_FILE = "canonical_face.npy"
NOSE_BASE = 2   # mesh vertex under the nose: points below it (lips, jaw) are left out of the fit


@dataclass(frozen=True)
class HeadPose:
    yaw: float     # degrees, > 0: turned towards the image's right
    pitch: float   # degrees, > 0: tilted up
    roll: float    # degrees, > 0: the image-right eye lower
    rmse: float    # fit residual over the skull points, as a fraction of the face's size

    def __str__(self) -> str:
        return f"yaw {self.yaw:+.1f} pitch {self.pitch:+.1f} roll {self.roll:+.1f}"


def _rx(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The 3x3 rotation of a face with this pose (degrees), in camera axes (x right, y down, z away)."""
    y, p, r = np.radians([yaw, pitch, roll])
    # With z pointing away from the camera, a positive turn about +y moves the (near) nose to the
    # left and one about +x moves it down; the minus signs give the image-terms conventions above.
    return _rz(r) @ _ry(-y) @ _rx(-p)


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation made by :func:`rotation_matrix`."""
    r = np.asarray(rotation, dtype=np.float64)
    b = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    a = np.arctan2(r[2, 1], r[2, 2])
    c = np.arctan2(r[1, 0], r[0, 0])
    return float(-np.degrees(b)), float(-np.degrees(a)), float(np.degrees(c))


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R and shift t minimising |s R source + t - target|^2 (Umeyama, 1991)."""
    src, dst = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, sigma, vt = np.linalg.svd(b.T @ a)
    d = np.ones(len(sigma))
    d[-1] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(d) @ vt
    scale = float((sigma * d).sum() / (a ** 2).sum())
    return scale, rotation, mu_d - scale * rotation @ mu_s


def canonical_path() -> Path:
    return Path(str(resources.files("facsnet") / "faces" / "assets" / CANONICAL_FILE))


@lru_cache(maxsize=1)
def canonical_face() -> np.ndarray:
    """The bundled canonical face: (468, 3), centred, unit RMS radius, frontal and upright."""
    path = canonical_path()
    if not path.is_file():
        raise FileNotFoundError(f"the canonical face is missing from this install ({path})")
    face = np.load(path, allow_pickle=False).astype(np.float64)
    if face.shape != (468, 3):
        raise ValueError(f"{path}: expected a (468, 3) array, got {face.shape}")
    return face


@lru_cache(maxsize=1)
def skull_points() -> np.ndarray:
    """Indices of the canonical face's points above the nose base (y down): brows, eyes, nose, forehead, cheeks."""
    face = canonical_face()
    return np.flatnonzero(face[:, 1] < face[NOSE_BASE, 1])


def orthographic_fit(model: np.ndarray, image_points: np.ndarray, rounds: int = 50) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale s, rotation R and 2-D shift t so the scaled orthographic view s (R model)[:, :2] + t
    best matches ``image_points`` (N, 2). Starts from a linear 3-D-to-2-D fit made a scaled
    rotation, then alternates: give each image point the depth the current fit predicts, and
    refit the similarity in 3-D; each round lowers the 2-D error."""
    model, xy = np.asarray(model, np.float64), np.asarray(image_points, np.float64)
    affine = (np.linalg.pinv(model - model.mean(axis=0)) @ (xy - xy.mean(axis=0))).T   # (2, 3)
    u, sigma, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt
    scale, rotation = float(sigma.mean()), np.vstack([rows, np.cross(rows[0], rows[1])])
    shift = np.append(xy.mean(axis=0), 0.0) - scale * rotation @ model.mean(axis=0)
    for _ in range(rounds):
        depth = scale * model @ rotation[2] + shift[2]
        new = similarity_fit(model, np.column_stack([xy, depth]))
        moved = abs(new[0] - scale) / scale + np.abs(new[1] - rotation).max()
        scale, rotation, shift = new
        if moved < 1e-9:
            break
    return scale, rotation, shift[:2]


def head_pose(points: np.ndarray) -> HeadPose:
    """The pose of one mesh (468, 3) in frame pixels, from the points' image positions (x, y).

    The mesh network's depths lean towards a frontal face when the head is turned (a 45-degree
    turn reads as about 30 from them), so only x and y are fitted, as a scaled orthographic view
    of the canonical face."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (468, 3):
        raise ValueError(f"expected a (468, 3) face mesh, got shape {points.shape}")
    idx = skull_points()
    canon = canonical_face()[idx]
    spread = points[idx, :2] - points[idx, :2].mean(axis=0) if np.isfinite(points).all() else None
    if spread is None or np.sqrt((spread ** 2).sum(axis=1).mean()) < 1e-6:   # no face to fit: no pose
        return HeadPose(float("nan"), float("nan"), float("nan"), float("nan"))
    scale, rotation, shift = orthographic_fit(canon, points[idx, :2])
    residual = points[idx, :2] - (scale * (canon @ rotation.T)[:, :2] + shift)
    size = scale * np.sqrt((canon ** 2).sum(axis=1).mean())
    yaw, pitch, roll = euler_angles(rotation)
    return HeadPose(yaw, pitch, roll, float(np.sqrt((residual ** 2).sum(axis=1).mean()) / max(size, 1e-9)))
