"""Temperature scaling and calibration error: facts checked on generated logits and toy models."""
import numpy as np
import pytest

from facsnet.training.calibration import (calibrate, expected_calibration_error, fit_temperature,
                                          negative_log_likelihood, prior_corrected, prior_strength,
                                          tempered_probs)


def _sampled(n=20000, classes=7, true_temperature=2.0, seed=0):
    """Logits and labels drawn from softmax(logits / true_temperature): a model over-confident by that factor."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, classes))
    p = tempered_probs(logits, true_temperature)
    labels = np.array([rng.choice(classes, p=row) for row in p])
    return logits, labels


def test_fit_recovers_the_temperature_that_generated_the_labels():
    logits, labels = _sampled(true_temperature=2.0)
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.06)
    logits, labels = _sampled(true_temperature=0.5, seed=1)
    assert fit_temperature(logits, labels) == pytest.approx(0.5, rel=0.06)


def test_temperature_lowers_nll_and_ece_and_keeps_every_prediction():
    logits, labels = _sampled(true_temperature=2.5)
    cal = calibrate(logits, labels, fitted_on="generated")
    assert cal.nll_after < cal.nll_before and cal.ece_after < cal.ece_before
    assert cal.ece_before > 0.1 and cal.ece_after < 0.02
    np.testing.assert_array_equal(tempered_probs(logits, cal.temperature).argmax(1), logits.argmax(1))


def test_ece_facts():
    labels = np.array([0, 1, 2, 0])
    sure_and_right = np.eye(3)[labels]
    assert expected_calibration_error(sure_and_right, labels) == 0.0
    sure_and_wrong = np.eye(3)[(labels + 1) % 3]
    assert expected_calibration_error(sure_and_wrong, labels) == pytest.approx(1.0)
    # confidence 0.6 everywhere, right 3 times in 5: calibrated
    probs = np.tile([0.6, 0.3, 0.1], (5, 1))
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1, 2])) == pytest.approx(0.0, abs=1e-12)
    assert negative_log_likelihood(probs, np.array([0])) == pytest.approx(-np.log(0.6))


def test_mirror_averaged_probabilities_are_the_mean_of_both():
    a, b = np.array([[2.0, 0.0, -1.0]]), np.array([[0.0, 1.0, 0.0]])
    expected = 0.5 * (tempered_probs(a, 1.5) + tempered_probs(b, 1.5))
    np.testing.assert_allclose(tempered_probs(a, 1.5, flipped_logits=b), expected)


def test_prior_correction_treats_classes_as_equally_likely():
    probs = np.array([[0.6, 0.4], [0.95, 0.05]])
    np.testing.assert_allclose(prior_corrected(probs, [0.5, 0.5]), probs)
    out = prior_corrected(probs, [0.9, 0.1])       # the rare class wins where the evidence is not overwhelming
    np.testing.assert_allclose(out.sum(1), 1.0)
    assert out[0].argmax() == 1 and out[1].argmax() == 0
    np.testing.assert_allclose(out[0], [0.6 / 0.9, 0.4 / 0.1] / np.sum([0.6 / 0.9, 0.4 / 0.1]))



def test_a_partial_prior_correction_divides_by_the_prior_raised_to_its_strength():
    probs = np.array([[0.6, 0.4], [0.85, 0.15], [0.97, 0.03]])
    prior = [0.9, 0.1]
    np.testing.assert_allclose(prior_corrected(probs, prior, 0.0), probs)
    np.testing.assert_allclose(prior_corrected(probs, prior, True), prior_corrected(probs, prior))
    half = prior_corrected(probs, prior, 0.5)
    np.testing.assert_allclose(half[1], [0.85 / 0.9 ** 0.5, 0.15 / 0.1 ** 0.5] / np.sum([0.85 / 0.9 ** 0.5,
                                                                                          0.15 / 0.1 ** 0.5]))
    # the rare class's probability grows with the strength: the half-way correction flips the first face
    # only, the full one the first two, and the third stays with the common class throughout
    assert [row.argmax() for row in half] == [1, 0, 0]
    assert [row.argmax() for row in prior_corrected(probs, prior)] == [1, 1, 0]
    rare = [prior_corrected(probs, prior, s)[:, 1] for s in (0, 0.25, 0.5, 0.75, 1)]
    assert all((b > a).all() for a, b in zip(rare, rare[1:]))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_a_prior_strength_outside_0_to_1_is_refused_with_the_range(bad):
    with pytest.raises(ValueError, match="between 0 .* and 1"):
        prior_strength(bad)
    with pytest.raises(ValueError, match="between 0 .* and 1"):
        prior_corrected(np.array([[0.5, 0.5]]), [0.5, 0.5], bad)

def test_no_held_out_faces_is_a_clear_error():
    with pytest.raises(ValueError, match="no held-out faces"):
        fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))


def test_a_calibrated_checkpoint_is_read_with_its_temperature_and_mirror_setting(tmp_path, toy_folder):
    """calibrate() writes a checkpoint whose temperature the classifier, evaluate and the ONNX
    export all apply; the argmax never moves."""
    from facsnet import api
    from facsnet.inference import FaceClassifier

    api.train(str(toy_folder), val="holdout", val_fraction=0.25, out=str(tmp_path / "run"), epochs=2,
              batch_size=8, progress=False)
    plain = tmp_path / "run" / "final.pt"
    cal = api.calibrate(str(plain), str(toy_folder), val_fraction=0.25, tta_flip=True, out=str(tmp_path / "cal.pt"))
    assert cal.n == 9 and cal.tta_flip and cal.temperature > 0
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    base = FaceClassifier(str(plain), backend="torch", precision="fp32")
    tuned = FaceClassifier(str(tmp_path / "cal.pt"), backend="torch", precision="fp32")
    assert (base.temperature, base.tta_flip) == (1.0, False)
    assert (tuned.temperature, tuned.tta_flip) == (pytest.approx(cal.temperature), True)
    logits, mirrored = base.logits(crops), base.logits(crops[:, :, ::-1].copy())
    expected = tempered_probs(logits, cal.temperature, mirrored)
    np.testing.assert_allclose(tuned.predict_proba(crops), expected, atol=1e-5)
    exported = api.export(str(tmp_path / "cal.pt"), str(tmp_path / "cal.onnx"))
    onnx = FaceClassifier(str(exported), backend="onnx")
    assert onnx.temperature == pytest.approx(cal.temperature) and onnx.tta_flip
    np.testing.assert_allclose(onnx.predict_proba(crops), expected, atol=1e-4)
    prior = FaceClassifier(str(plain), backend="torch", precision="fp32", balanced=True)
    assert prior.prior == pytest.approx([9 / 27] * 3)         # 27 training faces, 9 of each class
    np.testing.assert_allclose(prior.predict_proba(crops), prior_corrected(base.predict_proba(crops), prior.prior),
                               atol=1e-6)
    res = api.evaluate(str(tmp_path / "cal.pt"), str(toy_folder))
    assert res.tta_flip and res.temperature == pytest.approx(cal.temperature) and 0 <= res.ece <= 1


def test_balanced_correction_follows_the_training_class_shares(tmp_path):
    """On a skewed training set the correction divides by each class's share: the classifier and
    evaluate agree with prior_corrected, and a model without recorded counts is refused."""
    from conftest import write_class_folder

    from facsnet import api
    from facsnet.inference import FaceClassifier

    folder = write_class_folder(tmp_path / "toy", per_class=12)
    for f in sorted((folder / "sad").iterdir())[4:]:     # 12 happy, 4 sad, 12 angry
        f.unlink()
    api.train(str(folder), val="none", out=str(tmp_path / "run"), epochs=1, batch_size=8, progress=False)
    ck = str(tmp_path / "run" / "final.pt")
    base = FaceClassifier(ck, backend="torch", precision="fp32")
    fair = FaceClassifier(ck, backend="torch", precision="fp32", balanced=True)
    shares = dict(zip(fair.class_names, fair.prior))
    assert shares == pytest.approx({"anger": 12 / 28, "happy": 12 / 28, "sadness": 4 / 28})   # canonical names
    crops = np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    expected = prior_corrected(base.predict_proba(crops), fair.prior)
    np.testing.assert_allclose(fair.predict_proba(crops), expected, atol=1e-6)
    assert not np.allclose(expected, base.predict_proba(crops), atol=1e-3)
    res = api.evaluate(ck, str(folder), balanced=True)
    assert res.balanced and 0 <= res.uar <= 1
    half = FaceClassifier(ck, backend="torch", precision="fp32", balanced=0.5)
    np.testing.assert_allclose(half.predict_proba(crops), prior_corrected(base.predict_proba(crops), fair.prior, 0.5),
                               atol=1e-6)
    assert api.evaluate(ck, str(folder), balanced=0.5).balanced == 0.5
    from facsnet.report.evaluation import prior_note
    assert [prior_note(s) for s in (0.0, 1.0, 0.5)] == ["", ", prior-corrected", ", prior-corrected at strength 0.5"]
    with pytest.raises(ValueError, match="between 0 .* and 1"):
        FaceClassifier(ck, backend="torch", precision="fp32", balanced=2)


def test_a_checkpoint_serves_the_prior_strength_recorded_in_it(tmp_path):
    """record_prior_strength writes the strength a model is read with: the classifier (torch and ONNX) and
    evaluate apply it unless told otherwise, balanced=False reads the model uncorrected, and a strength
    out of range is refused before the file changes."""
    import shutil

    from conftest import write_class_folder

    from facsnet import api
    from facsnet.inference import FaceClassifier
    from facsnet.models.checkpoint import CheckpointError, read_checkpoint, record_prior_strength, served_prior_strength

    folder = write_class_folder(tmp_path / "toy", per_class=12)
    for f in sorted((folder / "sad").iterdir())[3:]:     # 12 happy, 3 sad, 12 angry
        f.unlink()
    api.train(str(folder), val="none", out=str(tmp_path / "run"), epochs=1, batch_size=8, progress=False)
    plain, served = tmp_path / "run" / "final.pt", tmp_path / "served.pt"
    shutil.copy(plain, served)
    assert served_prior_strength(read_checkpoint(plain)) == 0.0                      # nothing recorded: uncorrected
    record_prior_strength(served, 0.25, {"rule": "test"})
    assert read_checkpoint(served)["inference"]["prior_strength_chosen"] == {"rule": "test"}
    crops = np.random.default_rng(2).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    base = FaceClassifier(plain, backend="torch", precision="fp32")
    default = FaceClassifier(served, backend="torch", precision="fp32")
    prior = FaceClassifier(plain, backend="torch", precision="fp32", balanced=True).prior
    assert default.prior_strength == 0.25 and base.prior_strength == 0.0
    np.testing.assert_allclose(default.predict_proba(crops), prior_corrected(base.predict_proba(crops), prior, 0.25),
                               atol=1e-6)
    np.testing.assert_allclose(FaceClassifier(served, backend="torch", precision="fp32", balanced=False)
                               .predict_proba(crops), base.predict_proba(crops), atol=1e-6)
    onnx_file = api.export(str(served), str(tmp_path / "served.onnx"))
    exported = FaceClassifier(str(onnx_file), backend="onnx")                        # the ONNX metadata carries it
    assert exported.prior_strength == 0.25
    np.testing.assert_allclose(exported.predict_proba(crops), default.predict_proba(crops), atol=1e-4)
    assert api.evaluate(str(served), str(folder)).balanced == 0.25
    assert api.evaluate(str(served), str(folder), balanced=False).balanced == 0.0
    before = served.read_bytes()
    with pytest.raises(CheckpointError, match="prior_strength"):
        record_prior_strength(served, 1.5)
    assert served.read_bytes() == before


def test_calibrate_can_choose_the_served_prior_strength_on_the_held_out_faces(tmp_path, capsys):
    """calibrate(prior_strength="auto") records the strength that the rule picks on the very faces the
    temperature was fitted on (never losing accuracy there); a number is recorded as given; a strength out of
    range or a word other than auto is refused by the command line, naming the option."""
    from conftest import write_class_folder

    from facsnet import api
    from facsnet.cli import main
    from facsnet.data.specs import HOLDOUT_SEED, dataset, holdout_split
    from facsnet.inference import FaceClassifier
    from facsnet.models.checkpoint import read_checkpoint
    from facsnet.training.calibration import choose_prior_strength

    folder = write_class_folder(tmp_path / "toy", per_class=16)
    for f in sorted((folder / "sad").iterdir())[5:]:     # 16 happy, 5 sad, 16 angry
        f.unlink()
    api.train(str(folder), val="holdout", val_fraction=0.25, out=str(tmp_path / "run"), epochs=1, batch_size=8,
              progress=False)
    plain = str(tmp_path / "run" / "final.pt")
    auto = api.calibrate(plain, str(folder), val_fraction=0.25, tta_flip=True, out=str(tmp_path / "auto.pt"),
                         prior_strength="auto")
    _, held = holdout_split(dataset(str(folder), "train"), 0.25, HOLDOUT_SEED)
    served = FaceClassifier(str(tmp_path / "auto.pt"), backend="torch", precision="fp32", balanced=False)
    probs = served.predict_proba(held.images)
    prior = FaceClassifier(plain, backend="torch", precision="fp32", balanced=True).prior
    assert auto.prior_strength == choose_prior_strength(probs, held.labels, prior)
    assert auto.prior_strength_rule == "uar_keeping_accuracy"
    corrected = prior_corrected(probs, prior, auto.prior_strength)
    assert np.mean(corrected.argmax(1) == held.labels) >= np.mean(probs.argmax(1) == held.labels)
    ck = read_checkpoint(tmp_path / "auto.pt")
    assert ck["inference"]["prior_strength"] == auto.prior_strength and ck["inference"]["tta_flip"]
    given = api.calibrate(plain, str(folder), val_fraction=0.25, out=str(tmp_path / "given.pt"), prior_strength=0.4)
    assert (given.prior_strength, given.prior_strength_rule) == (0.4, "given")
    assert FaceClassifier(str(tmp_path / "given.pt"), backend="torch", precision="fp32").prior_strength == 0.4
    assert api.calibrate(plain, str(folder), val_fraction=0.25, tta_flip=True, prior_strength="AUTO").prior_strength \
        == auto.prior_strength
    with pytest.raises(ValueError, match="prior_strength=1.5"):
        api.calibrate(plain, str(folder), val_fraction=0.25, prior_strength=1.5)
    capsys.readouterr()
    assert main(["calibrate", "--model", plain, "--data", str(folder), "--val-fraction", "0.25",
                 "--prior-strength", "1.5", "--out", str(tmp_path / "bad.pt")]) == 2
    assert "--prior-strength 1.5" in capsys.readouterr().err and not (tmp_path / "bad.pt").exists()
    with pytest.raises(SystemExit):
        main(["calibrate", "--model", plain, "--prior-strength", "most", "--out", str(tmp_path / "bad.pt")])
    assert "'most': give 'auto' or a number" in capsys.readouterr().err


def test_calibrating_on_faces_the_model_trained_on_is_refused(tmp_path, toy_folder):
    from facsnet import api

    api.train(str(toy_folder), val="none", out=str(tmp_path / "run"), epochs=1, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="not validated on the hold-out"):
        api.calibrate(str(tmp_path / "run" / "final.pt"), str(toy_folder), val_fraction=0.25)


def _folder_with_twins(root):
    """A class folder that repeats pictures as FER2013 does: 8 happy faces twice under other names (exact
    twins), 8 sad ones again re-toned (near twins)."""
    import shutil

    from conftest import write_class_folder
    from PIL import Image

    folder = write_class_folder(root, per_class=16)
    for f in sorted((folder / "happy").iterdir())[:8]:
        shutil.copy(f, f.with_name("copy_" + f.name))
    for f in sorted((folder / "sad").iterdir())[:8]:
        image = np.asarray(Image.open(f), dtype=np.float32)
        Image.fromarray(np.clip(0.8 * image + 20, 0, 255).astype(np.uint8)).save(f.with_name("retoned_" + f.name))
    return folder


def test_calibrating_on_the_unseen_hold_out_leaves_out_the_faces_whose_picture_training_repeats(tmp_path):
    from facsnet import api
    from facsnet.data.splits import near_twins, pixel_twins

    folder = _folder_with_twins(tmp_path / "toy")
    api.train(str(folder), val="holdout", val_fraction=0.25, out=str(tmp_path / "run"), epochs=1, batch_size=8,
              progress=False)
    trained_on, held = api.holdout_split(api.dataset(str(folder), "train"), 0.25, api.HOLDOUT_SEED)
    exact = int(pixel_twins(held, trained_on).sum())
    twins = int(near_twins(held, trained_on).sum())       # the exact copies and the re-toned ones
    assert 0 < exact < twins < len(held)
    weights = str(tmp_path / "run" / "final.pt")
    plain = api.calibrate(weights, str(folder), val_fraction=0.25)
    unseen = api.calibrate(weights, str(folder), val="holdout-unseen", val_fraction=0.25)
    distinct = api.calibrate(weights, str(folder), val="holdout-distinct", val_fraction=0.25)
    assert (plain.n, unseen.n, distinct.n) == (len(held), len(held) - exact, len(held) - twins)
    assert unseen.fitted_on.endswith("-unseen") and distinct.fitted_on.endswith("-distinct")


def test_a_run_validated_on_the_distinct_hold_out_trains_on_the_same_faces_and_calibrates_on_any_part(tmp_path):
    import json

    from facsnet import api
    from facsnet.data.specs import kept_out_by
    from facsnet.data.splits import near_twins, pixel_twins

    folder = _folder_with_twins(tmp_path / "toy")
    for val in ("holdout", "holdout-distinct"):
        api.train(str(folder), val=val, val_fraction=0.25, out=str(tmp_path / val), epochs=1, batch_size=8,
                  progress=False)
    plain, distinct = (json.loads((tmp_path / v / "config.json").read_text())["data"]
                       for v in ("holdout", "holdout-distinct"))
    trained_on, held = api.holdout_split(api.dataset(str(folder), "train"), 0.25, api.HOLDOUT_SEED)
    twins = int(near_twins(held, trained_on).sum())
    assert twins > 0 and plain["train"]["fingerprint"] == distinct["train"]["fingerprint"] == trained_on.fingerprint()
    assert (plain["val"]["n"], distinct["val"]["n"]) == (len(held), len(held) - twins)
    assert distinct["val"]["name"].endswith("-holdout-distinct")
    # the whole hold-out is recorded as kept out; a plain hold-out run's record is as it always was
    assert distinct["val"]["holdout_fingerprint"] == held.fingerprint() and "holdout_fingerprint" not in plain["val"]
    weights = str(tmp_path / "holdout-distinct" / "final.pt")
    exact = int(pixel_twins(held, trained_on).sum())
    assert api.calibrate(weights, str(folder), val="holdout", val_fraction=0.25).n == len(held)
    assert api.calibrate(weights, str(folder), val="holdout-unseen", val_fraction=0.25).n == len(held) - exact
    assert api.calibrate(weights, str(folder), val="holdout-distinct", val_fraction=0.25).n == len(held) - twins
    whole = api.dataset(str(folder), "train")
    assert kept_out_by(distinct["val"], whole, 0.25)[1].fingerprint() == held.fingerprint()
    assert kept_out_by(plain["train"], whole, 0.25) is None    # training faces, not a hold-out
    assert kept_out_by(None, whole, 0.25) is None
    both = api.ensemble([str(tmp_path / "holdout" / "final.pt"), weights], str(tmp_path / "both.pt"))  # same faces
    assert api.calibrate(str(both), str(folder), val="holdout-distinct", val_fraction=0.25).n == len(held) - twins


def test_a_hold_out_left_empty_by_its_twins_is_a_clear_error(tmp_path, capsys):
    import shutil

    from conftest import write_class_folder

    from facsnet.cli import main

    folder = write_class_folder(tmp_path / "toy", per_class=8)
    for f in sorted(folder.rglob("*.png")):                 # every picture three more times: no face is distinct
        for i in range(3):
            shutil.copy(f, f.with_name(f"copy{i}_{f.name}"))
    assert main(["train", "--data", str(folder), "--val", "holdout-distinct", "--val-fraction", "0.25", "--out",
                 str(tmp_path / "run"), "--epochs", "1", "--batch-size", "8", "--no-progress"]) == 2
    assert "have a twin among its" in capsys.readouterr().err and not (tmp_path / "run" / "last.pt").exists()


def test_holdout_validation_is_the_same_faces_for_every_seed_and_never_trained_on(tmp_path, toy_folder):
    import json

    from facsnet import api

    records = []
    for seed in (0, 1):
        api.train(str(toy_folder), val="holdout", val_fraction=0.25, out=str(tmp_path / f"s{seed}"), epochs=1,
                  batch_size=8, progress=False, seed=seed)
        records.append(json.loads((tmp_path / f"s{seed}" / "config.json").read_text())["data"])
    assert records[0]["val"]["fingerprint"] == records[1]["val"]["fingerprint"]
    assert records[0]["val"]["n"] + records[0]["train"]["n"] == 36
    train, held = api.holdout_split(api.dataset(str(toy_folder), "train"), 0.25, api.HOLDOUT_SEED)
    assert held.fingerprint() == records[1]["val"]["fingerprint"] and not set(held.paths) & set(train.paths)


def test_an_ensemble_is_the_mean_of_its_members_probabilities_and_serves_like_one_model(tmp_path, toy_folder, capsys):
    """api.ensemble makes one checkpoint: its probabilities are the mean of the members', on
    PyTorch and exported to ONNX; it calibrates on the members' shared hold-out."""
    from facsnet import api
    from facsnet.inference import FaceClassifier

    paths = []
    for seed, model in ((0, "breuer2017"), (1, "vgg48_small")):
        api.train(str(toy_folder), val="holdout", val_fraction=0.25, out=str(tmp_path / f"m{seed}"), epochs=1,
                  batch_size=8, progress=False, seed=seed, model=model)
        paths.append(str(tmp_path / f"m{seed}" / "final.pt"))
    ens = api.ensemble(paths, str(tmp_path / "ens.pt"))
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    members = [FaceClassifier(p, backend="torch", precision="fp32").predict_proba(crops) for p in paths]
    together = FaceClassifier(str(ens), backend="torch", precision="fp32")
    np.testing.assert_allclose(together.predict_proba(crops), np.mean(members, 0), atol=1e-5)
    grown = FaceClassifier(str(api.ensemble([str(ens), paths[0]], str(tmp_path / "ens3.pt"))), backend="torch",
                           precision="fp32")   # an ensemble given as a member adds its members: three equal votes
    np.testing.assert_allclose(grown.predict_proba(crops), np.mean(members + members[:1], 0), atol=1e-5)
    from facsnet.cli import main as cli_main    # the command line counts the members written, not its arguments

    cli_main(["ensemble", str(ens), paths[0], "--out", str(tmp_path / "ens3_cli.pt")])
    assert capsys.readouterr().out.startswith("ensemble of 3 members written to")
    pruned = api.ensemble([str(tmp_path / "ens3.pt")], str(tmp_path / "ens_23.pt"), keep=[2, 3])  # members 2 and 3
    np.testing.assert_allclose(FaceClassifier(str(pruned), backend="torch", precision="fp32").predict_proba(crops),
                               np.mean(members[1:] + members[:1], 0), atol=1e-5)
    from facsnet.models import read_checkpoint   # the kept members are the ones asked for, each with its record

    assert [m["via"] for m in read_checkpoint(pruned)["members"]] == [f"{tmp_path / 'ens3.pt'} member {i}" for i in (2, 3)]
    for keep, why in (([3], "at least two"), ([2, 2], "at least two"), ([1, 4], "members 1 to 3")):
        with pytest.raises(ValueError, match=why):
            api.ensemble([str(tmp_path / "ens3.pt")], str(tmp_path / "bad.pt"), keep=keep)
    exported = str(api.export(str(ens), str(tmp_path / "ens.onnx")))
    from facsnet.inference.classifier import backend_available

    for backend in [b for b in ("onnx", "openvino") if backend_available(b)]:   # each runtime reads the graph itself
        served = FaceClassifier(exported, backend=backend, precision="fp32")
        np.testing.assert_allclose(served.predict_proba(crops), np.mean(members, 0), atol=1e-4, err_msg=backend)
    cal = api.calibrate(str(ens), str(toy_folder), val_fraction=0.25, out=str(tmp_path / "ens_cal.pt"))
    assert cal.n == 9
    api.train(str(toy_folder), val="none", out=str(tmp_path / "other"), epochs=1, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="other faces"):
        api.ensemble([paths[0], str(tmp_path / "other" / "final.pt")], str(tmp_path / "bad.pt"))


