"""Shared fixtures: small generated datasets (always available) and the real data (maybe)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REAL_DATA = Path(os.environ.get("FACSNET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def _shared_model_cache(tmp_path_factory):
    """ONNX exports of the bundled weights, made once for the session: their names carry the weights'
    digest, so sharing them cannot hand a test stale files (the bf16 probe cache stays per test, since
    tests fake CPUs)."""
    root = tmp_path_factory.mktemp("model-cache")
    (root / "onnx").mkdir()
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch, _shared_model_cache):
    """Every test gets its own dataset cache, so no test depends on another's leftovers; exported
    models are shared (see ``_shared_model_cache``)."""
    cache = tmp_path_factory.mktemp("cache")
    (cache / "onnx").symlink_to(_shared_model_cache / "onnx", target_is_directory=True)
    monkeypatch.setenv("FACSNET_CACHE", str(cache))


def realdata(*parts: str):
    """Skip unless ``../shared/data/<parts>`` exists."""
    path = REAL_DATA.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"real data not present: {path} (../shared/data is absent)")


def toy_face(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A grey 'face' whose class is written in where a bright bar sits, plus noise."""
    img = rng.normal(110, 20, (size, size))
    row = 6 + 5 * label
    img[row:row + 4, 8:40] += 110
    return img.clip(0, 255).astype(np.uint8)


def write_class_folder(root: Path, classes=("happy", "sad", "angry"), per_class: int = 12,
                       subjects: int = 4, seed: int = 0) -> Path:
    """root/<class>/S00k_001_0000000i.png with toy faces; subjects encoded CK+-style."""
    rng = np.random.default_rng(seed)
    for c_i, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            s = i % subjects
            Image.fromarray(toy_face(c_i, rng)).save(root / c / f"S{s + 1:03d}_{c_i + 1:03d}_{i:08d}.png")
    return root


@pytest.fixture
def toy_folder(tmp_path) -> Path:
    return write_class_folder(tmp_path / "toy")


def hours_pass_after_each_epoch(monkeypatch):
    """Make each epoch seem to take an hour to the time limit: saving last.pt at an epoch's end moves the clock."""
    import facsnet.training.loop as loop

    offset = [0.0]
    real_clock, real_save = loop.time.perf_counter, loop.save_checkpoint

    class Clock:
        @staticmethod
        def perf_counter():
            return real_clock() + offset[0]

    def save(path, *args, **kwargs):
        if path.name == "last.pt":
            offset[0] += 3600.0
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr(loop, "time", Clock)
    monkeypatch.setattr(loop, "save_checkpoint", save)
