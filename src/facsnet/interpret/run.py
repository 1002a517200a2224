"""The interpretability verbs: the filter-AU correlation on CK+ and top-N filter figures."""
from __future__ import annotations

from pathlib import Path

from ..data import data_root
from ..data.specs import ckplus_dataset, dataset
from ..models.hub import load_model, weights_digest
from ..provenance import provenance
from ..utils import atomic_write_json, atomic_write_text
from .activations import max_activation_table
from .analysis import au_analysis
from .visualize import au_figures
from .visualize import visualize as _visualize


def au_correlate(model: str = "ckplus48", data: str = "ckplus48", labels: str | None = None,
                 layer: str = "conv3", ns=(5, 10, 20), permutations: int = 100, eps: float = 0.0,
                 out: str | None = None):
    """Live filters per layer and the filter-AU correlation P(j,u) on CK+ (see
    :func:`facsnet.interpret.analysis.au_analysis`); writes ``au.json`` and ``au.md`` to ``out``."""
    labels = labels or str(data_root() / "CK+_AU_labels" / "ckplus_327_sequences_AU_emotion.csv")
    data_set = ckplus_dataset(data)
    res = au_analysis(load_model(model), data_set, labels, model_label=str(model), layer=layer,
                      ns=tuple(ns), permutations=permutations, eps=eps)
    if out:
        atomic_write_json(Path(out) / "au.json", {**res.to_dict(), "provenance": provenance(
            data_fingerprint=data_set.fingerprint(), weights_sha256=weights_digest(model))})
        atomic_write_text(Path(out) / "au.md", res.to_markdown())
    return res


def visualize(model: str = "ckplus48", data: str = "ckplus48", out: str = "runs/visualize", layer: str = "conv3",
              filters: list[int] | None = None, n: int = 8, rule: str = "guided", eps: float = 0.0,
              au_labels: str | None = None, au_n: int = 10) -> dict:
    """Top-N images per filter with reconstruction overlays (``{layer}_fNNN.png`` + ``index.json``);
    with ``au_labels`` also one figure per matched Action Unit (``AUxx_...png``)."""
    net = load_model(model)
    data_set = ckplus_dataset(data) if au_labels else dataset(data, "train")
    table = max_activation_table(net, data_set.tensors()[0], layer)   # shared by both figure kinds
    index = _visualize(net, data_set, out, layer=layer, filters=filters, n=n, rule=rule, eps=eps, table=table)
    if au_labels:
        index["au_figures"] = au_figures(net, data_set, au_labels, out, layer=layer, n=au_n, rule=rule,
                                         eps=eps, table=table)
    return index