def test_data_classes_only_never_predicts_a_class_the_data_lacks_and_keeps_the_rest():
    """evaluate --data-classes-only: the model's classes absent from the data get no prediction, the
    others keep their proportions, and a face already predicted as one of the data's classes keeps it,
    so accuracy can only rise."""
    from facsnet.data.faceset import FaceSet
    from facsnet.models import load_model
    from facsnet.training import evaluate_on
    from facsnet.training.evaluate import restricted_to

    p = restricted_to(np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]), [False, True, True])
    np.testing.assert_allclose(p, [[0, 0.6, 0.4], [0, 2 / 3, 1 / 3]])
    with pytest.raises(ValueError, match="no class left"):
        restricted_to(p, [False, False, False])
    net = load_model("fer2013_bn")
    names = ["happy", "sadness", "surprise"]
    faces = np.random.default_rng(2).integers(0, 256, (30, 48, 48), dtype=np.uint8)
    data = FaceSet(name="toy", images=faces, labels=np.arange(30) % 3, class_names=names,
                   paths=[f"f{i}.png" for i in range(30)])
    every, only = evaluate_on(net, data), evaluate_on(net, data, data_classes_only=True)
    kept = [net.class_names.index(c) for c in names]
    others = [i for i in range(len(net.class_names)) if i not in kept]
    assert only.data_classes_only and not every.data_classes_only
    assert np.asarray(only.confusion)[:, others].sum() == 0
    assert np.asarray(every.confusion)[:, others].sum() > 0          # random faces: some went elsewhere before
    assert (np.asarray(only.confusion)[:, kept] >= np.asarray(every.confusion)[:, kept]).all()
    assert only.accuracy >= every.accuracy and only.n == every.n == 30
    declared = FaceSet(name="toy", images=faces, labels=np.arange(30) % 3, class_names=[*names, "anger"],
                       paths=data.paths)          # a class declared (an empty folder) but without faces
    empty = evaluate_on(net, declared, data_classes_only=True)
    assert np.asarray(empty.confusion)[:, net.class_names.index("anger")].sum() == 0
    assert np.array_equal(empty.confusion, only.confusion)


