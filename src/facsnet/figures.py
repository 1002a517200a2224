"""Figures and tables from results: data in, figure out."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def confusion_figure(cm: np.ndarray, class_names, title: str = ""):
    """A row-normalised confusion matrix with counts, as a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    rows = cm.sum(1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(class_names), 0.8 + 0.7 * len(class_names)), dpi=110)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}\n{100 * frac[i, j]:.0f}%", ha="center", va="center", fontsize=7,
                    color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def save_confusion_png(cm, class_names, path: str | Path, title: str = "") -> None:
    save_figure_png(confusion_figure(cm, class_names, title), path)


@dataclass(frozen=True)
class Curve:
    """One training run's score after each epoch (accuracy as a fraction)."""

    label: str
    epochs: tuple[int, ...]
    accuracy: tuple[float, ...]


@dataclass(frozen=True)
class CurvePanel:
    """Curves that share one axis, and horizontal reference lines (label -> accuracy as a fraction)."""

    title: str
    ylabel: str
    curves: tuple[Curve, ...]
    references: tuple[tuple[str, float], ...] = ()
    ymin: float | None = None     # the axis's floor in %, e.g. to leave out the first epochs' climb


def curves_figure(panels: list[CurvePanel]):
    """Accuracy (in %) against epoch, one panel per :class:`CurvePanel`, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), dpi=100, squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for curve in panel.curves:
            ax.plot(curve.epochs, [100 * a for a in curve.accuracy], lw=1.2, label=curve.label)
        for (label, value), style in zip(panel.references, ("--", ":", "-.", (0, (1, 3)))):
            ax.axhline(100 * value, ls=style, lw=1.0, color="black", label=label)
        if panel.ymin is not None:
            ax.set_ylim(bottom=panel.ymin)
        ax.set_xlabel("epoch")
        ax.set_ylabel(panel.ylabel)
        ax.set_title(panel.title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def save_figure_png(fig, path: str | Path) -> None:
    """Write a matplotlib figure as PNG atomically, and close it."""
    import io

    import matplotlib.pyplot as plt

    from .utils import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
