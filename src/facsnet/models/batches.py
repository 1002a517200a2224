"""The one way images run through a network in bulk: in batches, without gradients, results on the CPU.

Prediction (:func:`facsnet.training.predict.predict_logits`), transfer features, the micro-expression
encoder and the interpretability tables all call :func:`run_in_batches` with the function of the
network they need (logits, conv features, dense features, a layer's rectified map)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

Output = torch.Tensor | tuple[torch.Tensor, ...]


def unit_float(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Images as float32: uint8 scaled to [0, 1], floats taken as they are (already in [0, 1])."""
    x = torch.as_tensor(x)
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()


@torch.no_grad()
def run_in_batches(fn: Callable[[torch.Tensor], Output], images: torch.Tensor | np.ndarray, batch_size: int = 512,
                   device: torch.device | str | None = None) -> Output:
    """``fn`` over ``images`` (N, ...) in pieces of ``batch_size``: each piece moved to ``device``, then
    made float32 in [0, 1] there (:func:`unit_float`); the outputs (a tensor or a tuple of tensors) joined on the CPU
    in fp32. No images: an empty tensor."""
    pieces = []
    for start in range(0, len(images), batch_size):
        piece = torch.as_tensor(images[start:start + batch_size]).to(device, non_blocking=True)
        out = fn(unit_float(piece))        # scaled where it runs, as the training batches are
        pieces.append(tuple(o.float().cpu() for o in out) if isinstance(out, tuple) else out.float().cpu())
    if not pieces:
        return torch.empty(0)
    if isinstance(pieces[0], tuple):
        return tuple(torch.cat(part) for part in zip(*pieces))
    return torch.cat(pieces)
