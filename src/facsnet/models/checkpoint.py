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


def save_checkpoint(path: str | Path, model, model_name: str, half: bool = False, **extra) -> None:
    """Write ``model`` (unwrapped) and ``extra`` plain data atomically; ``half`` stores fp16 weights."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    atomic_torch_save({"format": FORMAT, **model_record(model, model_name), "state_dict": state, **extra}, path)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
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


def model_from_checkpoint(ckpt: dict | str | Path, device="cpu"):
    """Rebuild the model a checkpoint describes, weights in fp32, in eval mode. A checkpoint whose
    declared architecture does not fit its weights is a :class:`CheckpointError` naming the file."""
    where = str(ckpt) if not isinstance(ckpt, dict) else "checkpoint"
    if not isinstance(ckpt, dict):
        ckpt = read_checkpoint(ckpt)
    try:
        model = create_model(ckpt["model_name"], class_names=ckpt["class_names"], **ckpt["model_config"])
        state = {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{where}: its declared model ({ckpt.get('model_name')}, "
                              f"{len(ckpt.get('class_names') or [])} classes) does not fit its weights ({detail})") from None
    model.task = ckpt.get("task", "emotion")  # "au": one sigmoid output per Action Unit
    model.temperature, model.tta_flip = inference_settings(ckpt)
    model.class_prior = class_prior_of(ckpt)
    return model.to(device).eval()
