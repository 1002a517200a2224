"""Readers, cache and bad input, on data generated here."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import toy_face, write_class_folder
from facsnet.data import (
    DatasetError, ImageReadError, fer2013_vote_targets, ferplus_targets, load_dataset, read_ckplus_release,
    read_class_folder, read_fer2013_csv, read_grey,
)
from facsnet.labels import UnknownLabelError


def test_class_folder_maps_names_and_extracts_subjects(toy_folder):
    fs = read_class_folder(toy_folder, subject_pattern=r"^(S\d+)_")
    assert fs.class_names == ["anger", "happy", "sadness"]      # canonical order
    assert len(fs) == 36 and fs.images.shape == (36, 48, 48) and fs.images.dtype == np.uint8
    assert set(fs.subjects) == {"S001", "S002", "S003", "S004"}
    happy = fs.labels[[p.startswith("happy/") for p in fs.paths]]
    assert (happy == fs.class_names.index("happy")).all()


def test_unknown_class_folder_is_an_error_naming_it(tmp_path):
    write_class_folder(tmp_path / "d", classes=("happy", "bored"), per_class=2)
    with pytest.raises(UnknownLabelError, match="bored"):
        read_class_folder(tmp_path / "d")


def test_subject_pattern_that_does_not_match_names_the_file(toy_folder):
    with pytest.raises(DatasetError, match=r"does not match"):
        read_class_folder(toy_folder, subject_pattern=r"^(P\d+)_")


def test_bad_files_are_skipped_and_reported(toy_folder):
    (toy_folder / "happy" / "truncated.png").write_bytes((toy_folder / "happy").glob("*.png").__next__().read_bytes()[:60])
    (toy_folder / "happy" / "notes.txt").write_text("not an image")
    (toy_folder / "sad" / "fake.jpg").write_text("also not an image")
    (toy_folder / "fear").mkdir()
    fs = read_class_folder(toy_folder)
    reasons = {Path(p).name: r for p, r in fs.skipped}
    assert set(reasons) == {"truncated.png", "notes.txt", "fake.jpg", "fear"}
    assert "empty class folder" in reasons["fear"]
    assert "fear" not in fs.class_names and len(fs) == 36  # the good images all survive


@pytest.mark.parametrize("mode", ["RGBA", "P", "CMYK", "I;16", "RGB"])
def test_image_modes_decode_to_grey(tmp_path, mode):
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8))
    img = rgb.convert("I;16") if mode == "I;16" else rgb.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "I;16") else "x.png")
    img.save(path)
    arr = read_grey(path, size=48)
    assert arr.shape == (48, 48) and arr.dtype == np.uint8 and arr.std() > 0


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    import facsnet.data.images as images

    Image.new("L", (300, 300)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    with pytest.raises(ImageReadError, match="big.png.*too large"):
        read_grey(tmp_path / "big.png")


def test_cache_is_used_and_invalidated(toy_folder, monkeypatch):
    import facsnet.data.readers as readers

    first = read_class_folder(toy_folder)
    calls = []
    real = readers.read_grey
    monkeypatch.setattr(readers, "read_grey", lambda *a, **k: calls.append(1) or real(*a, **k))
    second = read_class_folder(toy_folder)
    assert calls == [] and second.fingerprint() == first.fingerprint()  # served from the cache
    new = toy_folder / "happy" / "S009_001_00000099.png"
    Image.fromarray(toy_face(1, np.random.default_rng(5))).save(new)
    third = read_class_folder(toy_folder)
    assert len(calls) == 37 and len(third) == 37               # a changed folder is decoded again


def _write_fer_csv(path: Path, images, labels, usage="Training", extra_rows=()):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["emotion", "pixels", "Usage"])
        for img, lab in zip(images, labels):
            w.writerow([lab, " ".join(map(str, img.ravel())), usage])
        for row in extra_rows:
            w.writerow(row)


def test_fer2013_csv_agrees_with_the_folder_reader(tmp_path):
    folder = write_class_folder(tmp_path / "train", classes=("angry", "happy", "neutral"), per_class=5)
    fs = read_class_folder(folder)
    codes = {"anger": 0, "happy": 3, "neutral": 6}
    _write_fer_csv(tmp_path / "fer2013.csv", fs.images, [codes[fs.class_names[l]] for l in fs.labels])
    from_csv = read_fer2013_csv(tmp_path / "fer2013.csv", "train")
    assert from_csv.class_names == fs.class_names
    np.testing.assert_array_equal(from_csv.images, fs.images)
    np.testing.assert_array_equal(from_csv.labels, fs.labels)


def test_fer2013_csv_bad_rows_are_skipped_with_line_numbers(tmp_path):
    good = [toy_face(0, np.random.default_rng(i)) for i in range(3)]
    bad = [["9", " ".join(["1"] * 2304), "Training"],        # not a code
           ["3", " ".join(["1"] * 100), "Training"],          # wrong length
           ["3", "1 2 x", "Training"],                        # not integers
           ["3"]]                                             # too few fields
    _write_fer_csv(tmp_path / "f.csv", good, [0, 0, 0], extra_rows=bad)
    fs = read_fer2013_csv(tmp_path / "f.csv", "train")
    assert len(fs) == 3
    lines = sorted(p.rsplit(":", 1)[1] for p, _ in fs.skipped)
    assert lines == ["5", "6", "7", "8"]
    assert any("2304" in r for _, r in fs.skipped)


def test_fer2013_csv_usage_filter(tmp_path):
    imgs = [toy_face(0, np.random.default_rng(i)) for i in range(4)]
    _write_fer_csv(tmp_path / "f.csv", imgs[:3], [0, 3, 3], usage="Training",
                   extra_rows=[["6", " ".join(map(str, imgs[3].ravel())), "PublicTest"]])
    assert len(read_fer2013_csv(tmp_path / "f.csv", "train")) == 3
    val = read_fer2013_csv(tmp_path / "f.csv", "validation")
    assert len(val) == 1 and val.class_names == ["neutral"]


def test_ferplus_targets_follow_the_majority_rule():
    # columns: neutral happiness surprise sadness anger disgust fear contempt unknown NF
    votes = np.array([
        [6, 1, 0, 3, 0, 0, 0, 0, 0, 0],   # neutral 6 of 9 (the single vote is dropped) -> neutral
        [4, 4, 2, 0, 0, 0, 0, 0, 0, 0],   # no majority -> dropped
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face -> dropped
        [0, 8, 2, 0, 0, 0, 0, 0, 0, 0],   # happiness
    ])
    keep, lab = ferplus_targets(votes, "majority")
    assert keep.tolist() == [True, False, False, True]
    assert lab[0] == 0 and lab[3] == 1
    keep, dist = ferplus_targets(votes, "distribution")
    assert keep.tolist() == [True, True, False, True]
    np.testing.assert_allclose(dist[0][:4], [6 / 9, 0, 0, 3 / 9])
    np.testing.assert_allclose(dist.sum(1)[keep], 1.0, rtol=1e-6)


def test_fer2013_vote_targets_mix_the_label_with_the_votes_of_its_classes():
    # columns: neutral happiness surprise sadness anger disgust fear contempt unknown NF
    votes = np.array([
        [0, 6, 0, 0, 0, 0, 0, 0, 0, 0],   # happiness only
        [2, 0, 0, 0, 4, 0, 0, 4, 0, 0],   # contempt's votes are left out: neutral 1/3, anger 2/3
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: the label alone
        [0, 0, 0, 0, 0, 0, 0, 9, 0, 0],   # contempt only: nothing in the 7 classes, the label alone
    ])
    classes = ["neutral", "anger", "disgust", "fear", "happy", "sadness", "surprise"]
    labels = np.array([classes.index("sadness"), classes.index("anger"), 0, 0])
    targets, used = fer2013_vote_targets(labels, classes, votes, weight=0.5)
    assert used.tolist() == [True, True, False, False]
    np.testing.assert_allclose(targets.sum(1), 1.0, rtol=1e-6)
    assert targets[0, classes.index("sadness")] == 0.5 and targets[0, classes.index("happy")] == 0.5
    np.testing.assert_allclose(targets[1, [0, 1]], [0.5 / 3, 0.5 + 1 / 3], rtol=1e-6)
    np.testing.assert_array_equal(targets[2:], np.eye(7)[[0, 0]])
    # every FER+ vote column lands on its own class (the csv's order, written out here, not imported)
    csv_columns = ["neutral", "happy", "surprise", "sadness", "anger", "disgust", "fear"]
    single = np.zeros((7, 10))
    single[np.arange(7), np.arange(7)] = 6
    one_each, _ = fer2013_vote_targets(np.full(7, classes.index("neutral")), classes, single)
    for column, name in enumerate(csv_columns):
        expected = np.eye(7)[classes.index("neutral")] * 0.5 + np.eye(7)[classes.index(name)] * 0.5
        np.testing.assert_allclose(one_each[column], expected, err_msg=name)
    only_label, _ = fer2013_vote_targets(labels, classes, votes, weight=0.0)
    np.testing.assert_array_equal(only_label, np.eye(7)[labels])
    with pytest.raises(DatasetError, match="unknown_class"):
        fer2013_vote_targets(labels[:1], ["unknown_class"], votes[:1])


def _write_fer2013_with_ferplus(root: Path) -> None:
    """A FER2013 folder (train: angry a0, happy h0, sad s0 s1; validation: happy v0) and the FER+
    files mapping all but s0 to vote rows."""
    rng = np.random.default_rng(0)
    for split, cls, name in [("train", "angry", "a0"), ("train", "happy", "h0"), ("train", "sad", "s0"),
                             ("train", "sad", "s1"), ("validation", "happy", "v0")]:
        (root / "FER2013" / split / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(toy_face(0, rng)).save(root / "FER2013" / split / cls / f"{name}.png")
    (root / "FERPlus").mkdir()
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
    votes = ["Training,f0.png,0,2,0,0,8,0,0,0,0,0",     # a0: anger 8, happiness 2
             "Training,f1.png,0,0,0,0,0,0,0,0,0,10",    # h0: not a face
             "Training,f2.png,0,0,2,4,4,0,0,0,0,0",     # s1: sadness 4, anger 4, surprise 2 (not a class here)
             "PublicTest,f3.png,0,10,0,0,0,0,0,0,0,0"]  # v0
    (root / "FERPlus" / "fer2013new.csv").write_text("\n".join([header, *votes]) + "\n")
    rows = {"train/angry/a0.png": 0, "train/happy/h0.png": 1, "train/sad/s1.png": 2, "validation/happy/v0.png": 3}
    (root / "FERPlus" / "fer2013_images_to_ferplus_map.csv").write_text(
        "image_path,fer2013_csv_row\n" + "".join(f"{p},{r}\n" for p, r in rows.items()))


def test_fer2013_votes_reads_fer2013_with_ferplus_votes_as_soft_targets(tmp_path, monkeypatch):
    from facsnet.api import train
    from facsnet.data.specs import dataset, has_validation_split

    _write_fer2013_with_ferplus(tmp_path)
    monkeypatch.setenv("FACSNET_DATA", str(tmp_path))
    fer, votes = load_dataset("fer2013"), load_dataset("fer2013-votes")
    assert votes.class_names == fer.class_names == ["anger", "happy", "sadness"]
    assert votes.paths == fer.paths and (votes.labels == fer.labels).all()
    soft = dict(zip(votes.paths, votes.soft.tolist()))
    np.testing.assert_allclose(soft["angry/a0.png"], [0.9, 0.1, 0.0])      # half label, half votes
    np.testing.assert_allclose(soft["happy/h0.png"], [0.0, 1.0, 0.0])      # not a face: the label alone
    np.testing.assert_allclose(soft["sad/s0.png"], [0.0, 0.0, 1.0])        # no FER+ row: the label alone
    np.testing.assert_allclose(soft["sad/s1.png"], [0.25, 0.0, 0.75])      # surprise's votes left out
    assert has_validation_split("fer2013-votes")
    val = dataset("fer2013-votes:validation")
    assert val.paths == ["happy/v0.png"] and val.class_names == ["happy"] and val.soft.tolist() == [[1.0]]
    with pytest.raises(ValueError, match="soft_targets"):
        train("fer2013-votes", out=tmp_path / "run", epochs=1)


def test_broken_ferplus_files_are_named_with_the_line(tmp_path, monkeypatch):
    _write_fer2013_with_ferplus(tmp_path)
    monkeypatch.setenv("FACSNET_DATA", str(tmp_path))
    votes_csv = tmp_path / "FERPlus" / "fer2013new.csv"
    lines = votes_csv.read_text().splitlines()
    votes_csv.write_text("\n".join(lines[:2] + ["Training,f1.png,0,0,zero"] + lines[3:]) + "\n")
    with pytest.raises(DatasetError, match=r"fer2013new.csv: line 3 .*happy/h0.png"):
        load_dataset("fer2013-votes")
    map_csv = tmp_path / "FERPlus" / "fer2013_images_to_ferplus_map.csv"
    map_csv.write_text("image_path,fer2013_csv_row\ntrain/angry/a0.png,first\n")
    with pytest.raises(DatasetError, match=r"map.csv: line 2: fer2013_csv_row 'first'"):
        load_dataset("ferplus")
    map_csv.write_text("image,row\n")
    with pytest.raises(DatasetError, match="no column fer2013_csv_row, image_path"):
        load_dataset("fer2013-votes")


def _write_ckplus_release(root: Path, rng) -> None:
    """Two subjects, one sequence each, 4 frames, with landmarks and emotion files."""
    for subj, seq, code in [("S005", "001", 3), ("S010", "002", 5)]:
        for d in ("cohn-kanade-images", "Landmarks", "Emotion"):
            (root / d / subj / seq).mkdir(parents=True)
        for f in range(1, 5):
            stem = f"{subj}_{seq}_{f:08d}"
            img = rng.integers(0, 60, (120, 160)).astype(np.uint8)
            img[40:44, 50:60] = 250   # left eye
            img[40:44, 90:100] = 250  # right eye
            Image.fromarray(img).save(root / "cohn-kanade-images" / subj / seq / f"{stem}.png")
            pts = np.zeros((68, 2))
            pts[:, 0], pts[:, 1] = 80, 80
            pts[36:42] = [55, 42]
            pts[42:48] = [95, 42]
            np.savetxt(root / "Landmarks" / subj / seq / f"{stem}_landmarks.txt", pts, fmt="%.7e")
        (root / "Emotion" / subj / seq / f"{subj}_{seq}_00000004_emotion.txt").write_text(f"   {code:.7e}\n")


def test_ckplus_release_reader_aligns_by_the_eyes(tmp_path):
    _write_ckplus_release(tmp_path, np.random.default_rng(0))
    fs = read_ckplus_release(tmp_path, peak_frames=3, include_neutral=True)
    assert len(fs) == 8 and fs.class_names == ["neutral", "disgust", "happy"]
    assert sorted(fs.subjects.tolist()) == ["S005"] * 4 + ["S010"] * 4
    assert fs.paths[0].endswith("S005_001_00000001.png") and fs.class_names[fs.labels[0]] == "neutral"
    # The bright eye patches land on the eye line of the 48x48 crop, framed like CK+48.
    from facsnet.faces import CKPLUS48_FRAMING

    rows = fs.images[1].astype(float).mean(1)
    assert abs(int(np.argmax(rows)) - (48 * CKPLUS48_FRAMING.eye_height - 0.5)) <= 1
    assert load_dataset(tmp_path).name == "ckplus"  # detected by layout


def test_ckplus_release_missing_folder_is_named(tmp_path):
    (tmp_path / "cohn-kanade-images").mkdir()
    with pytest.raises(DatasetError, match="Emotion"):
        read_ckplus_release(tmp_path)


def test_load_dataset_rejects_unknown_names():
    with pytest.raises(DatasetError, match="neither a dataset name"):
        load_dataset("no-such-set")


def test_a_validation_set_that_shares_files_with_training_is_refused_and_a_twin_folder_is_not(tmp_path):
    """--val on the training data itself (a dataset without a validation split is read whole) would score
    a run on faces it trains on; two folders whose files have the same names are still two sets."""
    from facsnet.data.specs import train_and_validation

    a = write_class_folder(tmp_path / "a", seed=0)
    b = write_class_folder(tmp_path / "b", seed=1)          # the same relative file names, other faces
    with pytest.raises(ValueError, match=r"--val .*: 36 of its 36 faces are training faces too"):
        train_and_validation(str(a), str(a), 0.1, seed=0)
    train_set, val_set = train_and_validation(str(a), str(b), 0.1, seed=0)
    assert len(train_set) == len(val_set) == 36
