"""Build the canonical 3-D face that head pose is measured against (``faces/assets/canonical_face.npy``).

    python scripts/make_canonical_face.py [--faces 3000] [--out src/facsnet/faces/assets/canonical_face.npy]

The bundled face mesh runs on FER2013 Training faces (every k-th file in name order; each 48x48
crop padded by its own side of edge pixels and enlarged 2x so the detector sees a whole face);
the meshes are aligned by generalised Procrustes analysis (scale, rotation, shift) and averaged.
The mean is then turned so its mirror-symmetry plane is the y-z plane (left-right vertex pairs
found by mirroring) and made exactly symmetric; its pitch stays the average pitch of those faces.
Writes the (468, 3) float32 array (centred, unit RMS radius) and a JSON note beside it.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from facsnet.faces.detect import create_detector  # noqa: E402
from facsnet.faces.landmarks import FaceMesh  # noqa: E402
from facsnet.faces.pose import similarity_fit  # noqa: E402
from facsnet.utils import atomic_write_bytes, atomic_write_text  # noqa: E402

MIRROR = np.diag([-1.0, 1.0, 1.0])


def fer_files(root: Path, n: int) -> list[Path]:
    files = sorted((root / "train").glob("*/*.jpg"))
    if not files:
        raise SystemExit(f"no FER2013 Training images under {root}/train")
    return files[:: max(1, len(files) // n)][:n]


def mesh_of(path: Path, detector, mesh) -> np.ndarray | None:
    grey = np.asarray(Image.open(path).convert("L"))
    side = grey.shape[0]
    padded = cv2.copyMakeBorder(grey, side, side, side, side, cv2.BORDER_REPLICATE)
    rgb = cv2.cvtColor(cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2RGB)
    faces = detector.detect(rgb)
    if not faces:
        return None
    result = mesh.one(rgb, faces[0])
    return result.points if result.score > 0.9 else None


def normalised(shape: np.ndarray) -> np.ndarray:
    centred = shape - shape.mean(axis=0)
    return centred / np.sqrt((centred ** 2).sum(axis=1).mean())


def procrustes_mean(shapes: np.ndarray, rounds: int = 10) -> np.ndarray:
    """Generalised Procrustes: align every shape to the running mean, average, repeat."""
    shapes = np.stack([normalised(s) for s in shapes])
    mean = normalised(shapes.mean(axis=0))   # starts at the camera's view of the average face
    for _ in range(rounds):
        aligned = []
        for s in shapes:
            scale, rotation, shift = similarity_fit(s, mean)
            aligned.append(scale * s @ rotation.T + shift)
        new = normalised(np.mean(aligned, axis=0))
        _, r, _ = similarity_fit(new, mean)   # keep the mean's orientation from drifting
        new = new @ r.T
        if np.abs(new - mean).max() < 1e-7:
            break
        mean = new
    return mean


def mirror_pairs(shape: np.ndarray) -> np.ndarray:
    """For each vertex, the index of its mirror image (itself on the midline)."""
    mirrored = shape @ MIRROR
    d = ((shape[:, None, :] - mirrored[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=0)


def turn_to_symmetry(shape: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rotate so the mirror plane is x = 0 (the smallest turn, which leaves pitch alone), then symmetrise."""
    for _ in range(rounds):
        pairs = mirror_pairs(shape)
        diffs = shape - shape[pairs]
        w, v = np.linalg.eigh(diffs.T @ diffs)
        normal = v[:, -1] * np.sign(v[0, -1])
        axis = np.cross(normal, [1.0, 0.0, 0.0])
        sin, cos = np.linalg.norm(axis), float(normal[0])
        if sin < 1e-12:
            break
        k = axis / sin
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rotation = np.eye(3) + sin * kx + (1 - cos) * kx @ kx
        shape = shape @ rotation.T
    pairs = mirror_pairs(shape)
    symmetric = (shape + shape[pairs] @ MIRROR) / 2
    return normalised(symmetric), pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "FER2013"))
    ap.add_argument("--faces", type=int, default=3000)
    ap.add_argument("--out", default=str(ROOT / "src" / "facsnet" / "faces" / "assets" / "canonical_face.npy"))
    args = ap.parse_args()
    detector, mesh = create_detector(min_score=0.5), FaceMesh()
    files = fer_files(Path(args.data), args.faces)
    shapes = [m for m in (mesh_of(f, detector, mesh) for f in files) if m is not None]
    print(f"{len(shapes)} meshes from {len(files)} FER2013 Training faces")
    mean = procrustes_mean(np.stack(shapes))
    canonical, pairs = turn_to_symmetry(mean)
    out = Path(args.out)
    buf = io.BytesIO()
    np.save(buf, canonical.astype(np.float32), allow_pickle=False)
    atomic_write_bytes(out, buf.getvalue())   # the bundled asset: written whole or not at all
    note = {"source": "FER2013 Training", "files_tried": len(files), "meshes": len(shapes),
            "midline_vertices": int((pairs == np.arange(len(pairs))).sum()),
            "command": "python scripts/make_canonical_face.py " + " ".join(sys.argv[1:])}
    atomic_write_text(out.with_suffix(".json"), json.dumps(note, indent=1) + "\n")
    print(json.dumps(note))


if __name__ == "__main__":
    main()
