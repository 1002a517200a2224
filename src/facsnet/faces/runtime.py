"""The runtime of the bundled TFLite face models (BlazeFace, the face mesh): their files checked by
SHA-256, run on OpenVINO where it is installed (it reads TFLite itself) or on LiteRT."""
from __future__ import annotations

import contextlib
import hashlib
import os
from importlib import resources
from pathlib import Path
from typing import Callable

import cv2
import numpy as np


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C-level writes to stderr (file descriptor 2) for the duration."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def bundled_asset(name: str, sha256: str, what: str) -> Path:
    """A model file shipped in ``faces/assets``, its SHA-256 checked."""
    path = Path(str(resources.files("facsnet") / "faces" / "assets" / name))
    if not path.is_file():
        raise FileNotFoundError(f"the bundled {what} is missing from this install ({path})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise ValueError(f"{path}: sha256 {digest} is not the bundled {what}'s")
    return path


def tflite_runner(path: Path, runtime: str, num_threads: int | None, what: str):
    """(runtime name, run function) for a TFLite model: OpenVINO where installed (``auto``), else LiteRT."""
    if runtime == "auto":
        import importlib.util

        runtime = "openvino" if importlib.util.find_spec("openvino") is not None else "litert"
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown {what} runtime {runtime!r}; choose auto, {', '.join(RUNTIMES)}")
    return runtime, RUNTIMES[runtime](path, num_threads or min(4, cv2.getNumberOfCPUs()))


def _litert_runner(path: Path, threads: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A TFLite model on the TFLite runtime (XNNPACK): x -> its two outputs, the longer first
    (BlazeFace: regressors, logits)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ImportError("the face models need the 'openvino' or 'ai-edge-litert' package") from exc
    with _quiet_stderr():  # the runtime prints "INFO: Created TensorFlow Lite XNNPACK delegate"
        interp = Interpreter(model_path=str(path), num_threads=threads)
        interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    reg, cls = (d["index"] for d in sorted(interp.get_output_details(), key=lambda d: d["shape"][-1], reverse=True))

    def run(x: np.ndarray):
        interp.set_tensor(inp, x)
        interp.invoke()
        return interp.get_tensor(reg), interp.get_tensor(cls)
    return run


def _openvino_runner(path: Path, threads: int) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A TFLite model on OpenVINO in fp32 (it reads the TFLite file): x -> its two outputs, the longer first."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                         "PERFORMANCE_HINT": "LATENCY",
                                                         "INFERENCE_NUM_THREADS": threads})
    reg, cls = sorted(compiled.outputs, key=lambda o: o.get_partial_shape()[-1].get_length(), reverse=True)
    request = compiled.create_infer_request()

    def run(x: np.ndarray):
        out = request.infer({0: x})
        return np.array(out[reg], copy=True), np.array(out[cls], copy=True)
    return run


RUNTIMES = {"openvino": _openvino_runner, "litert": _litert_runner}


def check_frame(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
