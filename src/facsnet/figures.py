"""Figures and tables from results: data in, figure out."""
from __future__ import annotations

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
    import io

    import matplotlib.pyplot as plt

    from .utils import atomic_write_bytes

    fig = confusion_figure(cm, class_names, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
