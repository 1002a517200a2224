import json

import numpy as np
import pytest

from conftest import hours_pass_after_each_epoch, write_class_folder
from facsnet.data import read_class_folder
from facsnet.training import TrainConfig, cross_validate

FAST = TrainConfig(epochs=1, batch_size=8, progress=False, device="cpu", precision="fp32")


@pytest.fixture
def toy_subjects(tmp_path):
    return read_class_folder(write_class_folder(tmp_path / "d", per_class=8, subjects=4), subject_pattern=r"^(S\d+)_")


def test_subject_cv_writes_results_and_keeps_subjects_apart(toy_subjects, tmp_path):
    out = tmp_path / "cv"
    res = cross_validate(toy_subjects, FAST, k=2, out_dir=out)
    assert res.protocol == "subject" and len(res.fold_accuracies) == 2
    assert res.accuracy_mean == pytest.approx(np.mean(res.fold_accuracies))
    assert np.sum(res.confusion) == len(toy_subjects)                    # every image scored once
    for name in ("cv.json", "cv.md", "confusion.png", "config.json"):
        assert (out / name).exists()
    cfg = json.loads((out / "config.json").read_text())
    a, b = (set(toy_subjects.subjects[f]) for f in cfg["folds"])
    assert not a & b
    assert "subject-independent" in (out / "cv.md").read_text()


def test_cv_resumes_finished_folds(toy_subjects, tmp_path, monkeypatch):
    out = tmp_path / "cv"
    assert cross_validate(toy_subjects, FAST, k=2, out_dir=out, folds=[0]) is None  # summary waits for fold 2
    import facsnet.training.cv as cv

    calls = []
    real = cv.train
    monkeypatch.setattr(cv, "train", lambda *a, **k: calls.append(1) or real(*a, **k))
    res = cross_validate(toy_subjects, FAST, k=2, out_dir=out)
    assert len(calls) == 1 and res is not None                           # fold 1 was not trained again


def test_a_fold_stopped_by_the_time_limit_is_not_counted_as_done_and_resumes(toy_subjects, tmp_path, monkeypatch):
    out = tmp_path / "cv"
    two_epochs = TrainConfig(**{**FAST.__dict__, "epochs": 2})
    with monkeypatch.context() as m:
        hours_pass_after_each_epoch(m)
        limited = TrainConfig(**{**two_epochs.__dict__, "max_minutes": 30.0})
        assert cross_validate(toy_subjects, limited, k=2, out_dir=out) is None
    assert not (out / "fold01" / "metrics.json").exists() and not (out / "fold02").exists()
    assert (out / "fold01" / "last.pt").exists()                        # kept to resume from
    res = cross_validate(toy_subjects, two_epochs, k=2, out_dir=out)    # max_minutes may change on a resume
    assert res is not None and len(res.fold_accuracies) == 2
    assert len(json.loads((out / "fold01" / "history.json").read_text())) == 2


def test_a_fold_scored_before_its_last_epoch_is_trained_again(toy_subjects, tmp_path):
    out = tmp_path / "cv"
    cfg = TrainConfig(**{**FAST.__dict__, "epochs": 2})
    cross_validate(toy_subjects, cfg, k=2, out_dir=out)
    history = out / "fold01" / "history.json"
    history.write_text(json.dumps(json.loads(history.read_text())[:1]))   # as earlier versions left a stopped fold
    (out / "cv.json").unlink()
    res = cross_validate(toy_subjects, cfg, k=2, out_dir=out)
    assert res is not None and len(json.loads(history.read_text())) == 2


def test_image_protocol_is_labelled(toy_subjects, tmp_path):
    res = cross_validate(toy_subjects, FAST, k=2, protocol="image", out_dir=tmp_path / "cv")
    assert res.protocol == "image"
    assert "per image" in (tmp_path / "cv" / "cv.md").read_text()
