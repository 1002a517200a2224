"""facsnet report: a self-contained page; rendered in headless Chromium where it is installed."""
import json

import numpy as np
import pytest
from PIL import Image

from browser import CHROMIUM, play, screenshot
from conftest import write_class_folder
from facsnet.data import read_class_folder
from facsnet.report import build_report
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
                          "permutations": 5, "matches": [{"filter": 1, "au": 12, "name": "AU12 lip corner puller"},
                                                         {"filter": 3, "au": 2, "name": "AU2 outer brow raiser"},
                                                         {"filter": 0, "au": 1, "name": "AU1 inner brow raiser"}]}]}))
    Image.fromarray(np.full((20, 40), 200, np.uint8)).save(tmp_path / "run" / "au" / "AU12_conv3_f001.png")
    return tmp_path / "run"


def test_report_embeds_everything(run_dir):
    page = build_report(run_dir).read_text()
    # two folds' curves, the confusion matrix, matched against shuffled filter counts, the AU figure
    assert page.count("data:image/png;base64,") == 5
    assert "cv/fold01" in page and "cv/fold02" in page
    assert "subject" in page and "AU12 lip corner puller" in page and "2 / 4" in page
    assert page.index("AU1 inner") < page.index("AU2 outer") < page.index("AU12 lip")   # AUs in numeric order
    assert "2 training run(s), 1 cross-validation(s)" in page and "class='summary'" in page
    assert "src=\"http" not in page and "<script" not in page      # nothing to fetch


def test_a_results_folder_gets_its_summary_tables_and_benchmarks(tmp_path):
    root = tmp_path / "results"
    (root / "au").mkdir(parents=True)
    (root / "au" / "ckplus_single.md").write_text("| AU | f1 |\n|---|---:|\n| AU1 | 0.928 |\n| AU12 | 0.916 |\n")
    (root / "transfer").mkdir()
    (root / "transfer" / "cross.md").write_text("# cross\n| model | ckplus48 |\n|---|---:|\n| fer2013 | 67.1 |\n")
    (root / "bench_x.json").write_text(json.dumps({"command": "python b.py", "host": "a 2-core CPU",
                                                   "frames_per_s": {"single": 95.4}, "seconds": [1, 2]}))
    (root / "summary.json").write_text(json.dumps({"pose": {"mae_deg": 3.52}, "au": {"ckplus": {"intensity": {"mse": 0.7382}}}}))
    page = build_report(root).read_text()
    assert "<h2>Action Units</h2>" in page and "<td>AU12</td><td>0.916</td>" in page
    assert "<h2>Transfer</h2>" in page and "<td>fer2013</td><td>67.1</td>" in page
    assert "<h2>Benchmarks</h2>" in page and "<td>frames_per_s.single</td><td>95.4</td>" in page and "a 2-core CPU" in page
    summary = page[page.index("class='summary'"):page.index("</div>")]
    assert "<td>3.5</td><td>pose.mae_deg</td>" in summary and "<td>0.738</td><td>au.ckplus.intensity.mse</td>" in summary
    assert "1 action units table(s), 1 transfer table(s)" in summary


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to report"):
        build_report(tmp_path)


NO_CHROMIUM = "headless Chromium is not installed (apt-get install chromium)"


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    shot = tmp_path / "shot.png"
    assert screenshot(build_report(run_dir), shot) == []          # no console errors
    img = np.asarray(Image.open(shot).convert("L"))
    assert img.std() > 5                                          # not a blank page


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
    # emotions, head pose and the strongest AU intensities over time, and the video
    assert page.count("data:image/png;base64,") == 3 and "<video controls" in page and "data:video/mp4;base64," in page
    assert "emotion probabilities" in page and "head pose (degrees)" in page and "intensity 0-5" in page
    if CHROMIUM is not None:            # the page renders, and the annotated video plays in the browser
        assert screenshot(tmp_path / "clip.html", tmp_path / "clip.png") == []
        assert play(video) == "played 320x240"


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_annotated_videos_play_in_headless_chromium(tmp_path, suffix):
    from facsnet.cli import main
    from facsnet.samples import make_video

    clip = make_video(tmp_path / "clip.mp4", n_frames=20, size=(320, 240), faces=1, fps=10, face_height=120)
    out = tmp_path / f"annotated{suffix}"
    assert main(["-q", "analyze", str(clip), "--annotate", str(out), "--no-aus", "--no-landmarks"]) == 0
    assert play(out) == "played 320x240"
