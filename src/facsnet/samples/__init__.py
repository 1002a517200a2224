"""Public-domain face photos shipped with the package, for the README's main command and tests.

See SOURCES.md: never FER2013 or CK+ images, whose licences forbid redistribution."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLES = ("astronaut.jpg", "grace_hopper.jpg", "group.jpg")     # the photos `facsnet analyze` takes by default
CLIP = "clip.mp4"       # 3 s, 480x360, H.264: the two portraits drifting and tilting (make_video, seed 3)


def sample_path(name: str) -> Path:
    if name not in (*SAMPLES, CLIP):
        raise ValueError(f"no bundled sample {name!r}; bundled: {', '.join((*SAMPLES, CLIP))}")
    return Path(str(resources.files("facsnet") / "samples" / name))


def sample_paths() -> list[Path]:
    return [sample_path(n) for n in SAMPLES]


def face_patch(name: str = "astronaut.jpg"):
    """The face region (RGB uint8) of a bundled portrait, for composing test scenes."""
    import numpy as np
    from PIL import Image

    boxes = {"astronaut.jpg": (120, 20, 330, 250), "grace_hopper.jpg": (110, 80, 420, 400)}
    if name not in boxes:
        raise ValueError(f"no face patch for {name!r}; choose from {', '.join(boxes)}")
    with Image.open(sample_path(name)) as img:
        return np.asarray(img.convert("RGB").crop(boxes[name]))


def make_video(path, n_frames: int = 60, size: tuple[int, int] = (640, 480), faces: int = 1,
               fps: float = 30.0, face_height: int = 200, seed: int = 0) -> Path:
    """Write a video of ``faces`` bundled portraits drifting and tilting (up to +-10 degrees) over a
    textured background; ``faces=0`` gives the background alone. For tests and benchmarks."""
    import cv2
    import numpy as np

    w, h = size
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.integers(60, 200, (h, w, 3), dtype=np.uint8), (0, 0), 6)
    patches = []
    for i in range(faces):
        patch = face_patch(("astronaut.jpg", "grace_hopper.jpg")[i % 2])
        scale = face_height / patch.shape[0] / (1 + 0.3 * (i // 2))
        patches.append(cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise ValueError(f"{path}: cannot write a video here")
    slots = max(1, faces)
    for t in range(n_frames):
        frame = background.copy()
        for i, patch in enumerate(patches):
            ph, pw = patch.shape[:2]
            angle = 10 * np.sin(2 * np.pi * t / 90 + i)
            rot = cv2.warpAffine(patch, cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, 1.0), (pw, ph),
                                 borderMode=cv2.BORDER_REFLECT)
            cx = int((i + 0.5) * w / slots - pw / 2 + 20 * np.sin(2 * np.pi * t / 60))
            cy = int(h / 2 - ph / 2 + 15 * np.cos(2 * np.pi * t / 75))
            x0, y0 = max(0, cx), max(0, cy)
            x1, y1 = min(w, cx + pw), min(h, cy + ph)
            frame[y0:y1, x0:x1] = rot[y0 - cy:y1 - cy, x0 - cx:x1 - cx]
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def copy_samples(folder: str | Path) -> list[Path]:
    """Copy the bundled photos and clip into ``folder`` (made if absent); returns the copies."""
    import shutil

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(sample_path(n), folder / n)) for n in (*SAMPLES, CLIP)]
