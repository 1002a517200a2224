"""The table of scripts/gpu_fer_recipes.sh: per recipe, the final-epoch accuracy on the 10%
hold-out of FER2013 Training (what chooses the recipe) and the final-epoch PublicTest accuracy of
the same recipe trained on all of Training (what is reported).

    python scripts/fer_recipes_table.py RUNS            # markdown table
    python scripts/fer_recipes_table.py RUNS --winner   # the chosen recipe's name ('' if none finished)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def recipe_rows(runs: Path) -> list[dict]:
    rows = []
    for sel in sorted(runs.glob("select_*")):
        name = sel.name.removeprefix("select_")
        rep = runs / f"report_{name}"
        hist, cfg = _load(sel / "history.json") or [], _load(sel / "config.json") or {}
        epochs = cfg.get("train_config", {}).get("epochs")
        plain, tta = _load(rep / "eval_publictest.json"), _load(rep / "eval_publictest_tta.json")
        rep_hist = _load(rep / "history.json") or []
        rows.append({
            "recipe": name,
            "finished": bool(hist) and len(hist) == epochs and len(rep_hist) == epochs,
            "epochs": f"{len(hist)} / {len(rep_hist)} of {epochs}",
            "holdout_final": hist[-1]["val_accuracy"] if hist else None,
            "publictest_final": plain["accuracy"] if plain else None,
            "publictest_final_tta": tta["accuracy"] if tta else None,
            "publictest_best_epoch": max(rep_hist, key=lambda r: r["val_accuracy"])["epoch"] if rep_hist else None,
            "publictest_best": max(r["val_accuracy"] for r in rep_hist) if rep_hist else None,
        })
    return rows


def winner(rows: list[dict]) -> str:
    done = [r for r in rows if r["finished"] and r["holdout_final"] is not None]  # both runs ran every epoch
    return max(done, key=lambda r: r["holdout_final"])["recipe"] if done else ""


def to_markdown(rows: list[dict]) -> str:
    pct = lambda v: "-" if v is None else f"{100 * v:.2f}"  # noqa: E731
    best = winner(rows)
    lines = ["| recipe | epochs done (select / report) | hold-out, final epoch (chooses) | PublicTest, final epoch | + mirror TTA | "
             "PublicTest, best epoch (selected on it; for reference) |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        mark = " (chosen)" if r["recipe"] == best else ""
        lines.append(f"| {r['recipe']}{mark} | {r['epochs']} | {pct(r['holdout_final'])} | {pct(r['publictest_final'])} | "
                     f"{pct(r['publictest_final_tta'])} | {pct(r['publictest_best'])} (epoch {r['publictest_best_epoch']}) |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--winner", action="store_true", help="print only the chosen recipe's name")
    args = ap.parse_args()
    rows = recipe_rows(args.runs)
    print(winner(rows) if args.winner else to_markdown(rows))


if __name__ == "__main__":
    main()
