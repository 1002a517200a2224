"""facsnet report: a self-contained page; rendered in headless Chromium where it is installed."""
import json
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import write_class_folder
from facsnet.data import read_class_folder
from facsnet.html_report import build_report
from facsnet.training import TrainConfig, cross_validate


@pytest.fixture
def run_dir(tmp_path):
    data = read_class_folder(write_class_folder(tmp_path / "d", per_class=6, subjects=4), subject_pattern=r"^(S\d+)_")
    cross_validate(data, TrainConfig(epochs=1, batch_size=8, progress=False, device="cpu", precision="fp32"),
                   k=2, out_dir=tmp_path / "run" / "cv")
    (tmp_path / "run" / "au").mkdir()
    (tmp_path / "run" / "au" / "au.json").write_text(json.dumps({
        "model": "m", "dataset": "d", "layer": "conv3", "eps": 0.0,
        "alive_filters": {"conv3": 2}, "total_filters": {"conv3": 4},
        "correlations": [{"n": 5, "alive": 2, "matched": 1, "matched_permuted_mean": 0.2, "matched_permuted_std": 0.4,
                          "permutations": 5, "matches": [{"filter": 1, "au": 12, "name": "AU12 lip corner puller"}]}]}))
    Image.fromarray(np.full((20, 40), 200, np.uint8)).save(tmp_path / "run" / "au" / "AU12_conv3_f001.png")
    return tmp_path / "run"


def test_report_embeds_everything(run_dir):
    page = build_report(run_dir).read_text()
    assert page.count("data:image/png;base64,") == 4              # two folds' curves, confusion matrix, AU figure
    assert "cv/fold01" in page and "cv/fold02" in page
    assert "subject" in page and "AU12 lip corner puller" in page and "2 / 4" in page
    assert "src=\"http" not in page and "<script" not in page      # nothing to fetch


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to report"):
        build_report(tmp_path)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    page = build_report(run_dir)
    shot = tmp_path / "shot.png"
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'u'}",
                        "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1000,1400",
                        page.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists(), r.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("L"))
    assert img.std() > 5                                          # not a blank page
    console = [line for line in r.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []                                          # no console errors


def test_a_training_run_is_reported_with_its_curves(tmp_path):
    data = read_class_folder(write_class_folder(tmp_path / "d", per_class=6))
    from facsnet.training import train

    train(data, data, TrainConfig(epochs=3, batch_size=8, progress=False, device="cpu", precision="fp32"),
          out_dir=tmp_path / "run")
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    best = max(history, key=lambda h: h["val_accuracy"])
    page = build_report(tmp_path / "run").read_text()
    assert "<h2>Training</h2>" in page and "3 epoch(s)" in page and page.count("data:image/png;base64,") == 1
    assert f"highest {100 * best['val_accuracy']:.2f}% at epoch {best['epoch']}" in page


def test_a_video_analysis_is_reported_with_emotions_over_time_and_the_video(tmp_path):
    from facsnet.cli import main
    from facsnet.samples import make_video

    clip = make_video(tmp_path / "clip.mp4", n_frames=12, size=(320, 240), faces=1, fps=10, face_height=120)
    table, video = tmp_path / "clip.csv", tmp_path / "clip_annotated.mp4"
    assert main(["-q", "analyze", str(clip), "--out", str(table), "--annotate", str(video), "--model", "fer2013"]) == 0
    assert main(["-q", "report", str(table), "--video", str(video)]) == 0
    page = (tmp_path / "clip.html").read_text()
    assert "<b>1</b> input(s), <b>12</b> frame(s), <b>12</b> face(s): happy 12" in page
    assert page.count("data:image/png;base64,") == 1 and "<video controls" in page and "data:video/mp4;base64," in page
    assert "emotions over time" in page
