"""Export a trained model to ONNX and run it with ONNX Runtime.

The exported graph takes (B, C, H, W) float32 images in [0, 1] (the model's own normalisation is
inside it, as in PyTorch) and returns logits; the class names, input size and framing travel in the
ONNX metadata, so an ONNX file is as self-describing as a checkpoint.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from ..faces.align import AlignSpec
from ..utils import atomic_write_bytes

OPSET = 17


def export_onnx(model: torch.nn.Module, path: str | Path, framing: AlignSpec | None = None,
                task: str | None = None) -> Path:
    """Write ``model`` (eval mode, fp32, CPU) as ONNX with a dynamic batch axis; returns ``path``."""
    import io

    model = model.float().cpu().eval()
    c, h, w = model.data_config["input_size"]
    meta = {"class_names": json.dumps(list(model.class_names)), "input_size": json.dumps([c, h, w]),
            "producer": "facsnet", "task": task or getattr(model, "task", "emotion")}
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


class OnnxModel:
    """An exported facsnet model on ONNX Runtime (CPU): ``logits(images)`` like the PyTorch model."""

    def __init__(self, path: str | Path, num_threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: not a loadable ONNX model ({exc})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get("producer") != "facsnet":
            raise ValueError(f"{path}: not exported by facsnet (no class names in its metadata)")
        self.class_names = json.loads(meta["class_names"])
        self.input_size = tuple(json.loads(meta["input_size"]))
        self.task = meta.get("task", "emotion")
        framing = json.loads(meta["framing"]) if "framing" in meta else None
        self.framing = AlignSpec(self.input_size[1], **framing) if framing else None
        self._input = self.session.get_inputs()[0].name

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: np.ascontiguousarray(images, dtype=np.float32)})[0]
