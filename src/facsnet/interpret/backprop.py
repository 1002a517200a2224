"""Deconvnet (Zeiler & Fergus 2014) and guided backprop (Springenberg et al. 2015) views of a
single filter: the input pixels that drive filter j of conv layer l, with every other activation
of that layer set to zero. One implementation, one flag for the two rules.

Only ``nn.ReLU`` modules are hooked (as captum does); hooks are always removed, also when the
forward or backward pass raises.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn

RULES = ("guided", "deconvnet")


def conv_index(model: nn.Module, layer: str) -> int:
    """The position of conv layer ``layer`` (``conv1``..``convN``) among the model's conv blocks."""
    if not all(hasattr(block, "forward_paper_order") for block in getattr(model, "features", [None])):
        raise ValueError(f"filter visualisation and the filter-AU analysis work on the paper's CNN (breuer2017, "
                         f"breuer2017_bn: one conv per block); this model is {type(model).__name__}")
    convs = model.conv_layers()
    if layer not in convs:
        raise ValueError(f"no conv layer {layer!r}; conv layers: {', '.join(convs)}")
    return list(convs).index(layer)


def rectified_map(model: nn.Module, images: torch.Tensor, layer: str) -> torch.Tensor:
    """(B, F, H, W): the rectified activation map of conv layer ``layer`` at full resolution
    (after its ReLU, before its max-pool) for ``images`` in [0, 1]."""
    i = conv_index(model, layer)
    x = model.norm(images)
    for block in list(model.features)[:i]:   # the paper's order, so hooked ReLUs see what the paper's did
        x = block.forward_paper_order(x)
    return model.features[i].rectified(x)


@contextmanager
def relu_rule(model: nn.Module, rule: str):
    """Within the block, every ``nn.ReLU`` of ``model`` passes gradients by ``rule``:
    guided = the usual mask of the forward pass AND a positive gradient;
    deconvnet = only a positive gradient (the forward mask is ignored)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")

    def hook(module, grad_input, grad_output):
        if rule == "guided":
            return (grad_input[0].clamp(min=0),)
        return (grad_output[0].clamp(min=0),)

    handles = [m.register_full_backward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def filter_reconstruction(model: nn.Module, images: torch.Tensor, layer: str, filt: int,
                          rule: str = "guided") -> torch.Tensor:
    """Input-space view (B, C, H, W) of filter ``filt`` of conv layer ``layer`` for ``images``
    (B, C, H, W) in [0, 1]: the filter's rectified activation map, all other filters of the layer
    zeroed, projected down to the pixels by ``rule``."""
    n_filters = model.features[conv_index(model, layer)][0].out_channels
    if not 0 <= filt < n_filters:
        raise ValueError(f"filter {filt} out of range: {layer} has filters 0..{n_filters - 1}")
    was_training = model.training
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    try:
        with relu_rule(model, rule):
            act = rectified_map(model, x, layer)
            seed = torch.zeros_like(act)
            seed[:, filt] = act[:, filt].detach()          # keep only filter j's activations
            (grad,) = torch.autograd.grad(act, x, grad_outputs=seed)
    finally:
        model.train(was_training)
    return grad.detach()
