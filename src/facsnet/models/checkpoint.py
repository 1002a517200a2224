"""Self-describing checkpoints: weights beside model config, class names, training config,
metrics and the hash of the data they were trained on. Loading never executes code
(``torch.load(..., weights_only=True)``)."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .registry import create_model
from ..utils import atomic_torch_save

FORMAT = "facsnet-checkpoint-1"


class CheckpointError(ValueError):
    """A file that is not a usable facsnet checkpoint; the message names it."""


def model_record(model, model_name: str) -> dict:
    return {"model_name": model_name, "model_config": dict(model.config),
            "class_names": list(model.class_names)}


INT8_SCHEME = "int8, symmetric, one fp32 scale per output channel"


def save_checkpoint(path: str | Path, model, model_name: str, half: bool = False, int8: bool = False,
                    **extra) -> None:
    """Write ``model`` (unwrapped) and ``extra`` plain data atomically; ``half`` stores fp16 weights;
    ``int8`` stores conv and linear weights as int8 with one scale per output channel (the rest at
    fp16): about half the bytes of fp16, read back to fp32 by :func:`model_from_checkpoint`."""
    state, scales = {}, {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if int8 and quantizable(v):
            v, scales[k] = quantized_int8(v)
        elif (half or int8) and v.is_floating_point():
            v = v.half()
        state[k] = v.contiguous()
    if scales:
        extra["quantization"] = {"scheme": INT8_SCHEME, "scales": scales}
    atomic_torch_save({"format": FORMAT, **model_record(model, model_name), "state_dict": state, **extra}, path)


def quantizable(v: torch.Tensor) -> bool:
    """A conv or linear weight (two or more dimensions, floating point): what ``int8`` stores as int8."""
    return v.is_floating_point() and v.dim() >= 2


def quantized_int8(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 tensor, fp32 scale per output channel) with ``q * scale`` closest to ``v`` (round to nearest,
    symmetric: the largest magnitude of each output channel maps to 127)."""
    rows = v.float().reshape(v.shape[0], -1)
    scale = rows.abs().amax(1).clamp_min(1e-12) / 127
    q = torch.round(rows / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.reshape(v.shape), scale


def dequantized_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """fp32 weights from int8 ``q`` and its per-output-channel ``scale`` (the inverse of :func:`quantized_int8`)."""
    return (q.float().reshape(q.shape[0], -1) * scale.float()[:, None]).reshape(q.shape)


def bundled_bytes(state: dict[str, torch.Tensor], int8: bool = False) -> int:
    """What ``state`` weighs as bundled: 2 bytes a floating-point number (fp16); with ``int8``, 1 byte
    a conv or linear weight plus 4 bytes a scale (one per output channel)."""
    return sum(v.numel() + 4 * v.shape[0] if int8 and quantizable(v) else v.numel() * 2
               for v in state.values() if v.is_floating_point())


def state_in_fp32(ckpt: dict, where: str = "checkpoint") -> dict[str, torch.Tensor]:
    """A checkpoint's weights as fp32 tensors (fp16 ones widened, int8 ones multiplied by their scales).
    An int8 tensor without its scale, or a scale without its tensor, is a :class:`CheckpointError`."""
    scales = (ckpt.get("quantization") or {}).get("scales") or {}
    stored = ckpt["state_dict"]
    unscaled = [k for k, v in stored.items() if v.dtype == torch.int8 and k not in scales]
    orphans = sorted(set(scales) - set(stored))
    if unscaled:
        raise CheckpointError(f"{where}: a damaged int8 record (int8 weights without a scale: {', '.join(unscaled)})")
    if orphans:
        raise CheckpointError(f"{where}: a damaged int8 record (scales for missing weights: {', '.join(orphans)})")
    state = {}
    for k, v in stored.items():
        if k in scales:
            if v.dtype != torch.int8 or v.dim() == 0 or tuple(scales[k].shape) != (v.shape[0],):
                raise CheckpointError(f"{where}: {k} is stored as {v.dtype} {tuple(v.shape)} with "
                                      f"{tuple(scales[k].shape)} scales, not int8 with one scale per output channel")
            v = dequantized_int8(v, scales[k])
        state[k] = v.float() if v.is_floating_point() else v
    return state


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with path.open("rb") as fh:
        head = fh.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):   # torch's zip archive, or a legacy pickle
        raise CheckpointError(f"{path}: not a PyTorch checkpoint file ({'empty' if not head else 'another format'}, "
                              "or damaged)")
    try:
        with warnings.catch_warnings():           # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling refused or the file is damaged
        raise CheckpointError(f"{path}: not a loadable checkpoint ({_load_failure(exc)})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a facsnet checkpoint (missing format tag {FORMAT!r})")
    missing = [k for k in ("model_name", "model_config", "class_names", "state_dict") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: a damaged facsnet checkpoint (missing {', '.join(missing)})")
    return ckpt


def _load_failure(exc: Exception) -> str:
    """Why torch.load failed, in one line: code refused by the weights-only loader, or a damaged file."""
    text = str(exc)
    if "Weights only load failed" in text:
        detail = next((ln.strip() for ln in text.splitlines() if "WeightsUnpickler error" in ln or
                       "Unsupported" in ln), "")
        return "it holds Python objects other than weights, which are never loaded" + (
            f"; {detail}" if detail and "Unsupported" in detail else "")
    return text.splitlines()[0] if text else type(exc).__name__


def inference_settings(ckpt: dict) -> tuple[float, bool]:
    """How a checkpoint's outputs are meant to be read: the softmax temperature fitted on held-out
    faces (``calibration.temperature``, 1.0 when uncalibrated) and whether predictions average the
    mirror image (``inference.tta_flip``)."""
    temperature = float((ckpt.get("calibration") or {}).get("temperature", 1.0))
    if not (temperature > 0 and temperature < float("inf")):
        raise CheckpointError(f"checkpoint: calibration temperature {temperature} is not a positive number")
    return temperature, bool((ckpt.get("inference") or {}).get("tta_flip", False))


def class_prior_of(ckpt: dict) -> list[float] | None:
    """The share of each class (in the model's order) among the faces it was trained on, from the
    data record in the checkpoint; None when the checkpoint does not say."""
    counts = ((ckpt.get("data") or {}).get("train") or {}).get("class_counts")
    names = ckpt.get("class_names") or []
    if not isinstance(counts, dict) or not names or any(not counts.get(c) for c in names):
        return None
    total = sum(float(counts[c]) for c in names)
    return [float(counts[c]) / total for c in names]


def served_prior_strength(ckpt: dict) -> float:
    """How far a checkpoint asks its probabilities to be corrected for its training class prior
    (``inference.prior_strength``, chosen on held-out faces; 0, no correction, when it does not say):
    the strength that ``balanced=None`` means (:func:`facsnet.training.calibration.prior_strength`)."""
    value = (ckpt.get("inference") or {}).get("prior_strength", 0.0)
    try:
        strength = float(value)
    except (TypeError, ValueError):
        strength = float("nan")
    if not 0.0 <= strength <= 1.0:
        raise CheckpointError(f"checkpoint: inference.prior_strength {value!r} is not a number between 0 and 1")
    if strength and class_prior_of(ckpt) is None:
        raise CheckpointError("checkpoint: inference.prior_strength asks for a class-prior correction, but the "
                              "checkpoint does not record the training class counts it needs")
    return strength


def record_prior_strength(path: str | Path, strength: float, chosen: dict | None = None) -> None:
    """Write ``strength`` into the checkpoint at ``path`` as the class-prior correction it is served with
    (``inference.prior_strength``), with ``chosen`` (how it was chosen) beside it; weights untouched,
    the file replaced atomically."""
    ckpt = read_checkpoint(path)
    inference = {k: v for k, v in (ckpt.get("inference") or {}).items() if k != "prior_strength_chosen"}
    ckpt["inference"] = {**inference, "prior_strength": strength, **({"prior_strength_chosen": chosen} if chosen else {})}
    try:                                        # refused before anything is written
        ckpt["inference"]["prior_strength"] = served_prior_strength(ckpt)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {str(exc).removeprefix('checkpoint: ')}") from None
    if isinstance(ckpt.get("calibration"), dict) and "prior_strength" in ckpt["calibration"]:   # calibrate's copy
        ckpt["calibration"] = {**ckpt["calibration"], "prior_strength": ckpt["inference"]["prior_strength"],
                               "prior_strength_rule": (chosen or {}).get("rule", "given")}
    atomic_torch_save(ckpt, path)


def model_from_checkpoint(ckpt: dict | str | Path, device="cpu", where: str | None = None):
    """Rebuild the model a checkpoint describes, weights in fp32, in eval mode. A checkpoint whose
    declared architecture does not fit its weights is a :class:`CheckpointError` naming the file
    (``where``: the file a checkpoint given as a dict was read from)."""
    where = where or (str(ckpt) if not isinstance(ckpt, dict) else "checkpoint")
    if not isinstance(ckpt, dict):
        ckpt = read_checkpoint(ckpt)
    state = state_in_fp32(ckpt, where)
    try:
        model = create_model(ckpt["model_name"], class_names=ckpt["class_names"], **ckpt["model_config"])
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{where}: its declared model ({ckpt.get('model_name')}, "
                              f"{len(ckpt.get('class_names') or [])} classes) does not fit its weights ({detail})") from None
    model.task = ckpt.get("task", "emotion")  # "au": one sigmoid output per Action Unit
    model.temperature, model.tta_flip = inference_settings(ckpt)
    model.class_prior = class_prior_of(ckpt)
    model.prior_strength = served_prior_strength(ckpt)
    return model.to(device).eval()
