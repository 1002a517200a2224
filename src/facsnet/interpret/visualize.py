"""`visualize`: top-N images per filter with guided-backprop / deconvnet overlays, as PNGs and
an index; and one figure per Action Unit matched by the filter-AU correlation."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from ..au import au_matrix, au_name, filter_au_correlation, read_ckplus_au_labels
from ..data.faceset import FaceSet
from ..utils import atomic_write_bytes, atomic_write_json
from .activations import dead_filters, max_activation_table, top_n_images
from .backprop import filter_reconstruction
from .figures import filter_figure


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def filter_views(model, data: FaceSet, layer: str, filt: int, idx: np.ndarray, rule: str) -> np.ndarray:
    """(n, H, W) reconstructions of filter ``filt`` for the images ``idx`` of ``data``."""
    x = torch.from_numpy(data.images[idx]).float().div(255.0).unsqueeze(1)
    return filter_reconstruction(model, x, layer, filt, rule)[:, 0].numpy()


def visualize(model, data: FaceSet, out_dir: str | Path, layer: str = "conv3", filters=None,
              n: int = 8, rule: str = "guided", eps: float = 0.0, table: np.ndarray | None = None) -> dict:
    """Write ``{layer}_f{j:03d}.png`` for each filter (default: every live one) and ``index.json``.
    ``table`` is the layer's max-activation table if already computed."""
    out = Path(out_dir)
    if table is None:
        table = max_activation_table(model, torch.from_numpy(data.images).unsqueeze(1), layer)
    live = ~dead_filters(table, eps)
    if filters is None:
        filters = np.flatnonzero(live).tolist()
    n_filters = table.shape[1]
    bad = [f for f in filters if not 0 <= f < n_filters]
    if bad:
        raise ValueError(f"filters {bad} out of range: {layer} has filters 0..{n_filters - 1}")
    top = top_n_images(table, n)
    index = {"layer": layer, "rule": rule, "n": n, "eps": eps, "dataset": data.name,
             "live_filters": int(live.sum()), "filters": {}}
    for j in filters:
        idx = top[j]
        recons = filter_views(model, data, layer, j, idx, rule)
        captions = [f"{data.class_names[data.labels[i]]}\n{table[i, j]:.2f}" for i in idx]
        _save(filter_figure(data.images[idx], recons, f"{layer} filter {j} ({rule})", captions),
              out / f"{layer}_f{j:03d}.png")
        index["filters"][str(j)] = {"alive": bool(live[j]), "top_images": [data.paths[i] for i in idx],
                                    "top_activations": [round(float(table[i, j]), 4) for i in idx]}
    atomic_write_json(out / "index.json", index)
    return index


def au_figures(model, data: FaceSet, au_labels_csv, out_dir: str | Path, layer: str = "conv3",
               n: int = 10, rule: str = "guided", eps: float = 0.0,
               table: np.ndarray | None = None) -> dict[str, int]:
    """For every AU that some live filter matches (P(j,u) = 1 over its top ``n`` images), a figure
    of the matching filter with the strongest mean activation. Returns AU name -> filter."""
    labels = read_ckplus_au_labels(au_labels_csv)
    if table is None:
        table = max_activation_table(model, torch.from_numpy(data.images).unsqueeze(1), layer)
    live = ~dead_filters(table, eps)
    top = top_n_images(table, n)
    A, aus = au_matrix(data.sequences, labels)
    P = filter_au_correlation(top, A)
    chosen = {}
    for u, au in enumerate(aus):
        cands = [j for j in np.flatnonzero((P[:, u] >= 1 - 1e-12) & live)]
        if not cands:
            continue
        j = max(cands, key=lambda f: table[top[f], f].mean())
        recons = filter_views(model, data, layer, j, top[j], rule)
        _save(filter_figure(data.images[top[j]], recons, f"{au_name(au)}: {layer} filter {j}, top {n} of CK+"),
              Path(out_dir) / f"AU{au:02d}_{layer}_f{j:03d}.png")
        chosen[au_name(au)] = int(j)
    atomic_write_json(Path(out_dir) / "au_figures.json", chosen)
    return chosen
