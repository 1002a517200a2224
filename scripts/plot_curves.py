"""The measured training curves behind the accuracy targets, as one figure (results/curves.png):

- left: every member of the default model, hold-out accuracy (mirror-averaged) after each epoch, with the
  bundled ensemble's hold-out score and the hold-out score that 72% on PublicTest would need (72% plus the
  bundled model's measured hold-out-to-PublicTest gap);
- right: the paper's CNN under each recipe trained to the end, PublicTest accuracy after each epoch (watched,
  never chosen on), with the 68% goal and the paper's 72.1%.

    python scripts/plot_curves.py [results/curves.png]

Reads results/summary.json (run `python scripts/collect_results.py` first) and the run histories it names.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from facsnet.figures import Curve, CurvePanel, curves_figure, save_figure_png

RES = Path(__file__).resolve().parents[1] / "results"
# the two members of `default_model.sh finish`; later members are named by their grow step in summary.json
FIRST_MEMBERS = {"A": "fer2013_vgg48", "B": "fer2013_vgg48_small"}
# the paper's CNN trained to the end of a schedule: run folder under results/runs -> (its key under `fer2013`
# in summary.json, a short legend)
PAPER_RUNS = {"fer2013_paper_warmup": ("warmup_run", "paper's recipe + 2,000-step warm-up"),
              "fer2013_paper_modern": ("modern_recipe_run", "default model's recipe"),
              "fer2013_paper_kd": ("distilled_run", "distilled from the default model"),
              "fer2013_paper_kd100": ("distilled_run_100", "distilled from the default model")}
PAPER_ACCURACY = 0.721   # the paper's reported FER2013 accuracy
PAPER_CNN_GOAL = 0.68
DEFAULT_MODEL_GOAL = 0.72


def history_curve(path: Path, label: str) -> Curve:
    rows = json.loads(path.read_text())
    return Curve(label, tuple(r["epoch"] for r in rows), tuple(r["val_accuracy"] for r in rows))


def member_panel(summary: dict) -> CurvePanel:
    dm = summary["default_model"]
    runs = dict(FIRST_MEMBERS) | {letter: g["run"] for letter, g in dm.get("grow", {}).items()}
    curves = []
    for letter, run in runs.items():
        path = RES / "runs" / "default_model" / f"history_{run}.json"
        if path.exists():
            curves.append(history_curve(path, f"{letter}: {run}"))
    gap = dm["holdout"]["accuracy"] - dm["publictest"]["accuracy"]
    references = [(f"bundled ensemble on the hold-out: {100 * dm['holdout']['accuracy']:.1f}%", dm["holdout"]["accuracy"]),
                  (f"the hold-out score that {100 * DEFAULT_MODEL_GOAL:.0f}% on PublicTest needs: {100 * (DEFAULT_MODEL_GOAL + gap):.1f}% "
                   f"(bundled model's gap {100 * gap:.1f} points)", DEFAULT_MODEL_GOAL + gap)]
    return CurvePanel("default model's members: FER2013 Training hold-out (2,871 faces), mirror-averaged",
                      "hold-out accuracy (%)", tuple(curves), tuple(references), ymin=55)


def paper_panel(summary: dict) -> CurvePanel:
    curves = []
    for run, (key, legend) in PAPER_RUNS.items():
        entry = summary["fer2013"].get(key)
        path = RES / "runs" / run / "history.json"
        if entry and path.exists():
            done = f"{entry['epochs_done']} of {entry['epochs_planned']} epochs"
            curves.append(history_curve(path, f"{legend} ({done})"))
    references = [(f"goal: {100 * PAPER_CNN_GOAL:.0f}%", PAPER_CNN_GOAL),
                  (f"the paper: {100 * PAPER_ACCURACY:.1f}%", PAPER_ACCURACY)]
    return CurvePanel("the paper's CNN: FER2013 PublicTest (3,589 faces), watched, not chosen on",
                      "PublicTest accuracy (%)", tuple(curves), tuple(references), ymin=50)


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else RES / "curves.png"
    summary = json.loads((RES / "summary.json").read_text())
    save_figure_png(curves_figure([member_panel(summary), paper_panel(summary)]), out)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
