"""Train a :class:`DenseHead` on precomputed backbone features, for three kinds of target."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..training.fit import fit_minibatches
from ..utils import seed_everything
from .heads import DenseHead, sparsity_penalty

KINDS = ("multiclass", "multilabel", "regression")


@dataclass(frozen=True)
class HeadConfig:
    kind: str = "multiclass"   # multiclass: softmax + CE; multilabel: sigmoids + BCE; regression: MSE
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3           # Adam, as for the emotion model
    weight_decay: float = 0.0
    l1: float = 0.0            # multilabel only: sparsity term on the sigmoid outputs
    l2: float = 0.0
    hidden: int = 512
    balanced: bool = False     # multilabel only: weight each output's positives by its negatives/positives ratio
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown head kind {self.kind!r}; choose from {', '.join(KINDS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def _loss(out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None, cfg: HeadConfig,
          pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    if cfg.kind == "multiclass":
        return F.cross_entropy(out, y.long())
    if cfg.kind == "multilabel":
        loss = F.binary_cross_entropy_with_logits(out, y, pos_weight=pos_weight)
        if cfg.l1 or cfg.l2:
            loss = loss + sparsity_penalty(torch.sigmoid(out), cfg.l1, cfg.l2)
        return loss
    err = (out - y) ** 2
    if mask is not None:
        return (err * mask).sum() / mask.sum().clamp(min=1)
    return err.mean()


def balance_weights(Y: torch.Tensor, cfg: HeadConfig) -> torch.Tensor | None:
    """With ``cfg.balanced`` (multilabel): each output's negatives / positives in the training targets ``Y``."""
    if not (cfg.balanced and cfg.kind == "multilabel"):
        return None
    pos = Y.sum(0)
    return (len(Y) - pos).clamp(min=1) / pos.clamp(min=1)


def fit_head(features: np.ndarray, targets: np.ndarray, cfg: HeadConfig, mask: np.ndarray | None = None) -> DenseHead:
    """Fit a new head on (N, D) features. ``targets``: class indices (multiclass), (N, U) 0/1
    (multilabel) or (N, U) values (regression; ``mask`` (N, U) marks the known ones)."""
    if len(features) != len(targets):
        raise ValueError(f"{len(features)} feature rows but {len(targets)} targets")
    seed_everything(cfg.seed)
    n_out = int(targets.max()) + 1 if cfg.kind == "multiclass" else targets.shape[1]
    head = DenseHead(features.shape[1], n_out, hidden=cfg.hidden)
    X = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    Y = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    M = torch.from_numpy(np.asarray(mask, dtype=np.float32)) if mask is not None else None
    pos_weight = balance_weights(Y, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    head.train()
    fit_minibatches(head.parameters(), lambda idx: _loss(head(X[idx]), Y[idx], M[idx] if M is not None else None, cfg,
                                                         pos_weight),
                    len(X), cfg.epochs, cfg.lr, cfg.batch_size, gen, weight_decay=cfg.weight_decay)
    return head.eval()


@torch.no_grad()
def head_outputs(head: DenseHead, features: np.ndarray, kind: str) -> np.ndarray:
    """Softmax probabilities (multiclass), sigmoid probabilities (multilabel) or values (regression)."""
    out = head.eval()(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)))
    if kind == "multiclass":
        out = out.softmax(1)
    elif kind == "multilabel":
        out = torch.sigmoid(out)
    return out.numpy()
