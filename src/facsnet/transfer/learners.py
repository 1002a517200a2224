"""How a head is fitted in one fold: on frozen features, or end to end with the backbone unfrozen.

A learner is ``learner(train_idx, test_idx, Y, M) -> outputs for the test rows`` (probabilities for
multi-label heads, values for regression); the cross-validation code only sees that.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..data.augment import Augment
from ..training.fit import fit_minibatches
from ..utils import seed_everything
from .fit import HeadConfig, _loss, balance_weights, fit_head, head_outputs
from .heads import DenseHead, attach_head, feature_dim

Learner = Callable[[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]


def frozen(features: np.ndarray, cfg: HeadConfig) -> Learner:
    """A new head on precomputed (frozen) backbone features."""
    def run(train, test, Y, M=None):
        head = fit_head(features[train], Y[train], cfg, mask=None if M is None else M[train])
        return head_outputs(head, features[test], cfg.kind)
    return run


def hurdle(features: np.ndarray, cfg: HeadConfig) -> Learner:
    """Intensity as two frozen heads, for targets that are mostly 0: a multi-label head says whether
    each AU is present; a regression head, fitted on present cells only, says how strongly. The
    prediction is that intensity where the AU is judged present (probability >= 0.5), else 0."""
    def run(train, test, Y, M):
        present = (Y > 0).astype(np.float32)
        gate_cfg = HeadConfig(**{**cfg.to_dict(), "kind": "multilabel"})
        # A cell known to be absent or present counts for the gate; "present, not scored" counts as present.
        gate = fit_head(features[train], ((Y[train] > 0) | (M[train] == 0)).astype(np.float32), gate_cfg)
        size = fit_head(features[train], Y[train], cfg, mask=(M[train] * present[train]))
        p = head_outputs(gate, features[test], "multilabel")
        return np.where(p >= 0.5, np.clip(head_outputs(size, features[test], "regression"), 1, 5), 0.0)
    return run


def fine_tuned(backbone: torch.nn.Module, images: np.ndarray, cfg: HeadConfig, lr: float = 3e-4,
               augment: Augment | None = Augment()) -> Learner:
    """A new dense head on a copy of ``backbone``, trained end to end (conv layers unfrozen) on the
    fold's images with the emotion model's flip + affine augmentation; Adam at ``lr``."""
    def run(train, test, Y, M=None):
        seed_everything(cfg.seed)
        n_out = Y.shape[1]
        head = DenseHead(feature_dim(backbone), n_out, hidden=cfg.hidden)
        model = attach_head(backbone, head, [f"out{i}" for i in range(n_out)]).train()
        x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)[:, None]
        y = torch.from_numpy(np.asarray(Y, dtype=np.float32))
        m = None if M is None else torch.from_numpy(np.asarray(M, dtype=np.float32))
        pos_weight = balance_weights(y[train], cfg)
        gen = torch.Generator().manual_seed(cfg.seed)
        train_t = torch.as_tensor(train)

        def batch_loss(positions):
            idx = train_t[positions]
            xb = augment(x[idx], gen) if augment is not None else x[idx]
            return _loss(model(xb), y[idx], None if m is None else m[idx], cfg, pos_weight)

        fit_minibatches(model.parameters(), batch_loss, len(train_t), cfg.epochs, lr, cfg.batch_size, gen,
                        weight_decay=cfg.weight_decay)
        model.eval()
        with torch.no_grad():
            out = model(x[torch.as_tensor(test)])
        return (torch.sigmoid(out) if cfg.kind == "multilabel" else out).numpy()
    return run
