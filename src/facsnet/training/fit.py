"""The one training loop: optimizer steps over batches, and the small fit built on it.

:func:`optimizer_steps` is the only place in the package where a loss is back-propagated and an
optimizer stepped. :func:`facsnet.training.train` (the emotion CNN's long runs: schedules,
checkpoints every epoch, resuming, progress, DDP) calls it once per epoch; :func:`fit_minibatches`
(Adam over shuffled minibatches) calls it for the transfer heads, the end-to-end AU learner, the
micro-expression CNN and its LSTM. What differs between them (model, loss, augmentation, precision)
lives in the ``batch_loss`` they pass.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

import torch

BatchLoss = Callable[[Any], torch.Tensor]   # one batch as the batches give it (indices, or (step, indices))


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


def optimizer_steps(batches: Iterable[Any], batch_loss: BatchLoss, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                    after_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """One optimizer step per batch: ``batch_loss(batch)`` computed inside ``context()`` (e.g.
    autocast), back-propagated, stepped, then the ``scheduler`` stepped and ``after_step(i)`` called.
    Returns the sum of the batch losses (a detached tensor: no device sync per step)."""
    total = None
    for i, idx in enumerate(batches):
        with context():
            loss = batch_loss(idx)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total = loss.detach() if total is None else total + loss.detach()
        if after_step is not None:
            after_step(i)
    return total if total is not None else torch.zeros(())


def fit_minibatches(parameters, batch_loss: BatchLoss, n: int, epochs: int,
                    lr: float, batch_size: int | None = None, generator: torch.Generator | None = None,
                    weight_decay: float = 0.0, device: torch.device | None = None,
                    context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> None:
    """Adam at ``lr`` for ``epochs`` passes over ``n`` examples: ``batch_loss(indices)`` is the loss
    of one batch (``indices`` None for a full batch), computed inside ``context()`` (e.g. autocast)."""
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        optimizer_steps(minibatches(n, batch_size, generator, device), batch_loss, optimizer, context=context)
