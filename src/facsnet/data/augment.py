"""Batched random flips and affine warps, applied on whatever device the batch lives on.

Doing augmentation as one ``affine_grid`` + ``grid_sample`` per batch keeps the data path
off the Python per-image loop, on the CPU and on a GPU alike.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """Ranges of the random transforms (the paper: flips and affine augmentation)."""

    flip: float = 0.5          # probability of a horizontal flip
    rotate: float = 10.0       # degrees, uniform in [-rotate, rotate]
    translate: float = 0.1     # fraction of the side, uniform in [-t, t] per axis
    scale: float = 0.1         # zoom uniform in [1 - s, 1 + s]
    shear: float = 5.0         # degrees, uniform in [-shear, shear]
    erase: float = 0.0         # probability of random erasing: one rectangle of 2-20% of the image set to noise

    def to_dict(self) -> dict:
        return asdict(self)

    def matrices(self, n: int, generator: torch.Generator, device) -> torch.Tensor:
        """(n, 2, 3) sampling matrices in normalised coordinates (output -> input)."""
        u = torch.rand(n, 6, generator=generator).to(device) * 2 - 1  # uniform [-1, 1]
        angle = u[:, 0] * math.radians(self.rotate)
        shear = u[:, 1] * math.radians(self.shear)
        zoom = 1 + u[:, 2] * self.scale
        tx, ty = u[:, 3] * self.translate * 2, u[:, 4] * self.translate * 2  # normalised coords span 2
        flip = torch.where(u[:, 5] < (2 * self.flip - 1), -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # input = R(angle) @ Shear @ diag(flip, 1) @ output / zoom + t
        a = (cos * flip) / zoom
        b = (-sin + cos * torch.tan(shear)) / zoom
        c = (sin * flip) / zoom
        d = (cos + sin * torch.tan(shear)) / zoom
        return torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Warp a float batch (B, C, H, W); border pixels fill what comes from outside."""
        theta = self.matrices(x.shape[0], generator, x.device).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return erase_rectangles(x, self.erase, generator) if self.erase > 0 else x


def erase_rectangles(x: torch.Tensor, p: float, generator: torch.Generator,
                     area=(0.02, 0.2), aspect=(0.3, 3.3)) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020): with probability ``p`` per image, one rectangle covering
    ``area`` of it (aspect ratio log-uniform in ``aspect``) is replaced by uniform noise in [0, 1]."""
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator)
    frac = area[0] + u[:, 0] * (area[1] - area[0])
    ratio = torch.exp(math.log(aspect[0]) + u[:, 1] * (math.log(aspect[1]) - math.log(aspect[0])))
    eh = (frac * h * w * ratio).sqrt().round().clamp(1, h)
    ew = (frac * h * w / ratio).sqrt().round().clamp(1, w)
    top, left = (u[:, 2] * (h - eh + 1)).floor(), (u[:, 3] * (w - ew + 1)).floor()
    rows, cols = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    inside = ((rows >= top.view(-1, 1, 1)) & (rows < (top + eh).view(-1, 1, 1))
              & (cols >= left.view(-1, 1, 1)) & (cols < (left + ew).view(-1, 1, 1)))
    mask = (inside & (u[:, 4] < p).view(-1, 1, 1)).unsqueeze(1).to(x.device)
    noise = torch.rand(x.shape, generator=generator).to(device=x.device, dtype=x.dtype)
    return torch.where(mask, noise, x)
