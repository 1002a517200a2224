"""Screenshots of each kind of report page, rendered in headless Chromium, for docs/screenshots/.

    python scripts/report_screenshots.py [--out docs/screenshots]

Kinds: a training run (the committed curve of results/runs/fer2013_paper_warmup), an evaluation
(`facsnet evaluate --model fer2013_vgg_ens --data ckplus48 --out ...`, needs ../shared/data), a video
analysis (the bundled clip, analysed and annotated), the interpretability results of CK+48
(results/interpret/ckplus48) and the whole results folder. Needs `chromium` (apt-get install chromium).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import screenshot  # noqa: E402
from facsnet.cli import main as facsnet  # noqa: E402
from facsnet.report import build_analysis_report, build_report  # noqa: E402
from facsnet.samples import sample_path  # noqa: E402


def pages(tmp: Path) -> dict[str, Path]:
    out = {"training": build_report(ROOT / "results" / "runs" / "fer2013_paper_warmup", tmp / "training.html",
                                    title="training run: the paper's CNN with warm-up")}
    if facsnet(["-q", "evaluate", "--model", "fer2013_vgg_ens", "--data", "ckplus48", "--out", str(tmp / "eval")]) == 0:
        out["evaluation"] = tmp / "eval" / "report.html"
    clip = tmp / "clip.mp4"
    shutil.copy(sample_path("clip.mp4"), clip)
    if facsnet(["-q", "analyze", str(clip), "--out", str(tmp / "clip.csv"), "--annotate", str(tmp / "clip_annotated.mp4")]) == 0:
        out["video_analysis"] = build_analysis_report(tmp / "clip.csv", tmp / "clip.html", video=tmp / "clip_annotated.mp4")
    out["interpretability"] = build_report(ROOT / "results" / "interpret" / "ckplus48", tmp / "interpret.html",
                                           title="inside the CK+48 model")
    out["results"] = build_report(ROOT / "results", tmp / "results.html", title="facsnet results")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, page in pages(Path(tmp)).items():
            errors = screenshot(page, out / f"{kind}.png", width=1100, height=1400)
            print(f"{kind}: {out / f'{kind}.png'}" + (f" (console: {errors})" if errors else ""))


if __name__ == "__main__":
    main()
