"""Export a trained model to ONNX and run it with ONNX Runtime.

The exported graph takes (B, C, H, W) float32 images in [0, 1] (the model's own normalisation is
inside it, as in PyTorch) and returns logits; the class names, input size and framing travel in the
ONNX metadata, so an ONNX file is as self-describing as a checkpoint.
"""
from __future__ import annotations

import json
import math
import threading
import warnings
from pathlib import Path

import numpy as np
import torch

from ..faces.align import AlignSpec
from ..utils import atomic_write_bytes
from ..models.checkpoint import model_from_checkpoint, read_checkpoint
from ..models.hub import framing_of, resolve_weights
from ..utils import check_writable_file

OPSET = 17


def export_onnx(model: torch.nn.Module, path: str | Path, framing: AlignSpec | None = None,
                task: str | None = None) -> Path:
    """Write ``model`` (eval mode, fp32, CPU) as ONNX with a dynamic batch axis; returns ``path``."""
    import io

    model = model.float().cpu().eval()
    c, h, w = model.data_config["input_size"]
    meta = {"class_names": json.dumps(list(model.class_names)), "input_size": json.dumps([c, h, w]),
            "producer": "facsnet", "task": task or getattr(model, "task", "emotion"),
            "temperature": json.dumps(float(getattr(model, "temperature", 1.0))),
            "tta_flip": json.dumps(bool(getattr(model, "tta_flip", False))),
            "class_prior": json.dumps(getattr(model, "class_prior", None)),
            "prior_strength": json.dumps(float(getattr(model, "prior_strength", 0.0)))}
    if framing is not None:
        meta["framing"] = json.dumps({"eye_distance": framing.eye_distance, "eye_height": framing.eye_height})
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter needs no onnxscript
        torch.onnx.export(model, (torch.rand(1, c, h, w),), buf, dynamo=False, opset_version=OPSET,
                          input_names=["image"], output_names=["logits"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    import onnx

    proto = onnx.load_from_string(buf.getvalue())
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    path = Path(path)
    atomic_write_bytes(path, proto.SerializeToString())
    return path


def read_onnx_metadata(path: Path) -> dict:
    """The facsnet metadata of an exported ONNX file (class names, input size, task, framing,
    softmax temperature, mirror averaging, class prior and the strength of its correction)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises its own exception types
        raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if meta.get("producer") != "facsnet":
        raise ValueError(f"{path}: not exported by facsnet (no class names in its metadata)")
    framing = json.loads(meta["framing"]) if "framing" in meta else None
    input_size = tuple(json.loads(meta["input_size"]))
    settings = {"class_names": json.loads(meta["class_names"]), "input_size": input_size,
                "task": meta.get("task", "emotion"),
                "framing": AlignSpec(input_size[1], **framing) if framing else None,
                "temperature": float(json.loads(meta.get("temperature", "1.0"))),
                "tta_flip": bool(json.loads(meta.get("tta_flip", "false"))),
                "class_prior": json.loads(meta.get("class_prior", "null")),
                "prior_strength": float(json.loads(meta.get("prior_strength", "0.0")))}
    _check_served_settings(path, settings)
    return settings


def _check_served_settings(path: Path, settings: dict) -> None:
    """The checks a checkpoint's inference settings get, for metadata that may have been edited by hand."""
    t, prior, strength = settings["temperature"], settings["class_prior"], settings["prior_strength"]
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"{path}: temperature {t} in its metadata; it must be a positive number")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"{path}: prior_strength {strength} in its metadata; it must lie between 0 and 1")
    if prior is not None and (len(prior) != len(settings["class_names"])
                              or not all(isinstance(p, (int, float)) and p > 0 for p in prior)):
        raise ValueError(f"{path}: class_prior in its metadata must give one positive share per class "
                         f"({len(settings['class_names'])})")


class _ExportedModel:
    """What both runtimes share: the metadata an export carries."""
    def _read_metadata(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        meta = read_onnx_metadata(path)
        self.class_names, self.input_size = meta["class_names"], meta["input_size"]
        self.task, self.framing = meta["task"], meta["framing"]
        self.temperature, self.tta_flip = meta["temperature"], meta["tta_flip"]
        self.class_prior, self.prior_strength = meta["class_prior"], meta["prior_strength"]


class OnnxModel(_ExportedModel):
    """An exported facsnet model on ONNX Runtime (CPU, fp32): ``logits(images)`` like the PyTorch model."""
    precision = "fp32"

    def __init__(self, path: str | Path, num_threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        self._read_metadata(path)
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from None
        self._input = self.session.get_inputs()[0].name

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: np.ascontiguousarray(images, dtype=np.float32)})[0]


class OpenVinoModel(_ExportedModel):
    """An exported facsnet model on OpenVINO (CPU), in fp32 or bf16 (``precision``).

    bf16 runs the convolutions on the CPU's bf16 units (AMX / AVX512_BF16) with fp32 inputs and
    outputs; it is only fast where those exist (see :mod:`facsnet.hardware`).
    """
    def __init__(self, path: str | Path, num_threads: int | None = None, precision: str = "fp32"):
        import openvino as ov

        path = Path(path)
        self._read_metadata(path)
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"unknown precision {precision!r} for OpenVINO; choose fp32 or bf16")
        from ..hardware import cpu_info

        core = ov.Core()
        if precision == "bf16" and not (cpu_info().bf16_flags()
                                        and "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")):
            precision = "fp32"   # no bf16 arithmetic here (by the CPU's flags and OpenVINO's own view): say fp32
        config = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32", "PERFORMANCE_HINT": "LATENCY"}
        if num_threads:
            config["INFERENCE_NUM_THREADS"] = int(num_threads)
        try:
            compiled = core.compile_model(str(path), "CPU", config)
        except Exception as exc:  # openvino raises its own exception types
            if precision == "fp32":
                raise ValueError(f"{path}: OpenVINO could not compile this ONNX model ({exc})") from None
            precision, config["INFERENCE_PRECISION_HINT"] = "fp32", "f32"   # a bf16-only failure: fp32 then
            compiled = core.compile_model(str(path), "CPU", config)
        self.precision = precision
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()   # one request: calls from several threads take turns

    def logits(self, images: np.ndarray) -> np.ndarray:
        with self._lock:
            out = self._request.infer({0: np.ascontiguousarray(images, dtype=np.float32)})
            return np.array(out[0], dtype=np.float32, copy=True)   # the request reuses its output buffer


def export_checkpoint(model: str = "fer2013", out: str = "model.onnx") -> Path:
    """Export a bundled model or checkpoint to ONNX (framing and class names in its metadata)."""
    check_writable_file(out, (".onnx",))
    ckpt = read_checkpoint(resolve_weights(model))
    return export_onnx(model_from_checkpoint(ckpt), out, framing=framing_of(ckpt, str(model)),
                       task=ckpt.get("task", "emotion"))

