"""Mixup (Zhang et al., 2018): train on convex mixtures of two faces and of their targets.

Each batch is mixed with a shuffled copy of itself, ``w * x + (1 - w) * x[partner]``, and the loss is
the same mixture of the two targets' losses. The weight ``w`` is drawn from Beta(alpha, alpha) by a
generator keyed on (seed, rank, epoch, step), so a resumed run draws the weights it would have drawn.
"""
from __future__ import annotations

import numpy as np
import torch


def mixup_weight(alpha: float, seed: int, rank: int, epoch: int, step: int) -> float:
    """The mixing weight of one step: Beta(alpha, alpha), the same for the same step of a run."""
    if alpha <= 0:
        raise ValueError(f"mixup = {alpha}: must be greater than 0 to mix")
    return float(np.random.default_rng([seed % 2**32, rank, epoch, step]).beta(alpha, alpha))


def mix_batch(x: torch.Tensor, weight: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``weight * x + (1 - weight) * x[partner]`` and the partner of each face (a permutation)."""
    partner = torch.randperm(x.shape[0], generator=generator).to(x.device)
    return x.mul(weight).add_(x[partner], alpha=1.0 - weight), partner
