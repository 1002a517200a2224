"""The one way images run through a model for scores: :func:`predict_logits` (batched, no grad,
optional mirror averaging and autocast), and :func:`evaluate_model` on a labelled set."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..data.faceset import FaceSet
from ..models.batches import run_in_batches
from .metrics import ClassificationMetrics, classification_metrics


def forward_logits(model: nn.Module, x: torch.Tensor, tta_flip: bool = False, autocast_dtype=None) -> torch.Tensor:
    """fp32 logits of one float batch ``x`` already on the model's device, under autocast when
    ``autocast_dtype`` is given; with ``tta_flip`` the log of the mean probability of ``x`` and its mirror."""
    with torch.autocast(x.device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
        out = model(x).float()
        if tta_flip:
            out = (out.softmax(1) + model(x.flip(-1)).float().softmax(1)).div(2).log()
    return out


def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 512,
                   tta_flip: bool = False, autocast_dtype=None) -> torch.Tensor:
    """Logits (N, C) in fp32 for uint8 (N, 1, H, W) ``images`` on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    return run_in_batches(lambda x: forward_logits(model, x, tta_flip, autocast_dtype), images, batch_size, device)


def evaluate_model(model, data: FaceSet, batch_size: int = 512, tta_flip: bool = False,
                   autocast_dtype=None) -> ClassificationMetrics:
    """Accuracy, recall and confusion of ``model`` on ``data`` (same class list assumed)."""
    x, _ = data.tensors()
    pred = predict_logits(model, x, batch_size, tta_flip, autocast_dtype).argmax(1).numpy()
    return classification_metrics(data.labels, pred, data.class_names)
