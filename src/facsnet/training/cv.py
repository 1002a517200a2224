"""k-fold cross-validation: subject-independent when subject ids exist, per image otherwise.

Each fold trains from scratch (or from ``config.init``) for a fixed schedule and is scored on
its held-out part with the final weights (no model selection on the test fold). A fold's
result is written as soon as it is done, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..data.faceset import FaceSet
from ..data.splits import make_folds
from ..provenance import provenance
from ..utils import atomic_write_json, atomic_write_text
from .config import TrainConfig
from .loop import train
from .metrics import metrics_from_confusion
from .run_folder import check_run_folder

log = logging.getLogger("facsnet.cv")


@dataclass(frozen=True)
class CVResult:
    dataset: str
    protocol: str
    k: int
    fold_accuracies: list[float]
    accuracy_mean: float
    accuracy_std: float
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    class_names: list[str]
    out_dir: str

    def to_dict(self) -> dict:
        return asdict(self)

    def to_markdown(self) -> str:
        lines = [
            f"# Cross-validation: {self.dataset}",
            "",
            f"Protocol: **{self.protocol}** ({_protocol_text(self.protocol)}), {self.k} folds.",
            "",
            f"Accuracy: **{100 * self.accuracy_mean:.2f}% +- {100 * self.accuracy_std:.2f}** (mean +- std over folds)",
            "",
            "| fold | accuracy |", "|---:|---:|",
            *[f"| {i + 1} | {100 * a:.2f}% |" for i, a in enumerate(self.fold_accuracies)],
            "",
            "| class | recall |", "|---|---:|",
            *[f"| {c} | {100 * r:.1f}% |" for c, r in self.per_class_recall.items()],
            "",
            "Confusion (rows true, columns predicted): " + ", ".join(self.class_names),
            "",
            "| | " + " | ".join(self.class_names) + " |",
            "|---" * (len(self.class_names) + 1) + "|",
            *[f"| {c} | " + " | ".join(str(v) for v in row) + " |" for c, row in zip(self.class_names, self.confusion)],
        ]
        return "\n".join(lines) + "\n"


def _protocol_text(protocol: str) -> str:
    return {"subject": "subject-independent: no subject in the training and test part of a fold",
            "image": "per image: frames of one subject may fall in training and test"}[protocol]


def cross_validate(data: FaceSet, config: TrainConfig | None = None, k: int = 10,
                   protocol: str | None = None, seed: int = 0, out_dir: str | Path = "runs/cv",
                   folds: list[int] | None = None, overwrite: bool = False) -> CVResult | None:
    """Run (or resume) k-fold CV of ``config`` on ``data`` in ``out_dir``.

    ``protocol`` defaults to ``subject`` when ``data`` has subject ids, else ``image``.
    ``folds`` (0-based) runs only those folds (e.g. one per process); the summary is written
    once every fold's result exists, and None is returned until then.
    """
    cfg = config or TrainConfig()
    if k < 2:
        raise ValueError(f"k = {k}: cross-validation needs at least 2 folds")
    bad = [f + 1 for f in folds or [] if not 0 <= f < k]
    if bad:
        raise ValueError(f"fold(s) {', '.join(map(str, bad))} do not exist: with k = {k} the folds are 1..{k}")
    if len(data.class_names) < 2:
        raise ValueError(f"{data.name}: {len(data.class_names)} class; a classifier needs at least 2")
    if cfg.teacher:
        from .distill import teacher_training_fingerprint

        if teacher_training_fingerprint(cfg.teacher) == data.fingerprint():
            raise ValueError(f"teacher {cfg.teacher} was trained on {data.name} itself, test folds included: "
                             f"its answers would leak them into every fold; distil from a model trained elsewhere")
    protocol = protocol or ("subject" if data.has_subjects else "image")
    out = Path(out_dir)
    test_sets = make_folds(data.labels, data.subjects, k, protocol, seed)
    record = {
        "dataset": data.name, "source": data.source, "fingerprint": data.fingerprint(), "n": len(data),
        "protocol": protocol, "protocol_text": _protocol_text(protocol), "k": k, "fold_seed": seed,
        "train_config": cfg.record(), "folds": [f.tolist() for f in test_sets],
    }
    check_run_folder(out, record, overwrite, files=("cv.json", "cv.md"), folders="fold[0-9][0-9]")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", record)
    for f in folds if folds is not None else range(k):
        fold_dir = out / f"fold{f + 1:02d}"
        if _fold_finished(fold_dir, cfg.epochs):
            continue
        test_idx = test_sets[f]
        train_idx = np.setdiff1d(np.arange(len(data)), test_idx)
        shared = set(data.subjects[train_idx]) & set(data.subjects[test_idx]) if protocol == "subject" else set()
        if shared:   # make_folds guarantees this; checked here because a leak would void every figure
            raise RuntimeError(f"fold {f + 1}: subject(s) {sorted(shared)[:5]} in both its training and test part")
        log.info("fold %d/%d: %d train, %d test", f + 1, k, len(train_idx), len(test_idx))
        res = train(data.subset(train_idx), data.subset(test_idx),
                    replace(cfg, seed=cfg.seed + f), out_dir=fold_dir)
        if not res.completed:   # the time limit stopped this fold: it resumes from its last.pt on the next run
            log.warning("fold %d stopped at epoch %d of %d; rerun the same command to finish it and the rest",
                        f + 1, res.epochs_done, cfg.epochs)
            return None
        metrics = res.final
        atomic_write_json(fold_dir / "metrics.json", {**metrics.to_dict(), "fold": f + 1,
                                                      "n_train": len(train_idx), "n_test": len(test_idx)})
        for name in ("last.pt", "best.pt"):  # the fold's final.pt is the model that was scored
            (fold_dir / name).unlink(missing_ok=True)
    return summarize_cv(out, data.name, protocol, k, data.class_names, data_fingerprint=data.fingerprint())


def _fold_finished(fold_dir: Path, epochs: int) -> bool:
    """A fold's ``metrics.json`` counts once its history holds every epoch (a fold that a time limit
    stopped early, scored as finished by earlier versions, is trained again)."""
    if not (fold_dir / "metrics.json").exists():
        return False
    try:
        history = json.loads((fold_dir / "history.json").read_text())
    except (OSError, ValueError):
        return True      # no history to read: the fold is taken as scored
    if len(history) >= epochs:
        return True
    log.warning("%s: scored after %d of %d epochs (stopped by a time limit); training it again", fold_dir,
                len(history), epochs)
    (fold_dir / "metrics.json").unlink()
    return False


def summarize_cv(out_dir: str | Path, dataset: str, protocol: str, k: int, class_names,
                 data_fingerprint: str | None = None) -> CVResult | None:
    out = Path(out_dir)
    files = [out / f"fold{f + 1:02d}" / "metrics.json" for f in range(k)]
    if not all(p.exists() for p in files):
        return None
    fold_metrics = [json.loads(p.read_text()) for p in files]
    accs = [m["accuracy"] for m in fold_metrics]
    total = np.sum([np.array(m["confusion"]) for m in fold_metrics], axis=0)
    pooled = metrics_from_confusion(total, class_names)
    result = CVResult(
        dataset=dataset, protocol=protocol, k=k, fold_accuracies=accs,
        accuracy_mean=float(np.mean(accs)), accuracy_std=float(np.std(accs)),
        per_class_recall=pooled.per_class_recall, confusion=pooled.confusion,
        class_names=list(class_names), out_dir=str(out),
    )
    atomic_write_json(out / "cv.json", {**result.to_dict(), "provenance": provenance(data_fingerprint=data_fingerprint)})
    atomic_write_text(out / "cv.md", result.to_markdown())
    from ..figures import save_confusion_png

    save_confusion_png(np.array(result.confusion), result.class_names, out / "confusion.png",
                       title=f"{dataset}, {protocol} {k}-fold: {100 * result.accuracy_mean:.1f}%")
    return result
