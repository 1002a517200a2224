"""The expression CNN of Breuer & Kimmel (2017), "A Deep Learning Perspective on the Origin
of Facial Expressions": three blocks of conv 5x5 -> ReLU -> max-pool 2x2 (64, 128, 256 filters),
dropout 0.25, dense 512 + ReLU, dropout 0.5, linear to the classes.

The model carries its data settings (input size, channels, normalisation, class names), so
preprocessing always follows the weights, and exposes the timm seam for transfer heads:
``forward_features`` / ``forward_head`` / ``reset_classifier``.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..labels import EMOTIONS
from .layers import Dropout, ExpressionModel
from .registry import register_model


class PerImageStandardize(nn.Module):
    """Subtract each image's mean and divide by its standard deviation (lighting invariance)."""

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        mean = flat.mean(1).view(-1, 1, 1, 1)
        std = flat.std(1).view(-1, 1, 1, 1)
        return (x - mean) / (std + self.eps)


class FixedNormalize(nn.Module):
    """``(x - mean) / std`` with constants stored in the model."""

    def __init__(self, mean: float = 0.5, std: float = 0.5):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ConvBlock(nn.Sequential):
    """conv k x k 'same' [-> BatchNorm] -> ReLU -> max-pool 2x2, held in that order (index 0 is
    always the conv layer; the ReLU is a module, so interpretability hooks see it).

    The forward pass pools before the ReLU: max-pooling and a ReLU commute (the ReLU is monotone),
    so outputs and gradients are the same as in the paper's order, while the ReLU and its backward
    pass touch a quarter of the values. :meth:`rectified` gives the full-resolution map, and
    :meth:`forward_paper_order` the paper's order, which interpretability uses: with rules that
    rewrite the ReLU's backward pass (deconvnet), a window of negative values routes differently.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 5, batchnorm: bool = False):
        layers = [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=not batchnorm)]
        if batchnorm:
            layers.append(nn.BatchNorm2d(cout))
        super().__init__(*layers, nn.ReLU(), nn.MaxPool2d(2))

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """conv [-> BatchNorm]: everything before the ReLU."""
        for layer in list(self)[:-2]:
            x = layer(x)
        return x

    def rectified(self, x: torch.Tensor) -> torch.Tensor:
        """The rectified activation map at full resolution (before the max-pool)."""
        return self[-2](self.pre_activation(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self[-2](self[-1](self.pre_activation(x)))

    def forward_paper_order(self, x: torch.Tensor) -> torch.Tensor:
        """conv [-> BatchNorm] -> ReLU -> max-pool, as the paper writes it. The same values as
        :meth:`forward`, but a backward pass with hooked ReLUs (deconvnet) routes a window whose
        values are all negative through its first position, as in the paper's order."""
        return self[-1](self.rectified(x))


class Breuer2017(ExpressionModel):
    """Input (B, in_chans, img_size, img_size) with values in [0, 1]; output (B, num_classes) logits."""

    def __init__(self, in_chans: int = 1, num_classes: int = 8, img_size: int = 48,
                 widths=(64, 128, 256), hidden: int = 512, drop_conv: float = 0.25,
                 drop_fc: float = 0.5, norm: str = "per_image", batchnorm: bool = False, class_names=None):
        super().__init__()
        if img_size % 8:
            raise ValueError(f"img_size must be a multiple of 8 (three 2x2 pools), got {img_size}")
        self.config = dict(in_chans=in_chans, num_classes=num_classes, img_size=img_size,
                           widths=list(widths), hidden=hidden, drop_conv=drop_conv,
                           drop_fc=drop_fc, norm=norm, batchnorm=batchnorm)
        self.class_names = list(class_names) if class_names else list(EMOTIONS[:num_classes])
        if len(self.class_names) != num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {num_classes} classes")
        self.norm = PerImageStandardize() if norm == "per_image" else FixedNormalize()
        chans = [in_chans, *widths]
        self.features = nn.Sequential(*[ConvBlock(a, b, batchnorm=batchnorm) for a, b in zip(chans[:-1], chans[1:])])
        self.num_features = widths[-1] * (img_size // 8) ** 2
        self.drop_conv = Dropout(drop_conv)
        self.fc1 = nn.Linear(self.num_features, hidden)
        self.act_fc = nn.ReLU()
        self.drop_fc = Dropout(drop_fc)
        self.head = nn.Linear(hidden, num_classes)

    def conv_layers(self) -> dict[str, nn.Conv2d]:
        """The conv layers by name (``conv1``..``conv3``), for interpretability tools."""
        return {f"conv{i + 1}": blk[0] for i, blk in enumerate(self.features)}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, 256, H/8, W/8) pooled conv features."""
        return self.features(self.norm(x))

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Conv features -> logits, or the 512-d dense embedding when ``pre_logits``."""
        h = self.drop_fc(self.act_fc(self.fc1(self.drop_conv(feats).flatten(1))))
        return h if pre_logits else self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def breuer2017(**kwargs) -> Breuer2017:
    """The paper's CNN (5x5 convs 64-128-256, dense 512)."""
    return Breuer2017(**kwargs)


@register_model
def breuer2017_bn(**kwargs) -> Breuer2017:
    """The paper's CNN with BatchNorm after each conv (not in the paper; a documented variant)."""
    return Breuer2017(**{**kwargs, "batchnorm": True})
