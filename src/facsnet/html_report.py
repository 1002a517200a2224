"""`facsnet report RUN_DIR`: one self-contained HTML page (figures embedded as data URIs) of what
a run folder holds: cross-validation tables and confusion matrices, evaluation scores, live
filters and the filter-AU table, and filter / AU figures."""
from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path

from .utils import atomic_write_text

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:.3em 0}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em}.note{color:#666;font-size:.9em}"""
log = logging.getLogger("facsnet.report")


def _readable(items: list, section, unreadable: list[str]) -> list:
    """``section(item)`` for each item; a result file that cannot be read is listed in ``unreadable``
    with the reason, and the report goes on without it."""
    done = []
    for item in items:
        try:
            done.append(section(item))
        except (OSError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            why = f"{item}: unreadable ({type(exc).__name__}: {exc})"
            log.warning("left out %s", why)
            unreadable.append(why)
    return done


def _png_uri(fig) -> str:
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _training_section(path: Path, root: Path) -> str:
    """A training run's curves: training loss and validation accuracy per epoch."""
    history = json.loads(path.read_text())
    epochs = [int(h["epoch"]) for h in history]
    if not epochs:
        raise ValueError("no epochs recorded")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(epochs, [h["train_loss"] for h in history], color="#555", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    val = [(e, h["val_accuracy"]) for e, h in zip(epochs, history) if h.get("val_accuracy") is not None]
    summary = f"{len(epochs)} epoch(s)"
    if val:
        acc = ax.twinx()
        acc.plot([e for e, _ in val], [100 * a for _, a in val], color="#1f77b4", label="validation accuracy")
        acc.set_ylabel("validation accuracy (%)", color="#1f77b4")
        best = max(val, key=lambda ea: ea[1])
        summary += (f"; validation accuracy at the last epoch {100 * val[-1][1]:.2f}%, "
                    f"highest {100 * best[1]:.2f}% at epoch {best[0]}")
    fig.tight_layout()
    where = path.parent.relative_to(root) if path.parent != root else Path(path.parent.name)
    return (f"<h3>{html.escape(str(where))}</h3><p>{html.escape(summary)}</p>"
            f"<img alt='training curves' src='{_png_uri(fig)}'>")


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}"><figcaption class="note">{html.escape(path.name)}</figcaption></figure>'


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cv_section(path: Path, root: Path) -> str:
    r = json.loads(path.read_text())
    out = [f"<h3>{html.escape(str(path.parent.relative_to(root)))}</h3>",
           f"<p>{html.escape(r['dataset'])}, protocol <b>{html.escape(r['protocol'])}</b>, {r['k']} folds: "
           f"<b>{100 * r['accuracy_mean']:.2f}% &plusmn; {100 * r['accuracy_std']:.2f}</b></p>",
           _table(["fold", "accuracy"], [[i + 1, f"{100 * a:.2f}%"] for i, a in enumerate(r["fold_accuracies"])]),
           _table(["class", "recall"], [[c, f"{100 * v:.1f}%"] for c, v in r["per_class_recall"].items()])]
    png = path.parent / "confusion.png"
    if png.exists():
        out.append(_img(png))
    return "\n".join(out)


def _au_section(path: Path, root: Path) -> str:
    r = json.loads(path.read_text())
    out = [f"<h3>{html.escape(r['model'])} on {html.escape(r['dataset'])}</h3>",
           _table(["layer", "live filters"], [[k, f"{v} / {r['total_filters'][k]}"] for k, v in r["alive_filters"].items()]),
           _table(["N", "live", "matched (P=1)", "shuffled AUs: mean ± std"],
                  [[c["n"], c["alive"], c["matched"], f"{c['matched_permuted_mean']:.1f} ± {c['matched_permuted_std']:.1f}"]
                   for c in r["correlations"]])]
    for c in r["correlations"]:
        by_au: dict[str, list[int]] = {}
        for m in c["matches"]:
            by_au.setdefault(m["name"], []).append(m["filter"])
        out.append(f"<p class='note'>N = {c['n']}</p>" + _table(["AU", "filters"], [[k, ", ".join(map(str, v))] for k, v in sorted(by_au.items())]))
    return "\n".join(out)


def _eval_row(p: Path) -> list | None:
    r = json.loads(p.read_text())
    if "accuracy" in r and "n" in r:
        return [p.stem, str(r.get("dataset", "")), int(r["n"]), f"{100 * float(r['accuracy']):.2f}%"]
    return None


def build_report(run_dir: str | Path, out: str | Path | None = None, title: str = "facsnet report") -> Path:
    """Write ``out`` (default ``RUN_DIR/report.html``) and return its path."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run folder")
    parts = [f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(str(root))}</p>"]
    unreadable: list[str] = []
    runs = _readable(sorted(root.rglob("history.json")), lambda p: _training_section(p, root), unreadable)
    if runs:
        parts.append("<h2>Training</h2>" + "\n".join(runs))
    cvs = _readable(sorted(root.rglob("cv.json")), lambda p: _cv_section(p, root), unreadable)
    if cvs:
        parts.append("<h2>Cross-validation</h2>" + "\n".join(cvs))
    evals = [r for r in _readable(sorted(p for p in root.rglob("*.json") if p.parent.name == "eval"), _eval_row,
                                  unreadable) if r]
    if evals:
        parts.append("<h2>Evaluations</h2>" + _table(["file", "dataset", "n", "accuracy"], evals))
    aus = _readable(sorted(root.rglob("au.json")), lambda p: _au_section(p, root), unreadable)
    if aus:
        parts.append("<h2>Live filters and filter-AU correlation</h2>" + "\n".join(aus))
    figs = _readable(sorted(p for p in root.rglob("*.png") if p.name != "confusion.png"), _img, unreadable)
    if figs:
        parts.append("<h2>Filter and AU figures</h2>" + "\n".join(figs))
    if len(parts) == 1:
        why = "; ".join(unreadable) or "no history.json, cv.json, eval/*.json, au.json or figures inside"
        raise ValueError(f"{root}: nothing to report ({why})")
    if unreadable:
        parts.append("<h2>Left out</h2>" + "".join(f"<p class='note'>{html.escape(u)}</p>" for u in unreadable))
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    path = Path(out) if out else root / "report.html"
    atomic_write_text(path, page)
    return path


def write_evaluation(res, out_dir: str | Path, command: str = "") -> Path:
    """``facsnet evaluate --out DIR``: ``eval.json`` (every figure), ``confusion.png`` and
    ``report.html`` (the summary on top, the confusion matrix, precision / recall / F1 per class)."""
    from datetime import date

    from .report import save_confusion_png
    from .utils import atomic_write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {**res.to_dict(), "command": command, "date": date.today().isoformat()}
    atomic_write_json(out / "eval.json", record)
    save_confusion_png(res.confusion, res.class_names, out / "confusion.png",
                       title=f"{res.model} on {res.dataset} ({res.n} images)")
    summary = (f"<p><b>{100 * res.accuracy:.2f}%</b> accuracy, <b>{100 * res.uar:.2f}%</b> balanced recall (UAR), "
               f"macro F1 <b>{res.macro_f1:.3f}</b>, ECE {res.ece:.3f}, NLL {res.nll:.3f} on {res.n} images"
               f"{' (mirror-averaged)' if res.tta_flip else ''}{', prior-corrected' if res.balanced else ''}; "
               f"temperature {res.temperature:.3f}</p>")
    rows = [[c, f"{100 * r['precision']:.1f}%", f"{100 * r['recall']:.1f}%", f"{r['f1']:.3f}", r["support"]]
            for c, r in res.per_class().items()]
    notes = []
    if res.left_out_classes:
        notes.append("left out (the model lacks the class): " + ", ".join(f"{k} ({v})" for k, v in res.left_out_classes.items()))
    if res.skipped_files:
        notes.append(f"{len(res.skipped_files)} unreadable file(s) skipped (listed in eval.json)")
    title = f"{res.model} on {res.dataset}"
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}</style>"
            f"</head><body><h1>{html.escape(title)}</h1>{summary}"
            + "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
            + _img(out / "confusion.png") + "<h2>Per class</h2>"
            + _table(["class", "precision", "recall", "F1", "images"], rows)
            + (f"<p class='note'>{html.escape(command)}</p>" if command else "") + "</body></html>")
    atomic_write_text(out / "report.html", page)
    return out / "report.html"


def build_analysis_report(table: str | Path, out: str | Path | None = None, video: str | Path | None = None,
                          smooth: int = 5) -> Path:
    """One page for an ``analyze`` table: the counts on top, then for each video the probability of
    each emotion over time per face (a running mean over ``smooth`` frames), with ``video`` (the
    annotated one) embedded to play beside it."""
    import pandas as pd

    from .inference.annotate import COLOURS
    from .labels import EMOTIONS

    table = Path(table)
    df = pd.read_json(table, lines=True) if table.suffix == ".jsonl" else (
        pd.read_parquet(table) if table.suffix == ".parquet" else pd.read_csv(table))
    missing = {"path", "frame", "face", "emotion", "time_s"} - set(df.columns)
    if missing:
        raise ValueError(f"{table}: not an analyze table (no {', '.join(sorted(missing))} column)")
    faces = df[df["emotion"].notna()]
    skipped = df[df["note"].fillna("").astype(str).str.startswith("skipped")] if "note" in df else df.iloc[:0]
    counts = faces["emotion"].value_counts()
    parts = [f"<h1>{html.escape(table.name)}</h1>",
             f"<p><b>{df['path'].nunique() - len(skipped)}</b> input(s), <b>{df.dropna(subset=['frame']).groupby(['path', 'frame']).ngroups}</b> "
             f"frame(s), <b>{len(faces)}</b> face(s): " + ", ".join(f"{e} {n}" for e, n in counts.items()) +
             (f"; {len(skipped)} input(s) skipped" if len(skipped) else "") + "</p>"]
    path = Path(out) if out else table.with_suffix(".html")
    if video is not None:
        parts.append(_video_tag(Path(video), path.parent))
    plt = _pyplot()
    for source, rows in faces[faces["time_s"].notna()].groupby("path", sort=False):
        key = "face_id" if "face_id" in rows and rows["face_id"].notna().any() else "face"
        every = sorted(rows[key].dropna().astype(int).unique())
        ids = every[:6]
        fig, axes = plt.subplots(len(ids), 1, figsize=(8, 2.2 * len(ids)), sharex=True, squeeze=False)
        for ax, face in zip(axes[:, 0], ids):
            one = rows[rows[key] == face].sort_values("time_s")
            for e in EMOTIONS:
                if e in one and one[e].notna().any():
                    ax.plot(one["time_s"], one[e].rolling(smooth, center=True, min_periods=1).mean(),
                            color=[c / 255 for c in COLOURS[e]], label=e)
            ax.set_ylim(0, 1)
            ax.set_ylabel(f"face {face}")
        axes[0, 0].legend(loc="upper right", fontsize=7, ncol=4)
        axes[-1, 0].set_xlabel("time (s)")
        fig.suptitle(f"{Path(source).name}: emotion probabilities over time (mean of {smooth} frames)", fontsize=9)
        fig.tight_layout()
        more = f"; the first 6 of {len(every)} faces are shown" if len(every) > 6 else ""
        parts.append(f"<h2>{html.escape(Path(source).name)}</h2><img alt='emotions over time' src='{_png_uri(fig)}'>"
                     f"<p class='note'>one person keeps one face number while in view (tracked across frames){more}</p>")
    if len(skipped):
        parts.append("<h2>Skipped</h2>" + _table(["input", "why"], skipped[["path", "note"]].values.tolist()))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(table.name)}</title>"
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>")
    atomic_write_text(path, page)
    return path


def _video_tag(path: Path, page_dir: Path, limit_mb: int = 40) -> str:
    """The annotated video, embedded when small enough, else linked relative to the page."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video")
    kind = "video/webm" if path.suffix.lower() == ".webm" else "video/mp4"
    if path.stat().st_size > limit_mb * 2**20:
        import os

        return f"<video controls width='640' src='{html.escape(os.path.relpath(path, page_dir))}'></video>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<video controls width='640' src='data:{kind};base64,{data}'></video>"
