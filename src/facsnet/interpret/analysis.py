"""The paper's section 3.1 on any model and dataset: live filters per layer and the
filter-to-AU correlation of the last conv layer, beside a permutation baseline."""
from __future__ import annotations

from dataclasses import asdict, dataclass


from ..au import AUCorrelation, correlate, read_ckplus_au_labels
from ..data.faceset import FaceSet
from .activations import activation_tables, dead_filters, live_filter_counts, top_n_images


@dataclass(frozen=True)
class AUAnalysis:
    model: str
    dataset: str
    layer: str
    eps: float
    alive_filters: dict[str, int]          # per conv layer
    total_filters: dict[str, int]
    correlations: list[AUCorrelation]      # one per N

    def to_dict(self) -> dict:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [f"# Filter-AU correlation: {self.model} on {self.dataset}", "",
                 "| layer | live filters |", "|---|---:|",
                 *[f"| {k} | {self.alive_filters[k]} / {self.total_filters[k]} |" for k in self.alive_filters], "",
                 f"Layer {self.layer}: live filters whose top-N images all carry one AU (P(j,u) = 1), against the "
                 "same count with AU sets shuffled across sequences:", "",
                 "| N | live | matched | permuted mean +- std |", "|---:|---:|---:|---:|",
                 *[f"| {c.n} | {c.alive} | {c.matched} | {c.matched_permuted_mean:.1f} +- {c.matched_permuted_std:.1f} |"
                   for c in self.correlations]]
        for c in self.correlations:
            by_au: dict[str, list[int]] = {}
            for m in c.matches:
                by_au.setdefault(m["name"], []).append(m["filter"])
            lines += ["", f"N = {c.n}: " + "; ".join(f"{k}: filters {v}" for k, v in sorted(by_au.items()))]
        return "\n".join(lines) + "\n"


def au_analysis(model, data: FaceSet, au_labels_csv, model_label: str = "", layer: str = "conv3",
                ns=(5, 10, 20), permutations: int = 100, eps: float = 0.0, seed: int = 0) -> AUAnalysis:
    if data.sequences is None:
        raise ValueError(f"{data.name}: no sequence ids, so no AU labels can be attached (CK+ data needed)")
    labels = read_ckplus_au_labels(au_labels_csv)
    x, _ = data.tensors()
    tables = activation_tables(model, x)
    alive, total = live_filter_counts(tables, eps), {name: t.shape[1] for name, t in tables.items()}
    if layer not in tables:
        raise ValueError(f"no conv layer {layer!r}; conv layers: {', '.join(tables)}")
    live = ~dead_filters(tables[layer], eps)
    corrs = [correlate(top_n_images(tables[layer], n), data.sequences, labels, live, permutations, seed) for n in ns]
    return AUAnalysis(model=model_label, dataset=data.name, layer=layer, eps=eps, alive_filters=alive,
                      total_filters=total, correlations=corrs)
