"""Emotion (or Action Unit) probabilities for aligned face crops, on OpenVINO, ONNX Runtime or PyTorch.

:class:`FaceClassifier` wraps a bundled model name, a checkpoint or an exported ``.onnx`` file,
knows the crop its weights expect (size, channels, framing) and returns probabilities in the
model's class order: a softmax over emotions, or for an AU model (``task == "au"``) one independent
sigmoid per Action Unit.

``backend="auto"`` takes the fastest runtime installed: OpenVINO, else ONNX Runtime, else PyTorch.
``precision="auto"`` runs in bf16 where the CPU computes it natively (AMX / AVX512_BF16; see
:mod:`facsnet.hardware`) and in fp32 elsewhere. A reduced-precision classifier checks itself on load
against the same runtime in fp32 (probabilities within ``PARITY_ATOL`` on a fixed batch) and falls
back to fp32, with a warning, if it disagrees.
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import torch

from ..utils import cache_dir
from ..faces.align import AlignSpec
from ..hardware import resolve_precision
from ..models.hub import DEFAULT_MODEL, framing_of, resolve_weights, weights_digest
from ..training.calibration import prior_corrected, prior_strength
from ..models.checkpoint import (class_prior_of, inference_settings, model_from_checkpoint, read_checkpoint,
                                 served_prior_strength)
from .onnx_export import OnnxModel, OpenVinoModel, export_onnx

log = logging.getLogger("facsnet")

BACKENDS = ("auto", "openvino", "onnx", "torch")
RUNTIME_MODULES = {"openvino": ("openvino", "onnx"), "onnx": ("onnxruntime", "onnx"), "torch": ("torch",)}
EXPORT_VERSION = "m2"   # bump when the exported metadata changes, so older cached exports are not reused
PARITY_ATOL = 0.05   # largest probability difference a bf16 classifier may show against fp32 on load


def backend_available(backend: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in RUNTIME_MODULES[backend])


def choose_backend(backend: str = "auto", onnx_file: bool = False) -> str:
    """``auto`` -> the fastest runtime installed (OpenVINO, ONNX Runtime, then PyTorch unless the
    model is an ``.onnx`` file); a named backend is checked to be installed."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "auto":
        order = ("openvino", "onnx") if onnx_file else ("openvino", "onnx", "torch")
        found = [b for b in order if backend_available(b)]
        if not found:
            raise ImportError("an .onnx model needs openvino or onnxruntime: pip install one of them")
        return found[0]
    if not backend_available(backend):
        raise ImportError(f"the {backend} backend needs {' and '.join(RUNTIME_MODULES[backend])}: pip install them")
    return backend


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TorchModel:
    """A PyTorch model in fp32 or bf16 (autocast, channels-last), on the CPU or a given device."""

    def __init__(self, model: torch.nn.Module, precision: str = "fp32", device: str | torch.device = "cpu"):
        self.precision, self.device = precision, torch.device(device)
        self.model = model.eval().to(self.device)
        self.class_names = list(model.class_names)
        self.input_size = tuple(model.data_config["input_size"])
        self.temperature = float(getattr(model, "temperature", 1.0))
        self.tta_flip = bool(getattr(model, "tta_flip", False))
        self.class_prior = getattr(model, "class_prior", None)
        if precision == "bf16":
            self.model = self.model.to(memory_format=torch.channels_last)

    def logits(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).to(self.device)
        bf16 = self.precision == "bf16"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
            if bf16:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.model(x).float().cpu().numpy()


