"""Optimizers and learning-rate schedules: the paper's Adam with Keras time decay, or SGD with
Nesterov momentum and a cosine schedule, each with an optional linear warm-up."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from .config import TrainConfig


def keras_time_decay(decay: float, warmup_steps: int = 0):
    """The lr factor at optimizer step ``step``: Keras' 1 / (1 + decay * step), after an optional
    linear warm-up from 1/warmup_steps to 1."""
    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
        return warm / (1.0 + decay * step)
    return factor


def cosine_decay(total_steps: int, warmup_steps: int = 0):
    """The lr factor at optimizer step ``step``: half a cosine from 1 to 0 over ``total_steps``,
    after the same optional linear warm-up."""
    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
        return warm * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / max(1, total_steps)))
    return factor


def make_optimizer(cfg: "TrainConfig", params, steps_per_epoch: int):
    """The optimizer and lr schedule a config names. The optimizer is the fused implementation
    (one kernel over all parameters; the same update as the per-tensor loop)."""
    if cfg.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    elif cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                                    weight_decay=cfg.weight_decay, fused=True)
    else:
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose adam or sgd")
    if cfg.schedule == "keras":
        factor = keras_time_decay(cfg.decay, cfg.warmup_steps)
    elif cfg.schedule == "cosine":
        factor = cosine_decay(cfg.epochs * steps_per_epoch, cfg.warmup_steps)
    else:
        raise ValueError(f"unknown lr schedule {cfg.schedule!r}; choose keras or cosine")
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
