import numpy as np
import pytest

from facsnet.data import make_folds


def _toy(seed=0, n_subjects=40):
    rng = np.random.default_rng(seed)
    subjects, labels = [], []
    for s in range(n_subjects):
        for _ in range(rng.integers(1, 4)):          # 1-3 sequences per subject
            lab = rng.integers(0, 5)
            subjects += [f"S{s:03d}"] * 3             # three near-identical frames
            labels += [lab] * 3
    return np.array(labels), np.array(subjects)


def test_subject_folds_are_disjoint_cover_everything_and_repeat():
    labels, subjects = _toy()
    folds = make_folds(labels, subjects, k=10, protocol="subject", seed=3)
    all_idx = np.concatenate(folds)
    assert sorted(all_idx.tolist()) == list(range(len(labels)))       # a partition
    for f in folds:
        rest = np.setdiff1d(np.arange(len(labels)), f)
        assert not set(subjects[f]) & set(subjects[rest])              # no subject on both sides
    again = make_folds(labels, subjects, k=10, protocol="subject", seed=3)
    assert all((a == b).all() for a, b in zip(folds, again))
    other = make_folds(labels, subjects, k=10, protocol="subject", seed=4)
    assert any(not np.array_equal(a, b) for a, b in zip(folds, other))


def test_subject_folds_keep_class_balance_roughly():
    labels, subjects = _toy(seed=1, n_subjects=120)
    folds = make_folds(labels, subjects, k=5, protocol="subject", seed=0)
    overall = np.bincount(labels, minlength=5) / len(labels)
    for f in folds:
        share = np.bincount(labels[f], minlength=5) / len(f)
        assert np.abs(share - overall).max() < 0.12


def test_image_folds_are_stratified():
    labels = np.repeat(np.arange(4), 25)
    folds = make_folds(labels, None, k=5, protocol="image", seed=0)
    for f in folds:
        assert np.bincount(labels[f], minlength=4).tolist() == [5, 5, 5, 5]


def test_subject_protocol_without_subjects_is_a_clear_error():
    with pytest.raises(ValueError, match="needs subject ids"):
        make_folds(np.zeros(10, int), None, k=2, protocol="subject")
