"""Knowledge distillation (Hinton et al., 2015): a student learns the labels and, beside them, a
teacher's softened class distribution on the very faces it sees (augmented alike), so a small
network, such as the paper's CNN, can take what a larger ensemble learned.

The loss of one batch is ``(1 - w) * CE(student, labels) + w * T^2 * KL(teacher_T || student_T)``,
where ``x_T`` is a softmax at temperature ``T`` and ``w`` the distillation weight; the ``T^2`` keeps
the soft term's gradients on the scale of the hard one's.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .predict import forward_logits


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, averaged over the batch: 0 when the
    student's softened distribution is the teacher's."""
    t = float(temperature)
    target = F.log_softmax(teacher_logits.float() / t, dim=1)
    student = F.log_softmax(student_logits.float() / t, dim=1)
    return F.kl_div(student, target, reduction="batchmean", log_target=True) * t * t


@dataclass
class Teacher:
    """A frozen model whose logits a student learns from; ``digest`` names its weights file."""

    model: nn.Module
    source: str
    digest: str

    @torch.no_grad()
    def logits(self, x: torch.Tensor, autocast_dtype: torch.dtype | None = None) -> torch.Tensor:
        return forward_logits(self.model, x, autocast_dtype=autocast_dtype)

    def record(self) -> dict:
        return {"source": self.source, "sha256_16": self.digest}


def load_teacher(name_or_path: str | Path, class_names: list[str], device: torch.device,
                 channels_last: bool = True, image_size: int | None = None) -> Teacher:
    """The teacher of a bundled name or checkpoint path, frozen in eval mode on ``device``; refused,
    with the teacher named, when it cannot be read or takes other faces (size, channels) or other
    classes than the training data's."""
    from ..models.checkpoint import CheckpointError
    from ..models.hub import load_model, weights_digest

    try:
        model = load_model(name_or_path, device=device)
    except (FileNotFoundError, CheckpointError) as exc:
        raise type(exc)(f"teacher (--teacher) {exc}") from None
    theirs = list(getattr(model, "class_names", None) or [])
    if theirs != list(class_names):
        raise ValueError(f"teacher {name_or_path}: its classes {theirs} are not the training data's {list(class_names)}")
    size = tuple(model.data_config.get("input_size", ()))
    if image_size is not None and size and size != (1, image_size, image_size):
        raise ValueError(f"teacher {name_or_path}: takes {size[0]}x{size[1]}x{size[2]} inputs, the training data are "
                         f"1x{image_size}x{image_size}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Teacher(model=model, source=str(name_or_path), digest=weights_digest(name_or_path))


def teacher_training_fingerprint(name_or_path: str | Path) -> str | None:
    """The fingerprint of the data a teacher checkpoint was trained on, where it records one."""
    from ..models.checkpoint import read_checkpoint
    from ..models.hub import resolve_weights

    ck = read_checkpoint(resolve_weights(name_or_path))
    return ((ck.get("data") or {}).get("train") or {}).get("fingerprint")
