"""Micro-expressions: coding tables (real and generated), frame layouts, the CNN + LSTM, LOSO scoring.

The sequence-pipeline tests run on GENERATED clips (a bundled public-domain portrait with a drawn
mark that rises and falls around the coded apex), not on real micro-expression frames.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from conftest import REAL_DATA, realdata
from facsnet import api
from facsnet.cli import main as cli_main
from facsnet.micro import (COMPOSITE_VARIANTS, Clip, FrameError, FrameLocator, MicroConfig, MicroLSTM, TableError, composite_fold,
                           fit_cnn, load_clips, loso_folds, micro_scores, read_coding_table, read_megc2019, select_frames,
                           with_labels)
from facsnet.micro.model import adapt_input_channels, build_cnn
from facsnet.samples import face_patch

TABLES = REAL_DATA / "micro-expression-labels" / "Onset_Apex_Files"
CASME2_COLUMNS = ["Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion"]


# --- coding tables --------------------------------------------------------------------------------

@realdata("micro-expression-labels", "Onset_Apex_Files")
@pytest.mark.parametrize("rel, clips, subjects, reported, megc3", [
    ("CASME2/CASME2-coding-20140508.xlsx", 255, 26, 0, 147),
    ("SAMM/SAMM.xlsx", 159, 29, 0, 133),
    ("SMIC/smic_apex.xlsx", 164, 16, 7, 164),
    ("CASME3/casme3_table.xlsx", 858, 94, 2, 699),
    ("DFME/training_full_with_AU.xlsx", 1856, 176, 0, 1856),
    ("DFME/testA_full_with_AU.xlsx", 474, 42, 0, 474),
    ("DFME/testB_full_with_AU.xlsx", 299, 41, 0, 299),
])
def test_every_real_coding_table_parses(rel, clips, subjects, reported, megc3):
    t = read_coding_table(TABLES / rel)
    assert (len(t.clips), len(t.subjects), len(t.problems)) == (clips, subjects, reported)
    assert len(with_labels(t.clips, "megc3")[0]) == megc3
    assert all(c.onset <= c.offset for c in t.clips)
    assert len({c.key for c in t.clips}) == len(t.clips)  # keys identify clips


@realdata("micro-expression-labels", "Onset_Apex_Files")
def test_real_tables_known_rows():
    casme2 = read_coding_table(TABLES / "CASME2" / "CASME2-coding-20140508.xlsx")
    first = casme2.clips[0]
    assert (first.subject, first.clip, first.onset, first.apex, first.offset, first.aus, first.emotion) == \
        ("sub01", "EP02_01f", 46, 59, 86, ("12",), "happiness")
    assert first.label("megc3") == "positive"
    samm = read_coding_table(TABLES / "SAMM" / "SAMM.xlsx")
    assert samm.clips[0].subject == "006" and samm.clips[0].au_numbers == (4, 7) and samm.clips[0].objective == 3
    casme3 = read_coding_table(TABLES / "CASME3" / "casme3_table.xlsx")
    assert all("spNO.40/e" in p and "onset" in p for p in casme3.problems)
    smic = read_coding_table(TABLES / "SMIC" / "smic_apex.xlsx")
    assert all("offset" in p for p in smic.problems)


def write_casme2_table(path: Path, rows: list[list]) -> Path:
    pd.DataFrame(rows, columns=CASME2_COLUMNS).to_excel(path, index=False)
    return path


def test_bad_rows_are_reported_by_name_and_good_rows_kept(tmp_path):
    path = write_casme2_table(tmp_path / "CASME2-coding-test.xlsx", [
        [1, "EP01_01", 10, 15, 20, "4+7", "disgust"],
        [1, "EP01_02", 30, 25, 20, "12", "happiness"],   # onset after offset
        [2, "EP02_01", 10, 40, 20, "R12", "happiness"],  # apex outside [onset, offset]
        [2, "EP02_02", "/", 15, 20, "1+2", "surprise"],  # no onset
        [3, "EP03_01", 5, 8, "/", "15A", "repression"],  # no offset
    ])
    t = read_coding_table(path)
    assert [c.clip for c in t.clips] == ["EP01_01", "EP02_01", "EP03_01"]
    text = "\n".join(t.problems)
    for name in ("sub01/EP01_02", "sub02/EP02_01", "sub02/EP02_02", "sub03/EP03_01"):
        assert name in text
    assert t.clips[2].offset == t.clips[2].apex == 8
    assert t.clips[2].au_numbers == (15,) and t.clips[1].aus == ("R12",)


def test_megc3_mapping_is_declared_per_database():
    c = Clip("casme2", "sub01", "EP", 1, 2, 3, "sadness")
    assert c.label("megc3") is None and c.label("emotion") == "sadness"  # MEGC 2019 leaves CASME II sadness out
    assert Clip("samm", "006", "x", 1, 2, 3, "contempt").label("megc3") == "negative"
    assert Clip("samm", "006", "x", 1, 2, 3, "other", objective=7).label("objective") == "class7"
    with pytest.raises(ValueError, match="unknown class set"):
        c.label("valence")


def test_table_errors_name_the_file(tmp_path, monkeypatch):
    with pytest.raises(TableError, match="no such coding table"):
        read_coding_table(tmp_path / "CASME2-missing.xlsx")
    odd = tmp_path / "mystery.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(odd, index=False)
    with pytest.raises(TableError, match="cannot tell which database"):
        read_coding_table(odd)
    with pytest.raises(TableError, match="missing column"):
        read_coding_table(odd, "casme2")

    def no_engine(*a, **k):
        raise ImportError("Missing optional dependency 'openpyxl'")
    monkeypatch.setattr(pd, "read_excel", no_engine)
    with pytest.raises(TableError, match="openpyxl"):
        read_coding_table(odd, "casme2")


# --- metrics and folds ----------------------------------------------------------------------------

def test_micro_scores_by_hand():
    s = micro_scores([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    # F1: a 2*1/(2+2) = 0.5, b 2*2/(2+3) = 0.8, c 0; recall: 0.5, 1, 0
    assert s.accuracy == pytest.approx(0.6)
    assert s.uf1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert s.uar == pytest.approx(0.5)
    assert s.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    # a class absent from the subset is left out of the means
    assert micro_scores([0, 1], [0, 1], ["a", "b", "c"]).uf1 == 1.0


def test_loso_folds_hold_out_one_subject_each():
    subjects = ["a", "b", "a", "c", "b", "a"]
    folds = loso_folds(subjects)
    assert [f[0] for f in folds] == ["a", "b", "c"]
    for s, train, test in folds:
        assert {subjects[i] for i in test} == {s} and s not in {subjects[i] for i in train}
        assert len(train) + len(test) == len(subjects)


# --- model pieces ---------------------------------------------------------------------------------

def test_lstm_reads_each_sequence_at_its_own_end():
    torch.manual_seed(0)
    net = MicroLSTM(8, 3, hidden=16).eval()
    x = torch.randn(2, 5, 8)
    padded = x.clone()
    padded[0, 3:] = 100.0  # garbage after the first sequence's end
    lengths = torch.tensor([3, 5])
    with torch.no_grad():
        a, b = net(x, lengths), net(padded, lengths)
        short = net(x[:1, :3])
    assert torch.allclose(a, b) and torch.allclose(a[:1], short, atol=1e-6)


def test_widened_first_conv_responds_to_grey_as_before():
    one = build_cnn("fer2013", 1, 3, ["n", "p", "s"]).eval()
    three = build_cnn("fer2013", 1, 3, ["n", "p", "s"]).eval()
    three.load_state_dict(one.state_dict())
    adapt_input_channels(three, 3)
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        a, b = one.forward_features(x), three.forward_features(x.repeat(1, 3, 1, 1))
    # equal up to the per-image std's Bessel factor (n vs 3n pixels): about 1e-4 relative
    assert (a - b).abs().max() <= 1e-3 * a.abs().max()


# --- frame layouts --------------------------------------------------------------------------------

def _touch_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        Image.new("L", (8, 8), 128).save(folder / n)


@pytest.mark.parametrize("database, subject, clip, rel, names", [
    ("casme2", "sub01", "EP02_01f", "sub01/EP02_01f", [f"img{i}.jpg" for i in range(40, 70)]),
    ("casme2", "sub01", "EP02_01f", "sub01/EP02_01f", [f"reg_img{i}.jpg" for i in range(40, 70)]),
    ("samm", "006", "006_1_2", "006/006_1_2", [f"006_{i:05d}.jpg" for i in range(40, 70)]),
    ("smic", "s3", "s3_ne_03", "HS/s3/micro/negative/s3_ne_03", [f"image{i:06d}.bmp" for i in range(40, 70)]),
    ("casme3", "spNO.1", "a", "spNO.1/a/color", [f"{i}.jpg" for i in range(40, 70)]),
])
def test_frames_found_in_each_distributed_layout(tmp_path, database, subject, clip, rel, names):
    _touch_frames(tmp_path / rel, names)
    c = Clip(database, subject, clip, onset=45, apex=52, offset=60, emotion="surprise")
    frames = FrameLocator(tmp_path).frames(c)
    assert sorted(frames) == list(range(40, 70))
    assert select_frames(c, frames, "five") == [40, 45, 52, 60, 69]
    every = select_frames(c, frames, "every:4")
    assert every[0] == 45 and 52 in every and every[-1] <= 60


def test_missing_frames_are_errors_naming_the_clip(tmp_path):
    _touch_frames(tmp_path / "sub01" / "EP01", [f"img{i}.jpg" for i in range(1, 10)])
    c = Clip("casme2", "sub01", "EP01", onset=2, apex=12, offset=8, emotion="surprise")
    frames = FrameLocator(tmp_path).frames(c)
    with pytest.raises(FrameError, match=r"sub01/EP01.*apex 12"):
        select_frames(c, frames, "five")
    gone = Clip("casme2", "sub09", "EP99", 1, 2, 3, "surprise")
    loaded, problems = load_clips([c, gone], tmp_path, detector=None)
    assert loaded == [] and len(problems) == 2
    assert "sub09/EP99" in problems[1] and "skipped" in problems[1]
    with pytest.raises(ValueError, match="every:K"):
        select_frames(c, frames, "every:0")


# --- the full sequence pipeline on generated CASME II clips -------------------------------------

def make_casme2_clips(root: Path, subjects=(1, 2, 3), per_class: int = 2, n_frames: int = 12, seed: int = 0):
    """A CASME II tree (sub0k/EPxx/imgN.jpg) and its coding table. Each clip is the bundled portrait
    over a plain background; between onset and offset a mark rises and falls on the lower face:
    dark for 'disgust' (negative), bright for 'happiness' (positive). The last subject has one clip."""
    rng = np.random.default_rng(seed)
    face = face_patch("astronaut.jpg")
    rows = []
    for s in subjects:
        emotions = ["disgust", "happiness"] * per_class if s != subjects[-1] else ["happiness"]
        for j, emo in enumerate(emotions):
            name = f"EP{j + 1:02d}_{s:02d}"
            folder = root / f"sub{s:02d}" / name
            folder.mkdir(parents=True)
            onset, apex, offset = 3, 6, 9
            for f in range(n_frames):
                frame = np.full((300, 320, 3), 90, np.uint8)
                frame[30:30 + face.shape[0], 50:50 + face.shape[1]] = face
                strength = max(0.0, 1 - abs(f - apex) / (apex - onset + 1)) if onset <= f <= offset else 0.0
                tone = 0 if emo == "disgust" else 255
                y0, x0 = 30 + 150, 50 + 60
                patch = frame[y0:y0 + 40, x0:x0 + 90].astype(np.float32)
                frame[y0:y0 + 40, x0:x0 + 90] = (patch * (1 - strength) + tone * strength).astype(np.uint8)
                frame = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
                Image.fromarray(frame).save(folder / f"img{f + 1}.jpg", quality=95)
            rows.append([s, name, onset + 1, apex + 1, offset + 1, "4+9" if emo == "disgust" else "6+12", emo])
    return write_casme2_table(root / "CASME2-coding-generated.xlsx", rows)


def test_sequence_pipeline_five_frames_cnn_lstm_loso_on_generated_clips(tmp_path):
    table = make_casme2_clips(tmp_path / "CASME2_RAW")
    out = tmp_path / "run"
    results = api.micro_loso(str(table), str(tmp_path / "CASME2_RAW"), classes="megc3", select="five",
                             variants=("lstm", "apex"), epochs=12, lstm_epochs=80, out=str(out), device="cpu")
    by = {r.variant: r for r in results}
    assert set(by) == {"lstm", "apex"}
    n = 2 * 2 * 2 + 1  # two subjects with 4 clips, one with a single clip
    for r in results:
        assert r.composite.n == n and r.folds == 3 and r.class_names == ["negative", "positive", "surprise"]
    assert len(list((out / "folds").glob("fold_*.json"))) == 3  # the one-clip subject is a fold of its own
    # the drawn mark decides the class: the trained pipeline reads it on subjects it never saw
    assert by["apex"].composite.accuracy >= 7 / 9
    assert by["lstm"].composite.accuracy >= 7 / 9
    assert (out / "loso.md").read_text().count("| lstm |") == 2  # the scores table and the per-class table


def test_cli_micro_loso_end_to_end(tmp_path, capsys):
    table = make_casme2_clips(tmp_path / "raw", subjects=(1, 2), per_class=1, n_frames=10)
    args = ["micro", "loso", "--table", str(table), "--frames", str(tmp_path / "raw"), "--variants", "apex_scratch",
            "--init", "none", "--epochs", "1", "--lstm-epochs", "1", "--device", "cpu", "--out", str(tmp_path / "r")]
    assert cli_main(args) == 0
    assert "| apex_scratch |" in capsys.readouterr().out
    assert (tmp_path / "r" / "loso.json").exists()
    assert cli_main(args[:-2] + ["--select", "every:x", "--out", str(tmp_path / "r2")]) == 2
    assert "every:K" in capsys.readouterr().err


def test_sequence_run_resumes_from_finished_folds(tmp_path):
    table = make_casme2_clips(tmp_path / "raw", subjects=(1, 2), per_class=1, n_frames=10)
    out = tmp_path / "run"
    kw = dict(classes="megc3", variants=("apex",), epochs=1, lstm_epochs=2, out=str(out), device="cpu")
    api.micro_loso(str(table), str(tmp_path / "raw"), **kw)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "folds").iterdir()}
    res = api.micro_loso(str(table), str(tmp_path / "raw"), **kw)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "folds").iterdir()} == before  # nothing retrained
    assert res[0].composite.n == 3
    from facsnet.models.hub import weights_digest

    written = json.loads((out / "loso.json").read_text())
    assert written["init_sha256"] == weights_digest("fer2013")  # which weights the run started from


def _toy_micro_set(n_subjects=3):
    from facsnet.micro.data import MicroSet

    subjects = np.repeat([f"casme2/s{i}" for i in range(n_subjects)], 2)
    return MicroSet(keys=[f"k{i}" for i in range(len(subjects))], subjects=subjects,
                    databases=np.array(["casme2"] * len(subjects)), y=np.tile([0, 1], n_subjects),
                    class_names=["negative", "positive"])


def test_a_loso_folder_refuses_other_settings_and_an_added_variant_trains_alone(tmp_path):
    from facsnet.micro.run import run_loso
    from facsnet.training.run_folder import RunFolderError

    data, calls = _toy_micro_set(), []

    def fold_fn(d, train, test, variants, cfg):   # no training: records what it was asked for
        calls.append(tuple(variants))
        return {v: d.y[test] for v in variants}

    out = tmp_path / "run"
    run_loso(data, ["apex"], MicroConfig(seed=0), out, fold_fn, "toy")
    assert calls == [("apex",)] * 3
    with pytest.raises(RunFolderError, match="seed: 0 -> 1"):
        run_loso(data, ["apex"], MicroConfig(seed=1), out, fold_fn, "toy")
    calls.clear()
    res = run_loso(data, ["apex", "flow"], MicroConfig(seed=0), out, fold_fn, "toy")   # flow added later
    assert calls == [("flow",)] * 3                                                  # apex not trained again
    assert {r.variant: r.composite.n for r in res} == {"apex": 6, "flow": 6}
    assert "partial" not in res[1].config
    calls.clear()
    with pytest.raises(ValueError, match="without --shard"):
        run_loso(data, ["apex"], MicroConfig(seed=1), out, fold_fn, "toy", shard="1/2", overwrite=True)
    run_loso(data, ["apex"], MicroConfig(seed=1), out, fold_fn, "toy", overwrite=True)
    assert calls == [("apex",)] * 3                                                  # the old folds cleared
    folds = [json.loads(p.read_text())["predictions"] for p in (out / "folds").glob("fold_*.json")]
    assert len(folds) == 3 and all(set(f) == {"apex"} for f in folds)               # flow's went with them


def test_a_loso_folder_that_records_no_run_is_adopted_or_cleared(tmp_path):
    from facsnet.micro.run import run_loso

    data, calls = _toy_micro_set(), []

    def fold_fn(d, train, test, variants, cfg):
        calls.append(tuple(variants))
        return {v: d.y[test] for v in variants}

    out = tmp_path / "old"
    run_loso(data, ["apex"], MicroConfig(), out, fold_fn, "toy")
    (out / "config.json").unlink()                          # a folder written before runs were recorded
    calls.clear()
    run_loso(data, ["apex"], MicroConfig(), out, fold_fn, "toy")
    assert calls == [] and (out / "config.json").exists()  # its folds adopted, the run now recorded
    (out / "config.json").unlink()
    run_loso(data, ["apex"], MicroConfig(seed=3), out, fold_fn, "toy", overwrite=True)
    assert calls == [("apex",)] * 3                         # --overwrite: trained afresh


def test_every_k_frames_variable_lengths_and_frozen_twin(tmp_path):
    table = make_casme2_clips(tmp_path / "raw", subjects=(1, 2), per_class=1, n_frames=12)
    res = api.micro_loso(str(table), str(tmp_path / "raw"), select="every:2", variants=("lstm_frozen", "lstm"),
                         epochs=2, lstm_epochs=5, out=str(tmp_path / "run"), device="cpu")
    assert {r.variant for r in res} == {"lstm_frozen", "lstm"} and all(r.composite.n == 3 for r in res)
    by = {r.variant: r for r in res}
    assert by["lstm"].config["frozen"] is False and by["lstm_frozen"].config["frozen"] is True
    with pytest.raises(ValueError, match="needs pretrained weights"):
        api.micro_loso(str(table), str(tmp_path / "raw"), variants=("apex_frozen",), init=None, epochs=1,
                       lstm_epochs=1, out=str(tmp_path / "run2"), device="cpu")


def test_frozen_conv_layers_do_not_move():
    rng = np.random.default_rng(0)
    x = rng.random((12, 1, 48, 48), dtype=np.float32)
    cfg = MicroConfig(cnn_epochs=2, frozen=True, device="cpu")
    model = fit_cnn(x, np.arange(12) % 3, ["n", "p", "s"], cfg, augment=None)
    fresh = build_cnn("fer2013", 1, 3, ["n", "p", "s"])
    assert torch.equal(model.features[0][0].weight, fresh.features[0][0].weight)
    assert not torch.equal(model.fc1.weight, fresh.fc1.weight)


# --- the MEGC 2019 composite layout ---------------------------------------------------------------

def make_composite(root: Path, n_per_subject: int = 3, subjects=("sub01", "sub02", "006")) -> Path:
    rng = np.random.default_rng(0)
    (root / "apex_224").mkdir(parents=True)
    (root / "flow_28").mkdir()
    with (root / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "subject", "sample", "label3", "label3_name", "apex_file", "flow_file"])
        for s in subjects:
            db = "samm" if s == "006" else "casme2"
            for j in range(n_per_subject):
                label = j % 3
                name = f"{s}_EP{j}"
                Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8)).save(root / "apex_224" / f"{name}.jpg")
                Image.fromarray(rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)).save(root / "flow_28" / f"{name}.png")
                w.writerow([db, s, f"EP{j}", label, "x", f"apex_224/{name}.jpg", f"flow_28/{name}.png"])
        w.writerow(["casme2", "sub01", "EP9", 0, "x", "apex_224/gone.jpg", "flow_28/gone.png"])
    return root


def test_composite_reader_and_every_variant_on_generated_data(tmp_path):
    data = read_megc2019(make_composite(tmp_path / "megc"))
    assert len(data) == 9 and data.apex.shape == (9, 1, 48, 48) and data.flow.shape == (9, 3, 48, 48)
    assert len(data.problems) == 1 and "EP9" in data.problems[0]
    cfg = MicroConfig(cnn_epochs=1, lstm_epochs=2, device="cpu")
    _, train, test = loso_folds(data.subjects)[0]
    variants = list(COMPOSITE_VARIANTS)
    preds = composite_fold(data, train, test, variants, cfg)
    assert set(preds) == set(variants)
    assert all(p.shape == (len(test),) and set(p) <= {0, 1, 2} for p in preds.values())


def test_cli_micro_tables_and_errors(tmp_path, capsys):
    table = write_casme2_table(tmp_path / "CASME2-coding-x.xlsx", [[1, "EP01", 30, 25, 20, "4", "disgust"]])
    assert cli_main(["micro", "tables", str(table)]) == 0
    out = capsys.readouterr().out
    assert "casme2: 0 clips" in out and "sub01/EP01" in out
    assert cli_main(["micro", "megc2019", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 2
    assert "labels.csv" in capsys.readouterr().err
    make_composite(tmp_path / "megc")
    assert cli_main(["micro", "megc2019", "--data", str(tmp_path / "megc"), "--variants", "apex,optical",
                     "--out", str(tmp_path / "r")]) == 2
    assert "unknown variant" in capsys.readouterr().err


@realdata("MEGC2019_composite_HTNet")
def test_real_composite_reads_442_clips_68_subjects():
    data = read_megc2019(REAL_DATA / "MEGC2019_composite_HTNet")
    assert len(data) == 442 and len(set(data.subjects.tolist())) == 68 and not data.problems
    counts = {db: int((data.databases == db).sum()) for db in ("casme2", "samm", "smic")}
    assert counts == {"casme2": 145, "samm": 133, "smic": 164}
    assert np.bincount(data.y).tolist() == [250, 109, 83]
