"""``facsnet report RUN_DIR``: one self-contained HTML page (figures embedded as data URIs) of what a
run or results folder holds: a summary on top, training curves, cross-validation tables and confusion
matrices, evaluation scores, live filters and the filter-AU correlation, the result tables of the
AU, transfer and micro-expression runs, benchmarks, and figures."""
from __future__ import annotations

import html
import json
from pathlib import Path

from .page import img_file, markdown_html, png_uri, pyplot, readable, table, write_page

# summary.json figures shown on top of a results folder's page: (what, dotted key, format)
HEADLINES = [
    ("default model, FER2013 PublicTest accuracy", "default_model.publictest.accuracy", "pct"),
    ("default model, balanced recall (UAR)", "default_model.publictest.uar", "pct"),
    ("default model, calibration error (ECE)", "default_model.publictest.ece", "3f"),
    ("default model on all of CK+48", "default_model.ckplus48.accuracy", "pct"),
    ("CK+, subjects never seen in training (10 folds)", "ckplus.cv10_subject.accuracy_mean", "pct"),
    ("Action Units on CK+ (subject folds): F1", "au.ckplus.single_balanced.f1_mean", "3f"),
    ("AU intensity 0-5 on CK+: MSE", "au.ckplus.intensity.mse", "3f"),
    ("micro-expressions, MEGC 2019 (leave one subject out): UF1", "micro.megc2019.flow.uf1", "3f"),
    ("head pose on faces turned by known angles: mean abs. error (deg)", "pose.mae_deg", "1f"),
    ("video frames/s end to end on a 2-core CPU", "bench.video_fps", "0f"),
]
TABLE_FOLDERS = {"au": "Action Units", "transfer": "Transfer", "micro": "Micro-expressions"}


def _dotted(d: dict, key: str):
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _fmt(value, how: str) -> str:
    return f"{100 * value:.1f}%" if how == "pct" else format(value, f".{how}")


def _summary(root: Path, counts: dict[str, int]) -> str:
    found = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    rows = []
    summary = root / "summary.json"
    if summary.is_file():
        s = json.loads(summary.read_text())
        rows = [[what, _fmt(v, how), key] for what, key, how in HEADLINES
                if isinstance(v := _dotted(s, key), (int, float))]
    head = f"<div class='summary'><p>{html.escape(found or 'nothing recognised')}</p>"
    return head + (table(["figure", "value", "key in summary.json"], rows) if rows else "") + "</div>"


def _training_section(path: Path, root: Path) -> str:
    """A training run's curves: training loss and validation accuracy per epoch."""
    history = json.loads(path.read_text())
    epochs = [int(h["epoch"]) for h in history]
    if not epochs:
        raise ValueError("no epochs recorded")
    plt = pyplot()
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
            f"<img alt='training curves' src='{png_uri(fig)}'>")


def _cv_section(path: Path, root: Path) -> str:
    r = json.loads(path.read_text())
    out = [f"<h3>{html.escape(str(path.parent.relative_to(root)))}</h3>",
           f"<p>{html.escape(r['dataset'])}, protocol <b>{html.escape(r['protocol'])}</b>, {r['k']} folds: "
           f"<b>{100 * r['accuracy_mean']:.2f}% &plusmn; {100 * r['accuracy_std']:.2f}</b></p>",
           table(["fold", "accuracy"], [[i + 1, f"{100 * a:.2f}%"] for i, a in enumerate(r["fold_accuracies"])]),
           table(["class", "recall"], [[c, f"{100 * v:.1f}%"] for c, v in r["per_class_recall"].items()])]
    png = path.parent / "confusion.png"
    if png.exists():
        out.append(img_file(png))
    return "\n".join(out)


def _au_number(name: str) -> int:
    digits = "".join(ch for ch in name.split()[0] if ch.isdigit())
    return int(digits) if digits else 10**6


