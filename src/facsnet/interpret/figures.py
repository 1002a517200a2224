"""Figures in the style of the paper's Figures 5 and 6: a filter's top images with the
reconstruction of what drives it laid over each face. Data in, figure out."""
from __future__ import annotations

import numpy as np


def overlay(image: np.ndarray, recon: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) float RGB: the grey face with the magnitude of ``recon`` as a heat map on top."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import colormaps

    face = image.astype(np.float64) / 255.0
    mag = np.abs(recon)
    mag = mag / mag.max() if mag.max() > 0 else mag
    heat = colormaps["inferno"](mag)[..., :3]
    weight = alpha * mag[..., None]
    return (1 - weight) * face[..., None] + weight * heat


def filter_figure(images: np.ndarray, recons: np.ndarray, title: str, captions=None):
    """One row per filter view: the faces (top) and the overlays (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n + 0.4, 3.0), dpi=100, squeeze=False)
    for i in range(n):
        axes[0, i].imshow(images[i], cmap="gray", vmin=0, vmax=255)
        axes[1, i].imshow(overlay(images[i], recons[i]))
        if captions is not None:
            axes[0, i].set_title(captions[i], fontsize=6)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
