"""Layers shared by the models."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose mask, on the CPU, is drawn by NumPy's vectorised generator.

    torch's CPU generator draws one number at a time: on a bf16-capable CPU its dropout mask for
    the paper's conv features (64 x 9,216 values) cost 5-6% of a training step. The NumPy generator
    is seeded from torch's global generator, so a seeded run repeats exactly and a run resumed from
    its checkpoint (which keeps torch's generator state) continues exactly. Elsewhere (CUDA) and in
    eval mode it is ``nn.Dropout``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu":
            return super().forward(x)
        if self.p >= 1.0:
            return torch.zeros_like(x)
        seed = int(torch.randint(0, 2**62, (1,)))
        uniform = np.random.default_rng(seed).random(tuple(x.shape), dtype=np.float32)
        keep = torch.from_numpy(uniform) >= self.p
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.p))


class ExpressionModel(nn.Module):
    """What every expression network shares: the data settings it carries (``config`` with
    ``in_chans``, ``img_size`` and ``norm``; ``class_names``) and a replaceable output layer ``head``."""

    @property
    def data_config(self) -> dict:
        return {"input_size": (self.config["in_chans"], self.config["img_size"], self.config["img_size"]),
                "norm": self.config["norm"], "class_names": list(self.class_names)}

    def reset_classifier(self, num_classes: int, class_names=None) -> None:
        """Replace the last layer with a fresh one for ``num_classes`` outputs."""
        self.head = nn.Linear(self.head.in_features, num_classes)
        self.config["num_classes"] = num_classes
        self.class_names = list(class_names) if class_names else [f"class{i}" for i in range(num_classes)]
