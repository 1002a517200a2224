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


def test_a_training_fraction_keeps_every_class_share_and_the_same_faces_for_every_seed():
    from facsnet.data.faceset import FaceSet
    from facsnet.data.splits import stratified_subset

    labels = np.repeat(np.arange(3), [40, 20, 4])
    data = FaceSet(name="toy", images=np.zeros((64, 48, 48), np.uint8), labels=labels, class_names=["a", "b", "c"],
                   paths=[f"f{i}.png" for i in range(64)])
    part = stratified_subset(data, 0.25)
    assert part.class_counts() == {"a": 10, "b": 5, "c": 1}
    assert part.paths == stratified_subset(data, 0.25).paths          # fixed seed: always the same faces
    assert set(part.paths) <= set(data.paths) and len(set(part.paths)) == 16
    assert stratified_subset(data, 1.0) is data
    with pytest.raises(ValueError, match="train_fraction = 0"):
        stratified_subset(data, 0)


def test_training_on_a_fraction_records_the_reduced_set_and_keeps_the_whole_hold_out(tmp_path, toy_folder):
    import json

    from facsnet import api

    api.train(str(toy_folder), val="holdout", val_fraction=0.25, train_fraction=0.5, out=str(tmp_path / "run"),
              epochs=1, batch_size=8, progress=False)
    data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    whole = api.dataset(str(toy_folder), "train")
    train_part, held = api.holdout_split(whole, 0.25, api.HOLDOUT_SEED)
    assert data["val"]["n"] == len(held) == 9 and len(train_part) == 27   # the toy folder: 3 classes x 12 faces
    assert data["train"]["n"] == 12 and data["train"]["name"].endswith("-0.5")   # 9 -> 4 faces per class (4.5 rounds to even)


def test_pixel_twins_are_the_faces_whose_very_pixels_were_seen_and_unseen_part_drops_them():
    from facsnet.data.faceset import FaceSet
    from facsnet.data.splits import pixel_twins, unseen_part

    rng = np.random.default_rng(0)
    seen_images = rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)
    near = seen_images[1].copy()
    near[0, 0] ^= 1                                           # one grey level off: not a twin
    faces = np.stack([seen_images[3], near, rng.integers(0, 256, (48, 48), dtype=np.uint8), seen_images[0],
                      seen_images[2][:, ::-1]])                # a mirrored copy: seen too, since training flips
    def faceset(images, name):
        return FaceSet(name=name, images=images, labels=np.zeros(len(images), dtype=np.int64), class_names=["happy"],
                       paths=[f"{name}{i}.png" for i in range(len(images))])
    held, trained = faceset(faces, "held"), faceset(seen_images, "train")
    assert pixel_twins(held, trained).tolist() == [True, False, False, True, True]
    assert pixel_twins(held, trained, mirrored=False).tolist() == [True, False, False, True, False]
    unseen = unseen_part(held, trained)
    assert unseen.paths == ["held1.png", "held2.png"] and unseen.name == "held-unseen"