def parity_batch(input_size: tuple[int, int, int], n: int = 32, seed: int = 0) -> np.ndarray:
    """A fixed batch of smooth random images (N, C, H, W) in [0, 1] for precision checks."""
    rng = np.random.default_rng(seed)
    c, h, w = input_size
    coarse = torch.from_numpy(rng.random((n, c, max(1, h // 6), max(1, w // 6)), dtype=np.float32))
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False).numpy()


class FaceClassifier:
    """Probabilities for (N, H, W) uint8 crops, or (N, H, W, 3) for a colour model."""

    def __init__(self, model: str | Path = DEFAULT_MODEL, backend: str = "auto", num_threads: int | None = None,
                 precision: str = "auto", tta_flip: bool | None = None, balanced: bool | float | None = None,
                 device: str = "cpu"):
        """``device``: ``cpu`` (the fastest installed runtime), or ``cuda``/``cuda:N``/``auto`` (a GPU
        when there is one; the PyTorch runtime runs there)."""
        from ..utils import pick_device

        self.device = pick_device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: this machine has no CUDA GPU (use cpu)")
        if self.device.type != "cpu":
            if backend not in ("auto", "torch"):
                raise ValueError(f"backend {backend!r} runs on the CPU; on {self.device} the classifier runs on torch")
            backend = "torch"
        self.source = str(model)
        is_onnx = str(model).endswith(".onnx")
        if is_onnx and backend == "torch":
            raise ValueError(f"{model}: an ONNX file runs on the openvino or onnx backend, not torch")
        self.backend = choose_backend(backend, onnx_file=is_onnx)
        # ONNX Runtime's CPU kernels have no bf16 convolution: it runs fp32 whatever was asked
        wanted = "fp32" if self.backend == "onnx" else resolve_precision(precision, self.device).precision
        ckpt, onnx_path = None, Path(model) if is_onnx else None
        if not is_onnx:
            path = resolve_weights(model)
            ckpt = read_checkpoint(path)
            self.framing, self.task = framing_of(ckpt, str(model)), ckpt.get("task", "emotion")
            if self.backend != "torch":
                onnx_path = self._cached_export(path, ckpt)
        self.model = self._runtime(ckpt, onnx_path, num_threads, wanted)
        self.class_names = list(self.model.class_names)
        self.input_size = tuple(self.model.input_size)
        if ckpt is None:  # an .onnx file describes itself
            self.task = self.model.task
            self.framing = self.model.framing or AlignSpec().resized(self.input_size[1])
        # how the weights are meant to be read (calibrated temperature, mirror averaging, training
        # class shares): from the checkpoint when there is one, else from the ONNX metadata
        if ckpt is not None:
            temperature, own_flip = inference_settings(ckpt)
            prior, served = class_prior_of(ckpt), served_prior_strength(ckpt)
        else:
            temperature, own_flip, prior = self.model.temperature, self.model.tta_flip, self.model.class_prior
            served = self.model.prior_strength
        emotion = self.task == "emotion"
        self.temperature = temperature if emotion else 1.0
        self.tta_flip = emotion and (tta_flip if tta_flip is not None else own_flip)   # AUs can be one-sided
        self.prior_strength = prior_strength(balanced, served if self.task == "emotion" else 0.0)
        self.prior = prior if self.prior_strength else None
        if self.prior_strength and (self.prior is None or self.task != "emotion"):
            raise ValueError(f"{model}: the balanced correction needs an emotion model that records its "
                             "training class counts")
        self.parity_gap = 0.0
        if wanted != "fp32":
            self._check_parity(self._runtime(ckpt, onnx_path, num_threads, "fp32"))

    @property
    def precision(self) -> str:
        return self.model.precision

    def _runtime(self, ckpt: dict | None, onnx_path: Path | None, num_threads: int | None, precision: str):
        if self.backend == "torch":
            return TorchModel(model_from_checkpoint(ckpt), precision, self.device)
        if self.backend == "openvino":
            return OpenVinoModel(onnx_path, num_threads=num_threads, precision=precision)
        return OnnxModel(onnx_path, num_threads=num_threads)

    def _check_parity(self, reference) -> None:
        """Compare the reduced-precision runtime with ``reference`` (the same in fp32) on a fixed
        batch; keep the reference instead if their probabilities differ by more than PARITY_ATOL."""
        x = parity_batch(tuple(reference.input_size))
        ours, ref = (self._predict(m, x) for m in (self.model, reference))
        self.parity_gap = float(np.abs(ours - ref).max())
        if self.parity_gap > PARITY_ATOL:
            log.warning("%s: %s %s probabilities differ from fp32 by %.3f (more than %.2f); using fp32",
                        self.source, self.backend, self.model.precision, self.parity_gap, PARITY_ATOL)
            self.model = reference

    def _cached_export(self, weights: Path, ckpt: dict) -> Path:
        """The ONNX export of ``weights``, made once and kept in the cache folder (keyed by content)."""
        digest = weights_digest(weights)
        out = cache_dir() / "onnx" / f"{weights.stem}-{digest}-{EXPORT_VERSION}.onnx"
        if not out.is_file():
            export_onnx(model_from_checkpoint(ckpt), out, framing=self.framing, task=self.task)
        return out

    @property
    def crop_spec(self) -> AlignSpec:
        return self.framing.resized(self.input_size[1])

    @property
    def grey(self) -> bool:
        return self.input_size[0] == 1

    def to_input(self, crops: np.ndarray) -> np.ndarray:
        """uint8 crops -> (N, C, H, W) float32 in [0, 1]."""
        x = np.asarray(crops, dtype=np.float32) * (1.0 / 255.0)
        return x[:, None] if x.ndim == 3 else np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def logits(self, crops: np.ndarray) -> np.ndarray:
        return self.model.logits(self.to_input(crops))

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        """(N, classes) probabilities in ``class_names`` order; an empty batch gives (0, classes)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return self._predict(self.model, self.to_input(crops))

    def _predict(self, runtime, x: np.ndarray) -> np.ndarray:
        """(N, C, H, W) inputs -> probabilities the way the model is read: temperature, mirror
        averaging and the optional prior correction."""
        probs = self.probabilities(runtime.logits(x))
        if self.tta_flip:   # the mean with the mirror image's probabilities
            probs = 0.5 * (probs + self.probabilities(runtime.logits(np.ascontiguousarray(x[..., ::-1]))))
        if self.prior is not None:   # (more) equally likely classes instead of the training faces' shares
            probs = prior_corrected(probs, self.prior, self.prior_strength).astype(np.float32)
        return probs

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Logits -> probabilities: one sigmoid per Action Unit for an AU model, else a softmax of
        the logits divided by the model's calibrated temperature."""
        logits = logits.astype(np.float64)
        if self.task == "au_intensity":          # a regression: FACS intensity 0 (absent) to 5
            return np.clip(logits, 0.0, 5.0).astype(np.float32)
        if self.task == "au":
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return softmax(logits / self.temperature).astype(np.float32)