def test_evaluate_measures_how_far_the_faces_class_shares_lie_and_suggests_balanced_past_the_line(tmp_path, capsys):
    """The distance is the total variation between the scored faces' class shares and the training shares
    the checkpoint records, both over the classes the faces have; past SHARE_DISTANCE_FOR_BALANCED, and
    with enough faces for the shares to mean something, the summary suggests --balanced, naming the class
    that differs most, and says nothing once the faces are read with equally likely classes."""
    from conftest import write_class_folder
    from facsnet.cli import main
    from facsnet.data.faceset import FaceSet
    from facsnet.models import load_model
    from facsnet.report.evaluation import balanced_hint
    from facsnet.training.calibration import MIN_FACES_FOR_SHARE_DISTANCE, SHARE_DISTANCE_FOR_BALANCED
    from facsnet.training.evaluate import evaluate_on

    net = load_model("fer2013_bn")
    train = dict(zip(net.class_names, net.class_prior))
    n = MIN_FACES_FOR_SHARE_DISTANCE
    # half disgust, a quarter each happy and neutral, and 20 contempt faces that the model has no class for
    labels = np.concatenate([np.repeat([0, 1, 2], [n // 2, n // 4, n // 4]), np.full(20, 3)])
    faces = np.random.default_rng(3).integers(0, 256, (len(labels), 48, 48), dtype=np.uint8)
    skewed = FaceSet(name="toy", images=faces, labels=labels, class_names=["disgust", "happy", "neutral", "contempt"],
                     paths=[f"f{i}.png" for i in range(len(labels))])
    res = evaluate_on(net, skewed, balanced=0.3)
    assert res.n == n and res.left_out_classes == {"contempt": 20}
    among = {c: train[c] / (train["disgust"] + train["happy"] + train["neutral"]) for c in ("disgust", "happy", "neutral")}
    expected = 0.5 * (abs(0.5 - among["disgust"]) + abs(0.25 - among["happy"]) + abs(0.25 - among["neutral"]))
    assert res.class_share_distance == pytest.approx(expected) and expected > SHARE_DISTANCE_FOR_BALANCED
    assert res.to_dict()["class_share_distance"] == pytest.approx(expected)
    assert f"these {n} faces" in balanced_hint(res)
    assert f"disgust 50.0% against {among['disgust']:.1%}" in balanced_hint(res)     # the class furthest off
    assert balanced_hint(evaluate_on(net, skewed, balanced=True)) == ""
    few = evaluate_on(net, skewed.subset(np.arange(0, n, 2)))                  # too few faces to say
    assert few.class_share_distance > SHARE_DISTANCE_FOR_BALANCED and balanced_hint(few) == ""
    # faces at the training shares, to the nearest face: no suggestion
    counts = np.round(np.asarray(net.class_prior) * 400).astype(int)
    labels = np.repeat(np.arange(len(counts)), counts)
    alike = FaceSet(name="alike", images=np.zeros((len(labels), 48, 48), np.uint8), labels=labels,
                    class_names=list(net.class_names), paths=[f"a{i}.png" for i in range(len(labels))])
    res = evaluate_on(net, alike)
    assert res.class_share_distance < 0.01 and balanced_hint(res) == ""

    folder = write_class_folder(tmp_path / "d", classes=("disgust", "happy"), per_class=n // 2)
    assert main(["-q", "evaluate", "--model", "fer2013_bn", "--data", str(folder)]) == 0
    assert "--balanced (equally likely classes) read such faces more accurately" in capsys.readouterr().out
