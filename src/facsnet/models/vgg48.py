"""A VGG-style expression CNN for 48x48 faces (not the paper's network; facsnet's default).

Four stages of two 3x3 conv -> BatchNorm -> ReLU layers and a 2x2 max-pool (48, 96, 192, 384
filters by default), global average pooling, dropout and one linear layer. Two small convs see as
far as one 5x5 with fewer weights and one more non-linearity; BatchNorm lets SGD train the deeper
stack quickly. This is the family of networks that holds the best single-network FER2013 results
(VGG variants at 48x48, about 73%).

Same interface as :class:`~facsnet.models.breuer2017.Breuer2017`: it carries its data settings
(``data_config``, ``class_names``) and the timm seam (``forward_features`` / ``forward_head`` /
``reset_classifier``), so training, checkpoints, inference and transfer treat both alike.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..labels import EMOTIONS
from .breuer2017 import FixedNormalize, PerImageStandardize
from .layers import Dropout, ExpressionModel
from .registry import register_model


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Vgg48(ExpressionModel):
    """Input (B, in_chans, img_size, img_size) with values in [0, 1]; output (B, num_classes) logits."""

    def __init__(self, in_chans: int = 1, num_classes: int = 7, img_size: int = 48,
                 widths=(48, 96, 192, 384), depth: int = 2, drop: float = 0.4,
                 norm: str = "per_image", class_names=None):
        super().__init__()
        if img_size % 2 ** len(widths):
            raise ValueError(f"img_size must be a multiple of {2 ** len(widths)} ({len(widths)} 2x2 pools), got {img_size}")
        self.config = dict(in_chans=in_chans, num_classes=num_classes, img_size=img_size,
                           widths=list(widths), depth=depth, drop=drop, norm=norm)
        self.class_names = list(class_names) if class_names else list(EMOTIONS[:num_classes])
        if len(self.class_names) != num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {num_classes} classes")
        self.norm = PerImageStandardize() if norm == "per_image" else FixedNormalize()
        stages, cin = [], in_chans
        for width in widths:
            layers = [conv_bn_relu(cin if i == 0 else width, width) for i in range(depth)]
            stages.append(nn.Sequential(*layers, nn.MaxPool2d(2)))
            cin = width
        self.features = nn.Sequential(*stages)
        self.num_features = widths[-1]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = Dropout(drop)
        self.head = nn.Linear(self.num_features, num_classes)

    def conv_layers(self) -> dict[str, nn.Conv2d]:
        """The conv layers by name (``conv1_1`` .. ``conv4_2``: stage, layer), for interpretability tools."""
        return {f"conv{s + 1}_{i + 1}": stage[i][0] for s, stage in enumerate(self.features)
                for i in range(self.config["depth"])}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, widths[-1], H/16, W/16) conv features."""
        return self.features(self.norm(x))

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Conv features -> logits, or the pooled embedding when ``pre_logits``."""
        h = self.pool(feats).flatten(1)
        return h if pre_logits else self.head(self.drop(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model
def vgg48(**kwargs) -> Vgg48:
    """VGG-style CNN: 2x(conv 3x3 + BN + ReLU) + max-pool per stage, 48-96-192-384, global pool, linear."""
    return Vgg48(**kwargs)


@register_model
def vgg48_wide(**kwargs) -> Vgg48:
    """:func:`vgg48` at 64-128-256-512 (the classic VGG widths): 1.8x the compute."""
    return Vgg48(**{"widths": (64, 128, 256, 512), **kwargs})


@register_model
def vgg48_small(**kwargs) -> Vgg48:
    """:func:`vgg48` at two thirds of the width (32-64-128-256): under half the compute."""
    return Vgg48(**{"widths": (32, 64, 128, 256), **kwargs})
