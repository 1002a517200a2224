"""Turn a photographed face by known angles: the test set for head pose.

The face's mesh (468 points with depth) plus a ring of points around it (hair, ears, neck, carried
at the depth of the face's outline) is cut into triangles; each triangle of the photo is moved
where the turned mesh puts it (orthographic view, farthest triangles drawn first, triangles
turned away from the camera not drawn). A face photographed near-frontally and turned by
``rotation_matrix(yaw, pitch, roll)`` then has a known pose relative to the original.
"""
from __future__ import annotations

import cv2
import numpy as np

RINGS = (1.2, 1.45, 1.75)   # rings around the face, as multiples of the outline's distance from the centre
HEAD_CURVE = 1.0            # depth gained per pixel outwards beyond the outline: the head curves back


def _with_rings(points: np.ndarray) -> np.ndarray:
    """The mesh plus rings around its outline that curve back as a head does (hair, ears, neck)."""
    xy = points[:, :2]
    hull = cv2.convexHull(xy.astype(np.float32), returnPoints=False).ravel()
    centre = xy.mean(axis=0)
    out = [points]
    for k in RINGS:
        ring_xy = centre + k * (xy[hull] - centre)
        beyond = (k - 1) * np.linalg.norm(xy[hull] - centre, axis=1)
        out.append(np.column_stack([ring_xy, points[hull, 2] + HEAD_CURVE * beyond]))
    return np.vstack(out)


def turn_face(rgb: np.ndarray, points: np.ndarray, rotation: np.ndarray, background: int = 128) -> np.ndarray:
    """``rgb`` with the face whose mesh is ``points`` (468, 3) turned by ``rotation`` (3x3) about its centre."""
    src = _with_rings(np.asarray(points, dtype=np.float64))
    centre = src[:468].mean(axis=0)
    dst = (src - centre) @ np.asarray(rotation).T + centre
    triangles = delaunay(src[:, :2])
    depth = dst[triangles, 2].mean(axis=1)
    out = np.full_like(rgb, background)
    h, w = rgb.shape[:2]
    for tri in triangles[np.argsort(-depth)]:   # farthest first
        s, d = src[tri, :2].astype(np.float32), dst[tri, :2].astype(np.float32)
        if _signed_area(s) * _signed_area(d) <= 0:   # turned away from the camera
            continue
        x0, y0 = np.floor(d.min(axis=0)).astype(int)
        x1, y1 = np.ceil(d.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.array([x0, y0], np.float32))
        patch = cv2.warpAffine(rgb, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((d - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, shift=4)
        region = out[y0:y1, x0:x1]
        region[mask > 0] = patch[mask > 0]
    return out


def delaunay(xy: np.ndarray) -> np.ndarray:
    """Delaunay triangles (M, 3) of points (N, 2), as indices into ``xy`` (OpenCV's Subdiv2D)."""
    low, high = xy.min(axis=0) - 1, xy.max(axis=0) + 1
    subdiv = cv2.Subdiv2D((int(low[0]), int(low[1]), int(high[0] - low[0]) + 2, int(high[1] - low[1]) + 2))
    index = {}
    for i, (x, y) in enumerate(xy.astype(np.float32)):
        subdiv.insert((float(x), float(y)))
        index.setdefault((float(x), float(y)), i)
    out = []
    for t in subdiv.getTriangleList().reshape(-1, 3, 2):
        keys = [(float(x), float(y)) for x, y in t.astype(np.float32)]
        if all(k in index for k in keys):      # leaves out triangles touching Subdiv2D's outer corners
            out.append([index[k] for k in keys])
    return np.array(out, dtype=np.int64)


def _signed_area(t: np.ndarray) -> float:
    return float((t[1, 0] - t[0, 0]) * (t[2, 1] - t[0, 1]) - (t[2, 0] - t[0, 0]) * (t[1, 1] - t[0, 1]))
