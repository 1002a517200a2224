"""The paper's section-4 model: the emotion CNN as a frame encoder, a shallow LSTM over the frames.

Per fold, the CNN (FER-pretrained or from scratch) is first trained on single frames with their
clip's label; its first dense layer (512-d, after ReLU) then encodes each frame, and one LSTM layer
with recurrent dropout reads the encoded frames and classifies the clip from its last step.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.augment import Augment
from ..models.batches import run_in_batches
from ..training.fit import fit_minibatches
from ..utils import seed_everything


@dataclass
class MicroConfig:
    """Training settings for one LOSO run (declared before any run; see results/README.md)."""

    init: str | None = "fer2013"  # bundled model name or checkpoint path; None = CNN from scratch
    cnn_epochs: int = 30
    cnn_lr: float = 3e-4          # fine-tuning rate; from scratch the paper's 1e-3 is used (scratch_lr)
    scratch_lr: float = 1e-3
    batch_size: int = 32
    frozen: bool = False          # keep the conv layers as initialised (train the dense layers only)
    balanced: bool = True         # class-weighted loss (UF1 / UAR weigh every class equally)
    lstm_hidden: int = 128
    lstm_epochs: int = 150
    lstm_lr: float = 1e-3
    recurrent_dropout: float = 0.25
    dropout: float = 0.5
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over the classes present."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def adapt_input_channels(model: nn.Module, in_chans: int) -> None:
    """Give a 1-channel pretrained first conv ``in_chans`` inputs (its kernel repeated and divided by
    ``in_chans``, so a constant input gives the same response), as timm does for RGB weights."""
    conv = model.features[0][0]
    if conv.in_channels == in_chans:
        return
    new = nn.Conv2d(in_chans, conv.out_channels, conv.kernel_size, padding=conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        new.weight.copy_(conv.weight.sum(1, keepdim=True).repeat(1, in_chans, 1, 1) / in_chans)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    model.features[0][0] = new
    model.config["in_chans"] = in_chans


def build_cnn(init: str | None, in_chans: int, n_classes: int, class_names: list[str]) -> nn.Module:
    from ..models import create_model
    from ..models.hub import load_model

    if init:
        model = load_model(init)
        adapt_input_channels(model, in_chans)
        model.reset_classifier(n_classes, class_names)
    else:
        model = create_model("breuer2017", in_chans=in_chans, num_classes=n_classes, img_size=48,
                             class_names=class_names)
    return model.float()


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def conv_features(model: nn.Module, images: np.ndarray, batch_size: int = 256) -> torch.Tensor:
    """The conv layers' output for ``images`` (N, C, H, W) in [0, 1] (no dropout acts before it), on the CPU."""
    return run_in_batches(model.forward_features, images, batch_size, next(model.parameters()).device)


def frozen_conv_features(init: str, images: np.ndarray) -> torch.Tensor:
    """Conv features of the pretrained ``init`` model, widened to the images' channels (for frozen twins)."""
    return conv_features(build_cnn(init, images.shape[1], 1, ["x"]).eval(), images).cpu()


def fit_cnn(images: np.ndarray, y: np.ndarray, class_names: list[str], cfg: MicroConfig,
            augment: Augment | None = Augment(), conv: torch.Tensor | None = None) -> nn.Module:
    """Train the CNN on frames ``images`` (N, C, 48, 48) float in [0, 1] with labels ``y``. With
    ``cfg.frozen`` and no augmentation, the conv features are computed once (or taken from ``conv``,
    precomputed for these images) and only the dense layers train."""
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    n_classes = len(class_names)
    model = build_cnn(cfg.init, images.shape[1], n_classes, class_names).to(device).train()
    if cfg.frozen:
        for p in model.features.parameters():
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    weight = class_weights(y, n_classes).to(device) if cfg.balanced else None
    x = torch.as_tensor(images, dtype=torch.float32, device=device)
    t = torch.as_tensor(y, dtype=torch.long, device=device)
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.frozen and augment is None:  # fixed conv features: compute them once, train the dense layers on them
        conv = (conv_features(model, images) if conv is None else conv).to(device)
        forward = lambda idx: model.forward_head(conv[idx])  # noqa: E731
    else:
        forward = lambda idx: model(augment(x[idx], gen) if augment is not None else x[idx])  # noqa: E731
    fit_minibatches(params, lambda idx: F.cross_entropy(forward(idx).float(), t[idx], weight=weight), len(x),
                    cfg.cnn_epochs, cfg.cnn_lr if cfg.init else cfg.scratch_lr, cfg.batch_size, gen, device=device,
                    context=lambda: _autocast(device))
    return model.eval()


def cnn_outputs(model: nn.Module, images: np.ndarray, batch_size: int = 512,
                conv: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(logits, 512-d dense features) of ``images`` (N, C, H, W) in [0, 1], in eval mode; ``conv``:
    their conv features when already computed (frozen conv layers)."""
    model.eval()

    def outputs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = model.forward_head(x if conv is not None else model.forward_features(x), pre_logits=True)
        return model.head(h), h

    logits, feats = run_in_batches(outputs, conv if conv is not None else images, batch_size,
                                   next(model.parameters()).device)
    return logits.numpy(), feats.numpy()


class MicroLSTM(nn.Module):
    """One LSTM layer over (B, T, F) frame features with recurrent dropout (one mask per sequence
    on the hidden state, as Keras' ``recurrent_dropout``), dropout, and a linear output layer.
    ``lengths`` (B,) marks where each sequence ends; the clip is read from its last real step."""

    def __init__(self, in_features: int, num_classes: int, hidden: int = 128, recurrent_dropout: float = 0.25,
                 dropout: float = 0.5):
        super().__init__()
        self.cell = nn.LSTMCell(in_features, hidden)
        self.recurrent_dropout = recurrent_dropout
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        b, steps, _ = x.shape
        h = x.new_zeros(b, self.cell.hidden_size)
        c = x.new_zeros(b, self.cell.hidden_size)
        mask = None
        if self.training and self.recurrent_dropout > 0:
            keep = 1 - self.recurrent_dropout
            mask = torch.bernoulli(x.new_full((b, self.cell.hidden_size), keep)) / keep
        last = x.new_zeros(b, self.cell.hidden_size)
        lengths = torch.full((b,), steps, device=x.device) if lengths is None else lengths.to(x.device)
        for t in range(steps):
            h, c = self.cell(x[:, t], (h if mask is None else h * mask, c))
            last = torch.where((lengths - 1 == t)[:, None], h, last)
        return self.out(self.drop(last))


def fit_lstm(seqs: np.ndarray, lengths: np.ndarray, y: np.ndarray, n_classes: int, cfg: MicroConfig) -> MicroLSTM:
    """Train the LSTM on encoded sequences (N, T, F) (full batch; the sets are a few hundred clips)."""
    seed_everything(cfg.seed)
    net = MicroLSTM(seqs.shape[2], n_classes, cfg.lstm_hidden, cfg.recurrent_dropout, cfg.dropout).train()
    x, ln, t = torch.as_tensor(seqs, dtype=torch.float32), torch.as_tensor(lengths), torch.as_tensor(y, dtype=torch.long)
    weight = class_weights(y, n_classes) if cfg.balanced else None
    fit_minibatches(net.parameters(), lambda _: F.cross_entropy(net(x, ln), t, weight=weight), len(x),
                    cfg.lstm_epochs, cfg.lstm_lr)
    return net.eval()


@torch.no_grad()
def lstm_predict(net: MicroLSTM, seqs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return net(torch.as_tensor(seqs, dtype=torch.float32), torch.as_tensor(lengths)).argmax(1).numpy()
