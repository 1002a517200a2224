"""Nothing lost, nothing silent: bad options, interrupted runs and reruns into old folders each get a
one-line answer, a non-zero exit where nothing useful was done, and never a destroyed output."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image

from conftest import write_class_folder
from facsnet.cli import main
from facsnet.inference import Analyzer
from facsnet.samples import sample_path

TRAIN = ["--epochs", "1", "--batch-size", "8", "--precision", "fp32", "--no-progress"]


def test_analyze_where_every_input_fails_keeps_the_existing_table(tmp_path, capsys, caplog):
    table = tmp_path / "table.csv"
    table.write_text("path,emotion\ngood.jpg,happy\n")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert main(["-q", "analyze", str(broken), "--out", str(table)]) == 1
    assert table.read_text() == "path,emotion\ngood.jpg,happy\n"
    err = capsys.readouterr().err
    assert "broken.jpg" in caplog.text and "skipped 1 source" in err and "table in" not in err


def test_a_tiny_image_is_no_face_and_the_good_photos_survive(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(sample_path("astronaut.jpg")).save(folder / "a.jpg")
    for name, size in (("dot.png", (1, 1)), ("line.png", (500, 1)), ("column.png", (1, 3))):
        Image.new("RGB", size, (90, 90, 90)).save(folder / name)
    assert main(["-q", "analyze", str(folder), "--out", str(tmp_path / "t.csv")]) == 0
    df = pd.read_csv(tmp_path / "t.csv")
    by_file = {p.split("/")[-1]: e for p, e in zip(df["path"], df["emotion"])}
    assert by_file["a.jpg"] == "happy"
    assert all(pd.isna(by_file[n]) for n in ("dot.png", "line.png", "column.png"))


def test_ctrl_c_during_analyze_keeps_the_finished_rows(tmp_path, monkeypatch, capsys):
    photos = [str(sample_path(n)) for n in ("astronaut.jpg", "grace_hopper.jpg", "group.jpg")]
    real = Analyzer._analyze_source

    def stop_at_the_third(self, source, n, *args, **kwargs):
        if n == 2:
            raise KeyboardInterrupt
        return real(self, source, n, *args, **kwargs)

    monkeypatch.setattr(Analyzer, "_analyze_source", stop_at_the_third)
    table = tmp_path / "t.csv"
    table.write_text("an earlier, complete table\n")
    assert main(["-q", "analyze", *photos, "--out", str(table)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "t.partial.csv" in err and "Traceback" not in err
    assert table.read_text() == "an earlier, complete table\n"            # replaced only by a complete table
    kept = pd.read_csv(tmp_path / "t.partial.csv")
    assert sorted(p.split("/")[-1] for p in kept["path"]) == ["astronaut.jpg", "grace_hopper.jpg"]


def test_ctrl_c_during_training_says_how_to_resume(tmp_path, monkeypatch, capsys):
    """After an epoch was kept (a last.pt in --out) the message says how to resume; before, that nothing was
    written yet (the run record alone is no finished epoch)."""
    import facsnet.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(facsnet.api, "train", interrupted)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert main(["-q", "train", "--data", str(tmp_path), "--out", str(run)]) == 130
    err = capsys.readouterr().err
    assert "interrupted; nothing was written yet" in err and "resumes" not in err
    (run / "last.pt").write_bytes(b"an epoch")
    assert main(["-q", "train", "--data", str(tmp_path), "--out", str(run)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "resumes" in err and str(run) in err and "Traceback" not in err


@pytest.mark.parametrize("argv,message", [
    (["train", "--batch-size", "0"], "batch_size = 0"),
    (["train", "--batch-size", "-4"], "batch_size = -4"),
    (["train", "--epochs", "-3"], "epochs = -3"),
    (["train", "--val-fraction", "0"], "--val-fraction 0.0"),
    (["cv", "--k", "0"], "k = 0"),
    (["cv", "--k", "2", "--folds", "5"], "fold(s) 5 do not exist"),
    (["analyze", "--min-face-score", "5"], "min_face_score = 5.0"),
    (["analyze", "--stride", "0"], "stride = 0"),
    (["analyze", "--detect-every", "0"], "detect_every = 0"),
])
def test_out_of_range_options_are_one_line_errors(tmp_path, capsys, argv, message):
    verb, *rest = argv
    data = write_class_folder(tmp_path / "d", per_class=4) if verb in ("train", "cv") else None
    where = ["--data", str(data), "--out", str(tmp_path / "out")] if data else []
    inputs = [str(sample_path("astronaut.jpg"))] if verb == "analyze" else []
    assert main(["-q", verb, *inputs, *where, *rest]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith(f"facsnet {verb}: error:")
    assert not (tmp_path / "out").exists()                                 # refused before any work


def test_a_one_class_dataset_is_refused(tmp_path, capsys):
    data = write_class_folder(tmp_path / "d", classes=("happy",), per_class=8)
    assert main(["-q", "train", "--data", str(data), *TRAIN, "--out", str(tmp_path / "run")]) == 2
    assert "at least 2" in capsys.readouterr().err


def test_cv_rerun_with_other_settings_is_refused_until_overwrite(tmp_path, capsys):
    data = write_class_folder(tmp_path / "d", per_class=6, subjects=4)
    out = tmp_path / "cv"
    common = ["-q", "cv", "--data", str(data), "--subject-pattern", r"^(S\d+)_", *TRAIN, "--out", str(out)]
    assert main([*common, "--k", "2"]) == 0
    first = json.loads((out / "cv.json").read_text())
    assert main([*common, "--k", "3"]) == 2                                # other folds: refused
    err = capsys.readouterr().err
    assert "k: 2 -> 3" in err and "--overwrite" in err
    assert json.loads((out / "cv.json").read_text()) == first              # the old result is untouched
    other = write_class_folder(tmp_path / "e", per_class=7, subjects=4, seed=3)
    assert main(["-q", "cv", "--data", str(other), "--subject-pattern", r"^(S\d+)_", *TRAIN, "--out", str(out),
                 "--k", "2"]) == 2                                         # other data: refused
    assert "fingerprint" in capsys.readouterr().err
    assert main([*common, "--k", "3", "--overwrite"]) == 0                 # explicitly afresh
    assert json.loads((out / "cv.json").read_text())["k"] == 3
    assert sorted(p.name for p in out.glob("fold*")) == ["fold01", "fold02", "fold03"]


def test_train_rerun_with_the_same_settings_resumes_and_with_other_data_is_refused(tmp_path, capsys):
    data = write_class_folder(tmp_path / "d", per_class=10)
    out = tmp_path / "run"
    args = ["-q", "train", "--data", str(data), *TRAIN, "--out", str(out)]
    assert main(args) == 0
    stamp = (out / "last.pt").stat().st_mtime_ns                           # written at every epoch's end
    assert main(args) == 0                                                 # done already: nothing retrained
    assert (out / "last.pt").stat().st_mtime_ns == stamp
    other = write_class_folder(tmp_path / "e", per_class=11, seed=5)
    assert main(["-q", "train", "--data", str(other), *TRAIN, "--out", str(out)]) == 2
    assert "holds a run with other settings or data" in capsys.readouterr().err


@pytest.mark.parametrize("make_out,message", [
    (lambda t: t / "a_folder" / "x.csv", "is a folder"),
    (lambda t: t / "a_file.txt" / "t.csv", "is a file, not a folder"),
    (lambda t: t / "t.xlsx", "suffix"),
])
def test_bad_output_paths_are_refused_before_any_work(tmp_path, capsys, make_out, message):
    (tmp_path / "a_folder").mkdir()
    (tmp_path / "a_folder" / "x.csv").mkdir()
    (tmp_path / "a_file.txt").write_text("x")
    out = make_out(tmp_path)
    assert main(["-q", "analyze", str(sample_path("astronaut.jpg")), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert main(["-q", "export", "fer2013", str(tmp_path / "a_folder")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_evaluate_refuses_what_it_cannot_score(tmp_path, capsys):
    other = write_class_folder(tmp_path / "d", classes=("contempt",), per_class=3)   # fer2013 lacks contempt
    assert main(["-q", "evaluate", "--model", "fer2013", "--data", str(other)]) == 2
    assert "nothing to score" in capsys.readouterr().err
    happy = write_class_folder(tmp_path / "h", classes=("happy", "sadness"), per_class=3)
    assert main(["-q", "evaluate", "--model", "ckplus_au", "--data", str(happy)]) == 2
    assert "au model" in capsys.readouterr().err
    from facsnet.models import create_model
    from facsnet.models.checkpoint import save_checkpoint

    big = create_model("breuer2017", num_classes=2, img_size=64, class_names=["happy", "sadness"])
    save_checkpoint(tmp_path / "m64.pt", big, "breuer2017")
    assert main(["-q", "evaluate", "--model", str(tmp_path / "m64.pt"), "--data", str(happy)]) == 2
    assert "takes 64x64 faces but" in capsys.readouterr().err


def test_a_checkpoint_whose_weights_do_not_fit_its_declared_model_is_named(tmp_path, capsys):
    import torch

    from facsnet.models.hub import resolve_weights
    from facsnet.models.checkpoint import CheckpointError, model_from_checkpoint

    ckpt = torch.load(resolve_weights("fer2013"), weights_only=True)
    ckpt["class_names"] = ckpt["class_names"][:5]
    ckpt["model_config"] = {**ckpt["model_config"], "num_classes": 5}
    bad = tmp_path / "bad.pt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match=r"bad.pt: its declared model \(breuer2017, 5 classes\) does not fit"):
        model_from_checkpoint(bad)
    happy = write_class_folder(tmp_path / "h", classes=("happy", "sadness"), per_class=3)
    assert main(["-q", "evaluate", "--model", str(bad), "--data", str(happy)]) == 2
    assert "bad.pt" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".gif", ".tiff", ".webp"])
def test_every_frame_of_a_multi_frame_image_is_analysed(tmp_path, suffix):
    face = Image.open(sample_path("astronaut.jpg")).convert("RGB")
    grey = Image.new("RGB", face.size, (128, 128, 128))
    path = tmp_path / f"three{suffix}"
    face.save(path, save_all=True, append_images=[grey, face.transpose(Image.FLIP_LEFT_RIGHT)])
    result = Analyzer().analyze(path)
    assert [fr.frame for fr in result.frames] == [0, 1, 2]
    assert [len(fr.faces) for fr in result.frames] == [1, 0, 1]
    assert result.frames[0].faces[0].emotion == "happy"


def test_a_folder_finds_photos_by_content_and_lists_what_it_ignored(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    face = Image.open(sample_path("astronaut.jpg")).convert("RGB")
    face.save(folder / "portrait.jfif", format="JPEG")
    face.save(folder / "no_suffix", format="PNG")
    (folder / "notes.txt").write_text("not a picture")
    (folder / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (folder / "sub").mkdir()
    (folder / ".DS_Store").write_bytes(b"\0\1")
    result = Analyzer().analyze(folder)
    assert sorted(fr.path.split("/")[-1] for fr in result.frames) == ["no_suffix", "portrait.jfif"]
    assert set(result.emotions) == {"happy"}
    reasons = {src.split("/")[-1]: why for src, why in result.skipped}
    assert set(reasons) == {"notes.txt", "gone.jpg", "sub"}
    assert "broken link" in reasons["gone.jpg"] and "not a photo or video" in reasons["notes.txt"]
    assert "not searched recursively" in reasons["sub"]


def test_a_table_lists_its_skipped_inputs_with_the_reason(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "t.csv"
    assert main(["-q", "analyze", str(sample_path("astronaut.jpg")), str(broken), "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert df["emotion"].tolist()[0] == "happy" and len(df) == 2
    last = df.iloc[-1]
    assert last["path"].endswith("broken.jpg") and last["note"].startswith("skipped:") and "broken.jpg" in last["note"]


def _three_frame(path, face):
    grey = Image.new("RGB", face.size, (128, 128, 128))
    face.save(path, save_all=True, append_images=[grey, face.transpose(Image.FLIP_LEFT_RIGHT)])
    return path


@pytest.mark.parametrize("suffix", [".gif", ".tiff"])
def test_a_damaged_multi_frame_image_is_skipped_and_the_batch_goes_on(tmp_path, suffix):
    face = Image.open(sample_path("astronaut.jpg")).convert("RGB").resize((160, 160))
    whole = _three_frame(tmp_path / f"whole{suffix}", face).read_bytes()
    for cut in (len(whole) // 3, len(whole) // 2, 2 * len(whole) // 3, len(whole) - 7):
        half = tmp_path / f"half{cut}{suffix}"
        half.write_bytes(whole[:cut])
        result = Analyzer().analyze([half, sample_path("grace_hopper.jpg")])
        assert result.frames[-1].path.endswith("grace_hopper.jpg") and result.frames[-1].faces
        assert all(src.endswith(half.name) for src, _ in result.skipped)


def test_max_frames_and_stride_apply_to_animations_and_a_jpeg_preview_is_no_frame(tmp_path):
    face = Image.open(sample_path("astronaut.jpg")).convert("RGB")
    gif = _three_frame(tmp_path / "three.gif", face)
    assert [fr.frame for fr in Analyzer().analyze(gif, max_frames=2).frames] == [0, 1]
    assert [fr.frame for fr in Analyzer().analyze(gif, stride=2).frames] == [0, 2]
    mpo = tmp_path / "phone.jpg"                        # a JPEG carrying a second, embedded image
    face.save(mpo, format="MPO", save_all=True, append_images=[face.resize((64, 64))])
    assert Image.open(mpo).format == "MPO" and getattr(Image.open(mpo), "n_frames", 1) == 2
    result = Analyzer().analyze(mpo)
    assert [fr.frame for fr in result.frames] == [0] and result.emotions == ["happy"]


def test_two_processes_filling_the_same_cache_and_writing_the_same_table_never_leave_half_a_file(tmp_path):
    """Both export the ONNX cache of one model and write one table at the same moment: each
    succeeds, the cache loads, and the table is one complete version (atomic replace)."""
    import os
    import subprocess
    import sys

    script = (
        "import sys, facsnet\n"
        "from facsnet.inference import FaceClassifier\n"
        "clf = FaceClassifier('fer2013', backend='onnx')\n"
        "facsnet.analyze(sys.argv[1], out=sys.argv[2], backend='onnx')\n"
    )
    env = {**os.environ, "FACSNET_CACHE": str(tmp_path / "cache")}
    table = tmp_path / "t.csv"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(sample_path(name)), str(table)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in ("astronaut.jpg", "grace_hopper.jpg")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    onnx_files = list((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert onnx_files and not list((tmp_path / "cache" / "onnx").glob("*.tmp"))
    from facsnet.inference import OnnxModel

    assert all(OnnxModel(f).class_names for f in onnx_files)
    df = pd.read_csv(table)
    assert len(df) == 1 and df["path"].iloc[0].split("/")[-1] in ("astronaut.jpg", "grace_hopper.jpg")


def test_rows_are_streamed_so_a_crash_keeps_them_and_success_leaves_no_partial(tmp_path, monkeypatch):
    import facsnet

    photos = [str(sample_path(n)) for n in ("astronaut.jpg", "grace_hopper.jpg", "group.jpg")]
    out = tmp_path / "t.parquet"
    facsnet.analyze(photos, out=str(out))
    assert out.exists() and not (tmp_path / "t.partial.jsonl").exists()   # complete: no partial left
    real = Analyzer._analyze_source

    def crash_at_the_third(self, source, n, *args, **kwargs):
        if n == 2:
            raise RuntimeError("power cut")
        return real(self, source, n, *args, **kwargs)

    monkeypatch.setattr(Analyzer, "_analyze_source", crash_at_the_third)
    with pytest.raises(RuntimeError, match="power cut"):
        facsnet.analyze(photos, out=str(out))
    kept = pd.read_json(tmp_path / "t.partial.jsonl", lines=True)
    assert sorted(p.split("/")[-1] for p in kept["path"]) == ["astronaut.jpg", "grace_hopper.jpg"]
    assert kept["emotion"].notna().all() and "happy" in kept["emotion"].tolist()


def test_settings_added_later_at_their_off_value_do_not_block_a_resume():
    """A run recorded before a setting existed resumes when the setting stays off; turned on, it is
    another run. A data set shown under another label is the same data (its fingerprint decides)."""
    from facsnet.training.run_folder import differences

    old = {"train_config": {"augment": {"flip": 0.5}}, "data": {"val": {"name": "validation", "fingerprint": "ab"}}}
    same = {"train_config": {"augment": {"flip": 0.5, "blur": 0.0, "jpeg": 0}},
            "data": {"val": {"name": "fer2013-validation", "fingerprint": "ab"}}}
    assert differences(old, same) == []
    other = {"train_config": {"augment": {"flip": 0.5, "blur": 0.2}}, "data": {"val": {"name": "x", "fingerprint": "cd"}}}
    assert differences(old, other) == ["data.val.fingerprint: \"ab\" -> \"cd\"", "train_config.augment.blur: absent -> 0.2"]
