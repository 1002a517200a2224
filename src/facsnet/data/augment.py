"""Batched random flips and affine warps, applied on whatever device the batch lives on, and the
degradations of faces found in the field (blur, low resolution, JPEG artefacts, tone curves).

Doing augmentation as one ``affine_grid`` + ``grid_sample`` per batch keeps the data path
off the Python per-image loop, on the CPU and on a GPU alike; only the JPEG round trip goes image
by image (through Pillow, about 40 us for a 48x48 face).
"""
from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass

import numpy as np

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
    # Field degradations, each applied to an image with this probability (0: off):
    blur: float = 0.0          # Gaussian blur, sigma uniform in [0.3, 1.5] px
    lowres: float = 0.0        # down to a side of 12-36 px and back up (bilinear)
    jpeg: float = 0.0          # JPEG round trip at quality 15-75
    gamma: float = 0.0         # tone curve x ** g, log g uniform in [log 0.6, log 1.6]

    def __post_init__(self):
        for name in ("flip", "erase", "blur", "lowres", "jpeg", "gamma"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} = {getattr(self, name)}: a probability, must lie in [0, 1]")
        for name in ("rotate", "translate", "scale", "shear"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} = {getattr(self, name)}: a range, must be 0 or more")

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
        x = degrade(x, generator, blur=self.blur, lowres=self.lowres, jpeg=self.jpeg, gamma=self.gamma)
        return erase_rectangles(x, self.erase, generator) if self.erase > 0 else x


def degrade(x: torch.Tensor, generator: torch.Generator, blur: float = 0.0, lowres: float = 0.0,
            jpeg: float = 0.0, gamma: float = 0.0) -> torch.Tensor:
    """Field degradations of a float batch (B, C, H, W) in [0, 1], each drawn per image with its
    probability; a probability of 0 draws nothing (so older seeded runs repeat exactly)."""
    if gamma > 0:
        x = random_gamma(x, gamma, generator)
    if blur > 0:
        x = random_blur(x, blur, generator)
    if lowres > 0:
        x = random_lowres(x, lowres, generator)
    if jpeg > 0:
        x = random_jpeg(x, jpeg, generator)
    return x


def _chosen(n: int, p: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) < p


def random_gamma(x: torch.Tensor, p: float, generator: torch.Generator, low: float = 0.6, high: float = 1.6):
    """``x ** g`` for a log-uniform ``g`` in [low, high], on the images chosen with probability ``p``."""
    n = x.shape[0]
    g = torch.exp(math.log(low) + torch.rand(n, generator=generator) * (math.log(high) - math.log(low)))
    g = torch.where(_chosen(n, p, generator), g, torch.ones(n)).view(-1, 1, 1, 1).to(x.device, x.dtype)
    return x.clamp(0, 1).pow(g)


def random_blur(x: torch.Tensor, p: float, generator: torch.Generator, sigma=(0.3, 1.5), radius: int = 3):
    """A Gaussian blur of its own width per image (one grouped convolution for the batch)."""
    n, c, h, w = x.shape
    s = sigma[0] + torch.rand(n, generator=generator) * (sigma[1] - sigma[0])
    chosen = _chosen(n, p, generator)
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k1 = torch.exp(-0.5 * (t.view(1, -1) / s.view(-1, 1)) ** 2)
    k1 = k1 / k1.sum(1, keepdim=True)
    k1 = torch.where(chosen.view(-1, 1), k1, (t == 0).float().view(1, -1))   # identity for the others
    k2 = (k1.view(n, -1, 1) * k1.view(n, 1, -1)).repeat_interleave(c, 0).unsqueeze(1)
    padded = F.pad(x.reshape(1, n * c, h, w), (radius,) * 4, mode="replicate")
    return F.conv2d(padded, k2.to(x.device, x.dtype), groups=n * c).view(n, c, h, w)


def random_lowres(x: torch.Tensor, p: float, generator: torch.Generator, sides=(12, 16, 20, 24, 30, 36)):
    """Down to a random smaller side (area average) and back up (bilinear), as a small face in a
    large photo is; images of one drawn side go together."""
    n, _, h, w = x.shape
    pick = torch.randint(0, len(sides), (n,), generator=generator)
    chosen = _chosen(n, p, generator)
    out = x.clone()
    for j, side in enumerate(sides):
        idx = torch.nonzero(chosen & (pick == j)).flatten().to(x.device)
        if len(idx) and side < min(h, w):
            small = F.interpolate(x[idx], size=(side, side * w // h), mode="area")
            out[idx] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def random_jpeg(x: torch.Tensor, p: float, generator: torch.Generator, quality=(15, 75)):
    """A JPEG encode and decode at a random quality (Pillow), on grey or RGB images."""
    from PIL import Image

    n, c = x.shape[:2]
    q = torch.randint(quality[0], quality[1] + 1, (n,), generator=generator)
    chosen = torch.nonzero(_chosen(n, p, generator)).flatten().tolist()
    if not chosen or c not in (1, 3):
        return x
    out = x.clone()
    pixels = (x[chosen].clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    for k, i in enumerate(chosen):
        buf = io.BytesIO()
        Image.fromarray(pixels[k][..., 0] if c == 1 else pixels[k]).save(buf, format="JPEG", quality=int(q[i]))
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L" if c == 1 else "RGB"))
        out[i] = torch.from_numpy(back.reshape(*back.shape[:2], c).copy()).permute(2, 0, 1).to(x.device, x.dtype) / 255
    return out


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
