"""``facsnet evaluate --out DIR``: the figures as JSON, the confusion matrix, and a page for people."""
from __future__ import annotations

import html
from datetime import date
from pathlib import Path

from ..provenance import provenance
from ..training.calibration import (MIN_FACES_FOR_SHARE_DISTANCE, SHARE_DISTANCE_FOR_BALANCED,
                                    compared_class_shares)
from ..utils import atomic_write_json
from ..figures import save_confusion_png
from .page import img_file, table, write_page


def prior_note(strength: float) -> str:
    """How the summary line names the class-prior correction of an evaluation (none, full or partial)."""
    if not strength:
        return ""
    return ", prior-corrected" if strength == 1 else f", prior-corrected at strength {strength:g}"


def settings_note(res) -> str:
    """How an evaluation read the model, as the summary lines say it: mirror averaging, the class-prior
    correction, predictions restricted to the data's classes."""
    return (f"{' (mirror-averaged)' if res.tta_flip else ''}{prior_note(res.balanced)}"
            f"{', predictions among the data classes only' if getattr(res, 'data_classes_only', False) else ''}")

def balanced_hint(res) -> str:
    """A line for evaluations of enough faces (:data:`~facsnet.training.calibration.MIN_FACES_FOR_SHARE_DISTANCE`)
    whose class shares lie far from the training faces' and that were not read with equally likely classes:
    there ``--balanced`` was the more accurate reading on average
    (:data:`~facsnet.training.calibration.SHARE_DISTANCE_FOR_BALANCED`). Empty otherwise."""
    distance = res.class_share_distance
    if (distance is None or distance < SHARE_DISTANCE_FOR_BALANCED or res.balanced >= 1
            or res.n < MIN_FACES_FOR_SHARE_DISTANCE):
        return ""
    counts = [sum(row) for row in res.confusion]
    data, train, present = compared_class_shares(counts, [res.training_shares.get(c, 0.0) for c in res.class_names])
    names = [c for c, kept in zip(res.class_names, present) if kept]
    widest = max(range(len(names)), key=lambda i: abs(data[i] - train[i]))
    return (f"these {res.n} faces' class shares lie {distance:.2f} from the training faces' (total variation over "
            f"the classes they have; {names[widest]} {data[widest]:.1%} against {train[widest]:.1%}): from "
            f"{SHARE_DISTANCE_FOR_BALANCED:g} on, --balanced (equally likely classes) read such faces more accurately "
            "on average (measured on the default model: results/ablation/prior_adaptation.md)")


def write_evaluation(res, out_dir: str | Path, command: str = "") -> Path:
    """``eval.json`` (every figure), ``confusion.png`` and ``report.html`` (the summary on top, the
    confusion matrix, precision / recall / F1 per class)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "eval.json", {**res.to_dict(), "command": command, "date": date.today().isoformat(),
                                          "provenance": provenance()})
    save_confusion_png(res.confusion, res.class_names, out / "confusion.png",
                       title=f"{res.model} on {res.dataset} ({res.n} images)")
    summary = (f"<p class='summary'><b>{100 * res.accuracy:.2f}%</b> accuracy, <b>{100 * res.uar:.2f}%</b> balanced "
               f"recall (UAR), macro F1 <b>{res.macro_f1:.3f}</b>, ECE {res.ece:.3f}, NLL {res.nll:.3f} on {res.n} images"
               f"{settings_note(res)}; "
               f"temperature {res.temperature:.3f}</p>")
    rows = [[c, f"{100 * r['precision']:.1f}%", f"{100 * r['recall']:.1f}%", f"{r['f1']:.3f}", r["support"]]
            for c, r in res.per_class().items()]
    notes = []
    if res.left_out_classes:
        notes.append("left out (the model lacks the class): " + ", ".join(f"{k} ({v})" for k, v in res.left_out_classes.items()))
    if res.skipped_files:
        notes.append(f"{len(res.skipped_files)} unreadable file(s) skipped (listed in eval.json)")
    hint = balanced_hint(res)
    if hint:
        notes.append(hint)
    title = f"{res.model} on {res.dataset}"
    parts = [f"<h1>{html.escape(title)}</h1>", summary, *(f"<p class='note'>{html.escape(n)}</p>" for n in notes),
             img_file(out / "confusion.png"), "<h2>Per class</h2>",
             table(["class", "precision", "recall", "F1", "images"], rows)]
    if command:
        parts.append(f"<p class='note'>{html.escape(command)}</p>")
    return write_page(out / "report.html", title, parts)