def test_near_twins_catch_a_retoned_shifted_or_mirrored_copy_and_not_another_face():
    from facsnet.data.faceset import FaceSet
    from facsnet.data.splits import appearance, near_twins, nearest_seen, pixel_twins

    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:48] * (2 * np.pi / 48)

    def smooth_face():   # a random sum of waves of 1-2 cycles a face: as smooth as a face at the scale of its features
        waves = [rng.normal() * np.cos(fy * yy + fx * xx + rng.uniform(0, 2 * np.pi))
                 for fy in range(3) for fx in range(-2, 3) if 0 < fy * fy + fx * fx <= 5]
        return np.clip(128 + 25 * np.sum(waves, axis=0), 0, 255).astype(np.uint8)
    seen_images = np.stack([smooth_face() for _ in range(5)])
    face = seen_images[2].astype(np.float32)
    retoned = np.clip(0.7 * face + 50, 0, 255).astype(np.uint8)             # contrast and brightness changed
    shifted = np.roll(seen_images[4], 1, axis=1)                            # re-cropped by one pixel
    mirrored = np.clip(face[:, ::-1] * 1.1 - 10, 0, 255).astype(np.uint8)   # mirrored and re-toned
    other = smooth_face()
    blank = np.full((48, 48), 90, np.uint8)                                 # one grey level: no appearance
    faces = np.stack([retoned, shifted, mirrored, other, blank, seen_images[0]])

    def faceset(images, name):
        return FaceSet(name=name, images=images, labels=np.zeros(len(images), dtype=np.int64), class_names=["happy"],
                       paths=[f"{name}{i}.png" for i in range(len(images))])
    held, trained = faceset(faces, "held"), faceset(seen_images, "train")
    assert pixel_twins(held, trained).tolist() == [False, False, False, False, False, True]
    assert near_twins(held, trained).tolist() == [True, True, True, False, False, True]
    best, index = nearest_seen(held, trained)
    assert index[:3].tolist() == [2, 4, 2] and best[0] > 0.99 and best[3] < 0.8 and best[4] == 0.0
    unit = appearance(faces)
    assert np.allclose(np.linalg.norm(unit[:4], axis=1), 1.0, atol=1e-5) and not unit[4].any()
    # the search in chunks finds what one pass does; an empty side finds nothing
    chunked = nearest_seen(held, trained, chunk=4)
    assert np.array_equal(chunked[0], best) and np.array_equal(chunked[1], index)
    nothing = faceset(seen_images[:0], "none")
    assert near_twins(held, nothing).tolist() == [False] * 6 and len(near_twins(nothing, trained)) == 0
    # a blank face one grey level off in one corner has no appearance to match: quantisation noise is not a face
    speck = np.full((2, 48, 48), 90, np.uint8)
    speck[:, :2, :2] = 91
    speck[1] -= 1                                        # one grey level darker: not an exact twin
    assert not near_twins(faceset(speck[:1], "a"), faceset(speck[1:], "b")).any()
    # faces of any size are averaged down (50x50 is no multiple of 24): a 50x50 copy of a face still matches it
    from PIL import Image
    big = np.asarray(Image.fromarray(seen_images[3]).resize((50, 50), Image.BILINEAR))
    assert float(appearance(big[None])[0] @ appearance(seen_images[3:4])[0]) > 0.98


def test_validation_faces_that_repeat_a_training_picture_are_counted_and_warned_of(tmp_path, caplog):
    """A validation folder holding a training picture again (copied, or re-toned) gets a warning that counts
    the twins (what `facsnet train` logs); a folder without any gets none."""
    import logging

    from conftest import write_class_folder
    from PIL import Image

    from facsnet.data.specs import dataset, note_twins

    train = write_class_folder(tmp_path / "train", per_class=6, seed=0)
    val = write_class_folder(tmp_path / "val", per_class=6, seed=1)
    with caplog.at_level(logging.WARNING, logger="facsnet.data"):
        assert note_twins(dataset(str(val)), dataset(str(train))) == (0, 0)
    assert "twin" not in caplog.text
    pictures = sorted((train / "happy").iterdir())
    Image.open(pictures[0]).save(val / "happy" / "copy.png")
    image = np.asarray(Image.open(pictures[1]), dtype=np.float32)
    Image.fromarray(np.clip(0.8 * image + 20, 0, 255).astype(np.uint8)).save(val / "happy" / "retoned.png")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="facsnet.data"):
        assert note_twins(dataset(str(val)), dataset(str(train))) == (1, 2)
    assert "2 of its 20 faces have a twin" in caplog.text and "(1 the very same pixels" in caplog.text
    # and `train` says so before it trains
    from facsnet import api
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="facsnet.data"):
        api.train(str(train), val=str(val), out=str(tmp_path / "run"), epochs=1, batch_size=8, progress=False)
    assert "2 of its 20 faces have a twin" in caplog.text
