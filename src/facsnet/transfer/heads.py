"""New heads on a trained emotion CNN: feature extraction, head attachment, freezing, sparsity.

The paper's section 3.2: the convolutional layers of an emotion-trained network become a feature
extractor, and a new dense head (dense 512 -> ReLU -> dropout 0.5 -> outputs, as in the emotion
model) is trained for a new dataset or a new task (Action Units, AU intensity). With the backbone
frozen, its features are computed once and the head trains on them in seconds on a CPU.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn as nn

from ..models.batches import run_in_batches


class DenseHead(nn.Module):
    """dropout -> dense ``hidden`` -> ReLU -> dropout -> ``num_outputs``, on flattened backbone features;
    ``hidden=0`` is a single linear layer (a logistic or linear regression per output).

    The layer names match the emotion models' (``fc1``, ``head``), so a trained head drops into a
    copy of the backbone's model with :func:`attach_head`."""

    def __init__(self, in_features: int, num_outputs: int, hidden: int = 512, drop_in: float = 0.25,
                 drop_hidden: float = 0.5):
        super().__init__()
        self.hidden = hidden
        if hidden:
            self.drop_conv = nn.Dropout(drop_in)
            self.fc1 = nn.Linear(in_features, hidden)
            self.act_fc = nn.ReLU()
            self.drop_fc = nn.Dropout(drop_hidden)
        self.head = nn.Linear(hidden or in_features, num_outputs)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = feats.flatten(1)
        if self.hidden:
            x = self.drop_fc(self.act_fc(self.fc1(self.drop_conv(x))))
        return self.head(x)


def check_transferable(model: nn.Module) -> None:
    """Transfer heads replace the dense layers of the paper's CNN family (``fc1`` and ``head``);
    other networks (vgg48, ensembles) are refused with their name."""
    if not all(hasattr(model, name) for name in ("fc1", "head", "reset_classifier")):
        raise ValueError(f"transfer heads fit the paper's CNN family (breuer2017, breuer2017_bn: conv features and a "
                         f"dense fc1 layer); {type(model).__name__} has no fc1 to replace")


def feature_dim(model: nn.Module) -> int:
    """Size of the flattened output of ``model.forward_features`` for one input."""
    c, h, w = model.data_config["input_size"]
    with torch.no_grad():
        return int(model.forward_features(torch.zeros(1, c, h, w)).numel())


LAYERS = ("conv", "fc1")


def extract_features(model: nn.Module, images: np.ndarray, layer: str = "conv", batch_size: int = 256) -> np.ndarray:
    """Features (N, D) float32 of uint8 images (N, H, W): the flattened conv output (``conv``, the
    paper's feature extractor) or the emotion model's 512-d dense layer (``fc1``, after its ReLU)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown feature layer {layer!r}; choose from {', '.join(LAYERS)}")
    check_transferable(model)
    model = model.eval()
    x = torch.from_numpy(np.asarray(images))
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)        # (N, C, H, W)

    def features(xb: torch.Tensor) -> torch.Tensor:
        feats = model.forward_features(xb)
        return model.forward_head(feats, pre_logits=True) if layer == "fc1" else feats.flatten(1)

    out = run_in_batches(features, x, batch_size)
    return out.numpy() if len(images) else np.zeros((0, feature_dim(model)), np.float32)


def attach_head(model: nn.Module, head: DenseHead, class_names: list[str], task: str = "emotion") -> nn.Module:
    """A copy of ``model`` whose dense layers are ``head``'s: one module that maps images to the new
    outputs, saveable as an ordinary checkpoint (``task`` says how to read its outputs)."""
    check_transferable(model)
    new = copy.deepcopy(model)
    if head.hidden:  # a dense head on the conv features replaces fc1 and the output layer
        new.fc1 = copy.deepcopy(head.fc1)
    new.head = copy.deepcopy(head.head)  # a linear head on fc1 features replaces the output layer only
    new.class_names = list(class_names)
    new.config["num_classes"] = len(class_names)
    new.task = task
    new.temperature, new.tta_flip, new.class_prior = 1.0, False, None   # the backbone's readings do not carry over
    new.prior_strength = 0.0
    return new.eval()


def freeze_backbone(model: nn.Module) -> list[str]:
    """Stop gradients into everything but the dense head (``fc1``, ``head``); returns the frozen names."""
    frozen = []
    for name, p in model.named_parameters():
        if not (name.startswith("fc1.") or name.startswith("head.")):
            p.requires_grad_(False)
            frozen.append(name)
    return frozen


def sparsity_penalty(probabilities: torch.Tensor, l1: float, l2: float) -> torch.Tensor:
    """``l1 * mean|p| + l2 * mean p^2`` over a batch of multi-label outputs (the paper's L1 + L2 term):
    it pushes AU outputs towards zero, so few AUs are on at once."""
    return l1 * probabilities.abs().mean() + l2 * probabilities.pow(2).mean()
