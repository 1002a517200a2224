"""The small training loop every head and helper network shares: Adam over shuffled minibatches.

The transfer heads (on frozen features or fine-tuned end to end), the micro-expression CNN and its
LSTM all fit through :func:`fit_minibatches`; what differs between them (the model, the loss, the
augmentation) lives in the ``batch_loss`` they pass. The emotion CNN's long runs use
:func:`facsnet.training.train`, which adds schedules, checkpoints, resuming and progress.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable

import torch


def minibatches(n: int, batch_size: int | None, generator: torch.Generator | None = None,
                device: torch.device | None = None) -> Iterable[torch.Tensor | None]:
    """One epoch's batches: a fresh shuffle of 0..n-1 cut into ``batch_size`` pieces (``None``: one
    full batch, given as ``None``)."""
    if batch_size is None:
        return [None]
    order = torch.randperm(n, generator=generator)
    if device is not None:
        order = order.to(device)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def fit_minibatches(parameters, batch_loss: Callable[[torch.Tensor | None], torch.Tensor], n: int, epochs: int,
                    lr: float, batch_size: int | None = None, generator: torch.Generator | None = None,
                    weight_decay: float = 0.0, device: torch.device | None = None,
                    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> None:
    """Adam at ``lr`` for ``epochs`` passes over ``n`` examples: ``batch_loss(indices)`` is the loss
    of one batch (``indices`` None for a full batch), computed inside ``context()`` (e.g. autocast)."""
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        for idx in minibatches(n, batch_size, generator, device):
            with context():
                loss = batch_loss(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