def _matched_figure(correlations: list[dict]) -> str:
    """Filters matched to an AU (P(j,u) = 1) against the same count with the AU labels shuffled."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 2.8))
    x = range(len(correlations))
    ax.bar([i - 0.2 for i in x], [c["matched"] for c in correlations], width=0.4, color="#1f77b4", label="matched")
    ax.bar([i + 0.2 for i in x], [c["matched_permuted_mean"] for c in correlations], width=0.4, color="#bbb",
           yerr=[c["matched_permuted_std"] for c in correlations], capsize=3, label="shuffled AUs (mean, std)")
    ax.set_xticks(list(x), [f"N = {c['n']}" for c in correlations])
    ax.set_ylabel("live filters")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return f"<img alt='matched against shuffled filter counts' src='{png_uri(fig)}'>"


def _au_section(path: Path, root: Path) -> str:
    r = json.loads(path.read_text())
    out = [f"<h3>{html.escape(r['model'])} on {html.escape(r['dataset'])}</h3>",
           table(["layer", "live filters"], [[k, f"{v} / {r['total_filters'][k]}"] for k, v in r["alive_filters"].items()]),
           _matched_figure(r["correlations"]),
           table(["N", "live", "matched (P=1)", "shuffled AUs: mean ± std"],
                 [[c["n"], c["alive"], c["matched"], f"{c['matched_permuted_mean']:.1f} ± {c['matched_permuted_std']:.1f}"]
                  for c in r["correlations"]])]
    for c in r["correlations"]:
        by_au: dict[str, list[int]] = {}
        for m in c["matches"]:
            by_au.setdefault(m["name"], []).append(m["filter"])
        rows = [[k, len(v), ", ".join(map(str, v))] for k, v in sorted(by_au.items(), key=lambda kv: _au_number(kv[0]))]
        out.append(f"<p class='note'>N = {c['n']}</p>" + table(["AU", "filters", "which"], rows))
    return "\n".join(out)


def _eval_row(p: Path) -> list | None:
    r = json.loads(p.read_text())
    if "accuracy" in r and "n" in r:
        uar = f"{100 * float(r['uar']):.2f}%" if r.get("uar") is not None else ""
        return [p.stem, str(r.get("dataset", "")), int(r["n"]), f"{100 * float(r['accuracy']):.2f}%", uar]
    return None


def _numbers(d, prefix: str = "", depth: int = 3) -> list[tuple[str, float]]:
    """The numeric leaves of a JSON object as (dotted key, value), lists left out."""
    out = []
    for k, v in (d.items() if isinstance(d, dict) else []):
        key = f"{prefix}{k}"
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out.append((key, v))
        elif isinstance(v, dict) and depth > 1:
            out.extend(_numbers(v, key + ".", depth - 1))
    return out


def _bench_section(path: Path, limit: int = 14) -> str:
    r = json.loads(path.read_text())
    rows = [[k, f"{v:.4g}"] for k, v in _numbers(r) if not k.startswith("seconds")][:limit]
    host = r.get("host") if isinstance(r.get("host"), str) else ""
    command = r.get("command", "")
    command = "; ".join(command) if isinstance(command, list) else str(command)
    return (f"<h3>{html.escape(path.stem)}</h3>" + table(["figure", "value"], rows)
            + (f"<p class='note'>{html.escape(host)}</p>" if host else "")
            + (f"<p class='note'>{html.escape(command)}</p>" if command else ""))


def _tables_section(path: Path, root: Path) -> str:
    return f"<h3>{html.escape(str(path.relative_to(root)))}</h3>" + markdown_html(path.read_text())


def build_report(run_dir: str | Path, out: str | Path | None = None, title: str = "facsnet report") -> Path:
    """Write ``out`` (default ``RUN_DIR/report.html``) and return its path."""
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such run folder")
    unreadable: list[str] = []
    sections: list[tuple[str, list[str]]] = []

    def add(name: str, parts: list[str]) -> int:
        if parts:
            sections.append((name, parts))
        return len(parts)

    counts = {
        "training run(s)": add("Training", readable(sorted(root.rglob("history.json")),
                                                    lambda p: _training_section(p, root), unreadable)),
        "cross-validation(s)": add("Cross-validation", readable(sorted(root.rglob("cv.json")),
                                                                lambda p: _cv_section(p, root), unreadable)),
    }
    evals = [r for r in readable(sorted(p for p in root.rglob("*.json") if p.parent.name == "eval" or p.name == "eval.json"),
                                 _eval_row, unreadable) if r]
    if evals:
        sections.append(("Evaluations", [table(["file", "dataset", "n", "accuracy", "UAR"], evals)]))
    counts["evaluation(s)"] = len(evals)
    counts["filter-AU analysis(es)"] = add("Live filters and filter-AU correlation", readable(
        sorted(root.rglob("au.json")), lambda p: _au_section(p, root), unreadable))
    for folder, name in TABLE_FOLDERS.items():
        files = sorted(p for p in (root / folder).rglob("*.md")) if (root / folder).is_dir() else []
        counts[f"{name.lower()} table(s)"] = add(name, readable(files, lambda p: _tables_section(p, root), unreadable))
    counts["benchmark(s)"] = add("Benchmarks", readable(sorted(root.glob("bench_*.json")) + sorted(root.glob("pose.json")),
                                                        _bench_section, unreadable))
    counts["figure(s)"] = add("Filter and AU figures", readable(
        sorted(p for p in root.rglob("*.png") if p.name != "confusion.png"), img_file, unreadable))
    if not sections:
        why = "; ".join(unreadable) or "no history.json, cv.json, eval/*.json, au.json, result tables or figures inside"
        raise ValueError(f"{root}: nothing to report ({why})")
    parts = [f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(str(root))}</p>", _summary(root, counts)]
    parts += [f"<h2>{html.escape(name)}</h2>" + "\n".join(body) for name, body in sections]
    if unreadable:
        parts.append("<h2>Left out</h2>" + "".join(f"<p class='note'>{html.escape(u)}</p>" for u in unreadable))
    return write_page(Path(out) if out else root / "report.html", title, parts)
