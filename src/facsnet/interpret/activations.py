"""Per-filter activation statistics over a dataset: the table of each image's strongest response
per filter, the top-N images of each filter, and the filters that never fire (dead filters)."""
from __future__ import annotations

import numpy as np
import torch

from ..models.batches import run_in_batches
from .backprop import rectified_map


@torch.no_grad()
def max_activation_table(model, images: torch.Tensor, layer: str, batch_size: int = 256) -> np.ndarray:
    """(N, F): for each image and filter of ``layer``, the maximum over positions of the
    rectified activation. ``images`` is (N, C, H, W) uint8 or float in [0, 1]."""
    was_training = model.training
    model.eval()
    try:
        table = run_in_batches(lambda x: rectified_map(model, x, layer).flatten(2).amax(2), images, batch_size)
    finally:
        model.train(was_training)
    return table.numpy() if len(images) else np.zeros((0, model.conv_layers()[layer].out_channels))


def activation_tables(model, images: torch.Tensor) -> dict[str, np.ndarray]:
    """:func:`max_activation_table` of every conv layer of ``model``, by layer name."""
    return {name: max_activation_table(model, images, name) for name in model.conv_layers()}


def live_filter_counts(tables: dict[str, np.ndarray], eps: float = 0.0) -> dict[str, int]:
    """Per layer, the filters that fire (activation > ``eps``) on at least one image."""
    return {name: int((~dead_filters(table, eps)).sum()) for name, table in tables.items()}


def dead_filters(table: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """(F,) True where a filter's activation never exceeds ``eps`` on any image."""
    return table.max(axis=0) <= eps


def top_n_images(table: np.ndarray, n: int) -> np.ndarray:
    """(F, n) image indices, strongest first, for each filter (ties broken by image index)."""
    if not 1 <= n <= table.shape[0]:
        raise ValueError(f"N={n} must lie in 1..{table.shape[0]} (the number of images)")
    order = np.argsort(-table, axis=0, kind="stable")   # (N, F)
    return order[:n].T
