"""The ablation scripts: the test-time table recombines the members exactly as the bundled ensemble
serves them, and the recipe table names what each arm changes."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facsnet.figures import curves_figure, save_figure_png
from facsnet.inference import FaceClassifier
from facsnet.models import load_model, read_checkpoint, resolve_weights
from facsnet.models.checkpoint import class_prior_of
from facsnet.training.calibration import calibrate, prior_corrected, tempered_probs
from facsnet.training.predict import predict_logits

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_row_is_what_the_bundled_ensemble_serves():
    tt = _script("test_time_ablation")
    net = load_model("fer2013_vgg_ens")
    ckpt = read_checkpoint(resolve_weights("fer2013_vgg_ens"))
    temperature, prior = ckpt["calibration"]["temperature"], class_prior_of(ckpt)
    faces = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (12, 1, 48, 48), dtype=np.uint8))
    lp = tt.member_log_probs(net, faces)
    assert len(lp) == 10 and lp["face"].shape == (len(net.members), 12, 7)
    served = tempered_probs(predict_logits(net, faces).numpy(), temperature, predict_logits(net, faces.flip(-1)).numpy())
    served = prior_corrected(served, prior, net.prior_strength)          # the strength its checkpoint records
    classifier = FaceClassifier("fer2013_vgg_ens", backend="torch", precision="fp32")
    assert np.allclose(classifier.predict_proba(faces[:, 0].numpy()), served, atol=1e-4)
    rows = {r[0]: r for r in tt.rows_of(len(net.members), temperature, served_strength=net.prior_strength)}
    _, _, members, views, t, strength = rows["default"]
    assert strength == net.prior_strength
    assert np.allclose(tt.combine(lp, members, views, t, prior, strength), served, atol=1e-5)
    one = tt.combine(lp, [0], ["face"], 1.0)                        # one member, one view: its own softmax
    assert np.allclose(one, torch.softmax(predict_logits(net.members[0], faces), 1).numpy(), atol=1e-5)
    assert {f"member_{i + 1}" for i in range(len(net.members))} | {"all_members", "shifts_1px"} <= set(rows)
    assert {"members_1_2", "members_1_3", "members_2_3"} <= {r[0] for r in tt.rows_of(3, temperature)}  # pairs of 3


def test_a_one_pixel_shift_moves_the_face_and_repeats_the_edge():
    tt = _script("test_time_ablation")
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4)
    left = tt.shifted(x, 1, 0)[0, 0]             # read one pixel further right: the content moves left
    assert left[:, :-1].tolist() == x[0, 0, :, 1:].tolist() and left[:, -1].tolist() == x[0, 0, :, -1].tolist()
    down = tt.shifted(x, 0, -1)[0, 0]            # read one pixel higher: the content moves down
    assert down[1:].tolist() == x[0, 0, :-1].tolist() and down[0].tolist() == x[0, 0, 0].tolist()


def test_the_recipe_table_names_what_an_arm_changes():
    at = _script("ablation_table")
    from dataclasses import asdict

    from facsnet.training.config import TrainConfig

    config = {**asdict(TrainConfig()), "lr": 0.02, "optimizer": "sgd", "augment": {"erase": 0.5}}
    base = {"config": config, "train_data": "fer2013-train-0.25"}
    arm = lambda data="fer2013-train-0.25", **changed: {"config": {**config, **changed}, "train_data": data}  # noqa: E731
    assert at.change_of(base, arm()) == "none (the recipe)"
    assert at.change_of(base, arm(augment={"erase": 0.0}, progress=True)) == "augment.erase: 0.5 -> 0.0"
    assert at.change_of(base, arm(optimizer="adam", lr=1e-3)) == "lr: 0.02 -> 0.001; optimizer: \"sgd\" -> \"adam\""
    assert (at.change_of(base, arm("fer2013-train-votes-0.25", soft_targets=True))
            == "soft_targets: false -> true; train data: fer2013-train-0.25 -> fer2013-train-votes-0.25")


def test_the_prior_corrected_row_is_what_evaluate_balanced_scores():
    from facsnet.data.faceset import FaceSet
    from facsnet.training import evaluate_on

    tt = _script("test_time_ablation")
    net = load_model("fer2013_vgg_ens")
    ckpt = read_checkpoint(resolve_weights("fer2013_vgg_ens"))
    rng = np.random.default_rng(1)
    faces = rng.integers(0, 256, (14, 48, 48), dtype=np.uint8)
    data = FaceSet(name="toy", images=faces, labels=np.arange(14) % 7, class_names=list(net.class_names),
                   paths=[f"f{i}.png" for i in range(14)])
    x, labels, _ = tt.labelled(list(net.class_names), data)
    rows = {r[0]: r for r in tt.rows_of(len(net.members), ckpt["calibration"]["temperature"])}
    _, _, members, views, t, strength = rows["prior_corrected"]
    assert strength == 1.0
    probs = tt.combine(tt.member_log_probs(net, x), members, views, t, class_prior_of(ckpt), strength)
    served = evaluate_on(net, data, tta_flip=True, balanced=True)
    assert tt.scores(probs, labels)["accuracy"] == round(served.accuracy, 4)
    assert abs(tt.scores(probs, labels)["nll"] - served.nll) < 1e-3



def test_choosing_the_prior_strength_on_half_the_faces_is_scored_on_the_other_half():
    """scripts/prior_strength.py: where the unseen half's classes are as skewed as the training faces,
    no strength beats 0 there; where every class is equally common, the chosen strength gains on it."""
    ps = _script("prior_strength")
    rng = np.random.default_rng(0)
    prior = np.array([0.7, 0.2, 0.1])

    def faces(class_shares, n=3000):
        """A one-number face per class, N(class, 1), and the exact posterior of a model trained on `prior`."""
        labels = rng.choice(3, n, p=class_shares)
        x = labels + rng.normal(0, 1, n)
        posterior = np.exp(-0.5 * (x[:, None] - np.arange(3)) ** 2) * prior
        return posterior / posterior.sum(1, keepdims=True), labels

    for shares, gains in ((prior, False), (np.ones(3) / 3, True)):
        served, labels = faces(shares)
        by_strength = {s: prior_corrected(served, prior, s) for s in ps.STRENGTHS}
        half = ps.chosen_on_half(by_strength, labels, halvings=5)
        assert half["splits"] == 10 and sum(half["picked"].values()) == 10
        if gains:
            assert half["accuracy_gain_mean"] > 0.02 and half["uar_gain_mean"] > 0.02
            assert min(float(s) for s in half["picked"]) >= 0.5
        else:
            assert abs(half["accuracy_gain_mean"]) < 0.01 and max(float(s) for s in half["picked"]) <= 0.3
        # the served rule: the best balanced recall among the strengths that lose no accuracy where it chooses
        everyone = np.arange(len(labels))
        pick = ps.best_recall_keeping_accuracy(by_strength, labels, everyone)
        assert ps.accuracy(by_strength[pick], labels) >= ps.accuracy(by_strength[0.0], labels)
        assert all(ps.uar(by_strength[s], labels) <= ps.uar(by_strength[pick], labels) for s in ps.STRENGTHS
                   if ps.accuracy(by_strength[s], labels) >= ps.accuracy(by_strength[0.0], labels))
        kept = ps.chosen_on_half(by_strength, labels, halvings=5, rule=ps.best_recall_keeping_accuracy)
        assert kept["uar_gain_mean"] > (0.02 if gains else -0.01)
    # each face right at exactly one of two strengths, half and half: whichever wins on the choosing half
    # loses on the other, so a choice scored where it was made would show a gain, and this one cannot
    labels = np.zeros(100, dtype=int)
    right_at_1 = np.arange(100) % 2 == 1
    by_strength = {0.0: np.eye(2)[np.where(right_at_1, 1, 0)], 1.0: np.eye(2)[np.where(right_at_1, 0, 1)]}
    half = ps.chosen_on_half(by_strength, labels, halvings=5)
    assert half["accuracy_gain_mean"] < 0 and half["picked"].get("1.0", 0) > 0

def test_pruning_offers_every_sub_ensemble_that_fits_one_bundled_file(tmp_path):
    """scripts/prune_ensemble.py: a subset is offered exactly when its fp16 weights and the metadata
    margin fit the limit, and a bundled sub-ensemble really weighs less than that estimate."""
    prune, bundle = _script("prune_ensemble"), _script("bundle_weights")
    mb = 2**20
    fits = prune.subsets_that_fit([5 * mb, 2 * mb, 5 * mb, 5 * mb], limit=16 * mb)
    assert (1, 3, 4) in fits and (1, 2, 3, 4) not in fits and all(len(k) >= 2 for k in fits)
    assert len(fits) == 11 - 1                      # every pair and triple, not the four together
    ck = read_checkpoint(resolve_weights("fer2013_vgg_ens"))
    sizes = prune.member_bytes(ck)
    assert len(sizes) == len(ck["members"]) and min(sizes) > 2 * mb
    from facsnet.models.ensemble import ensemble_checkpoint

    sub = ensemble_checkpoint(["fer2013_vgg_ens"], str(tmp_path / "sub.pt"), keep=[1, 2])
    bundle.main(str(sub), str(tmp_path / "bundled.pt"))
    assert sizes[0] + sizes[1] < (tmp_path / "bundled.pt").stat().st_size < sizes[0] + sizes[1] + prune.METADATA_BYTES


def test_bundling_over_the_limit_leaves_the_bundled_file_as_it_was(tmp_path, monkeypatch):
    """The limit counts the written file (records and all), not the weights alone: a file whose weights
    fit but whose records tip it over is refused, and the file at the destination is untouched."""
    bundle = _script("bundle_weights")
    ck = read_checkpoint(resolve_weights("fer2013_bn"))
    weights = sum(v.numel() * 2 for v in ck["state_dict"].values() if v.is_floating_point())
    dst = tmp_path / "bundled.pt"
    dst.write_bytes(b"the model users have now")
    monkeypatch.setattr(bundle, "BUNDLE_LIMIT_BYTES", weights + 1)
    with pytest.raises(SystemExit, match="left as it was"):
        bundle.main(str(resolve_weights("fer2013_bn")), str(dst))
    assert dst.read_bytes() == b"the model users have now"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundled.pt"]
    monkeypatch.setattr(bundle, "BUNDLE_LIMIT_BYTES", weights + _script("prune_ensemble").METADATA_BYTES)
    bundle.main(str(resolve_weights("fer2013_bn")), str(dst))
    assert read_checkpoint(dst)["model_name"] == ck["model_name"]


def test_member_agreement_counts_shared_errors_among_the_faces_either_gets_wrong():
    agree = _script("member_agreement")
    y = torch.tensor([0, 1, 2, 3, 4])
    preds = {"a": torch.tensor([0, 1, 2, 0, 0]),      # wrong on faces 3 and 4
             "b": torch.tensor([0, 1, 0, 0, 4]),      # wrong on faces 2 and 3
             "c": y.clone()}                          # never wrong
    rows = agree.pair_stats(preds, y)
    assert rows["a-b"] == {"agreement": 0.6, "shared_errors": round(1 / 3, 4)}   # both wrong on 3 of {2, 3, 4}
    assert rows["a-c"] == {"agreement": 0.6, "shared_errors": 0.0}
    assert agree.pair_stats({"c": y, "d": y.clone()}, y)["c-d"] == {"agreement": 1.0, "shared_errors": 1.0}


def test_the_curves_figure_draws_each_run_and_the_hold_out_score_the_goal_needs(tmp_path, monkeypatch):
    curves = _script("plot_curves")
    runs = tmp_path / "runs" / "default_model"
    runs.mkdir(parents=True)
    for run, accs in (("fer2013_vgg48", [0.5, 0.6, 0.65]), ("fer2013_vgg48_s1", [0.55, 0.7])):
        (runs / f"history_{run}.json").write_text(json.dumps([{"epoch": e + 1, "val_accuracy": a} for e, a in enumerate(accs)]))
    monkeypatch.setattr(curves, "RES", tmp_path)
    summary = {"default_model": {"holdout": {"accuracy": 0.73}, "publictest": {"accuracy": 0.71},
                                 "grow": {"C": {"run": "fer2013_vgg48_s1"}}}}
    panel = curves.member_panel(summary)
    assert [c.label for c in panel.curves] == ["A: fer2013_vgg48", "C: fer2013_vgg48_s1"]   # B has no history here
    assert panel.curves[0].epochs == (1, 2, 3) and panel.curves[1].accuracy == (0.55, 0.7)
    assert [round(v, 4) for _, v in panel.references] == [0.73, 0.74]     # 72% plus the measured 2-point gap
    fig = curves_figure([panel])
    lines = fig.axes[0].get_lines()
    assert list(lines[0].get_ydata()) == [50.0, 60.0, 65.0]               # in %, one line per run ...
    assert {line.get_ydata()[0] for line in lines[2:]} == {73.0, 74.0}    # ... then the reference lines
    save_figure_png(fig, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_choosing_members_scores_each_subset_as_the_ensemble_would_serve_it():
    """scripts/choose_members.py: a member equal to an earlier one counts once; a subset's logits are
    what an Ensemble of those members outputs; a subset is offered exactly when it fits the limit."""
    choose = _script("choose_members")
    from facsnet.models import create_model
    from facsnet.models.ensemble import Ensemble

    torch.manual_seed(0)
    nets = [create_model("vgg48_small").eval() for _ in range(3)]
    copy = create_model("vgg48_small").eval()
    copy.load_state_dict(nets[1].state_dict())
    assert choose.distinct_members([nets[0], nets[1], copy, nets[2]]) == [0, 1, 3]
    faces = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (6, 1, 48, 48), dtype=np.uint8))
    lp = np.stack([torch.log_softmax(predict_logits(n, faces), 1).numpy() for n in nets])
    ens = Ensemble(members=[{"model_name": "vgg48_small", "model_config": {}}] * 2).eval()
    for member, src in zip(ens.members, (nets[0], nets[2])):
        member.load_state_dict(src.state_dict())
    assert np.allclose(choose.mean_prob_logits(lp, (0, 2)), predict_logits(ens, faces).numpy(), atol=1e-5)
    mb = 2**20
    fits = choose.subsets_that_fit([5 * mb, 2 * mb, 5 * mb, 5 * mb], limit=16 * mb)
    assert (0, 2, 3) in fits and (0, 1, 2, 3) not in fits and len(fits) == 10
    labels = np.array([0, 1, 2, 0, 1, 2])
    mirror = np.stack([torch.log_softmax(predict_logits(n, faces.flip(-1)), 1).numpy() for n in nets])
    row = choose.score_subset(lp, mirror, labels, (0, 1, 2), "faces")
    logits, flipped = choose.mean_prob_logits(lp, (0, 1, 2)), choose.mean_prob_logits(mirror, (0, 1, 2))
    assert row["temperature"] == calibrate(logits, labels, "faces", flipped_logits=flipped).temperature
    pred = tempered_probs(logits, row["temperature"], flipped).argmax(1)
    assert row["accuracy"] == round(float(np.mean(pred == labels)), 4)


def test_members_are_scored_with_the_weights_an_int8_bundle_gives_back(tmp_path):
    """choose_members.as_served(net, int8=True) holds exactly the weights that loading an int8 bundle
    of ``net`` gives, so what the hold-out scores is what users get."""
    choose = _script("choose_members")
    from facsnet.models import create_model
    from facsnet.models.checkpoint import model_from_checkpoint, save_checkpoint

    torch.manual_seed(1)
    net = create_model("vgg48_small").eval()
    save_checkpoint(tmp_path / "int8.pt", net, "vgg48_small", int8=True)
    loaded = model_from_checkpoint(tmp_path / "int8.pt").state_dict()
    served = choose.as_served(net, int8=True).state_dict()
    assert loaded.keys() == served.keys() and all(torch.equal(loaded[k], served[k]) for k in loaded)


def test_the_combination_rules_agree_with_the_ensemble_and_weights_find_the_informative_member():
    """scripts/combination_rule.py: the unweighted mean-probability rule is what an Ensemble outputs;
    the geometric mean is the members' mean log-probability; fitted weights go to the member whose
    outputs carry the labels, away from the ones that guess."""
    rule = _script("combination_rule")
    from facsnet.models import create_model
    from facsnet.models.ensemble import Ensemble

    torch.manual_seed(0)
    nets = [create_model("vgg48_small").eval() for _ in range(2)]
    ens = Ensemble(members=[{"model_name": "vgg48_small", "model_config": {}}] * 2).eval()
    for member, src in zip(ens.members, nets):
        member.load_state_dict(src.state_dict())
    faces = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (5, 1, 48, 48), dtype=np.uint8))
    lp = np.stack([torch.log_softmax(predict_logits(n, faces), 1).numpy() for n in nets])
    assert np.allclose(rule.mean_probability(lp), predict_logits(ens, faces).numpy(), atol=1e-5)
    assert np.allclose(rule.mean_log_probability(lp), lp.mean(0))

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 7, 400)
    informed = np.full((400, 7), 0.05)
    informed[np.arange(400), labels] = 0.7
    guessing = rng.dirichlet(np.ones(7), (2, 400))
    member_lp = np.log(np.concatenate([guessing[:1], informed[None], guessing[1:]]))
    w = rule.fitted_weights(member_lp, member_lp, labels)
    assert w.argmax() == 1 and w[1] > 0.8 and np.isclose(w.sum(), 1)
    fitted = rule.fit_rule("weighted_mean_probability", member_lp, member_lp, labels)
    probs = rule.served_probs("weighted_mean_probability", fitted, member_lp, member_lp, None, 0.0)
    assert np.mean(probs.argmax(1) == labels) == 1.0


def test_em_recovers_the_class_shares_of_a_collection_from_exact_posteriors():
    """scripts/prior_adaptation.py: where the probabilities are the true posteriors under the training
    shares (three classes, one-dimensional Gaussian faces), EM finds the collection's own shares, and the
    adapted probabilities classify those faces at least as well as the training-prior ones."""
    adapt = _script("prior_adaptation")
    rng = np.random.default_rng(0)
    means, train, shares = np.array([-2.0, 0.0, 2.0]), np.array([0.6, 0.3, 0.1]), np.array([0.1, 0.3, 0.6])
    labels = rng.choice(3, 6000, p=shares)
    x = rng.normal(means[labels], 1.0)
    likelihood = np.exp(-0.5 * (x[:, None] - means[None]) ** 2)
    posterior = likelihood * train / (likelihood * train).sum(1, keepdims=True)
    adapted, estimated, iterations = adapt.adapted_to_collection(posterior, train)
    assert np.allclose(estimated, shares, atol=0.03) and iterations < 200
    assert np.allclose(adapted.sum(1), 1)
    assert np.mean(adapted.argmax(1) == labels) > np.mean(posterior.argmax(1) == labels) + 0.05
    with pytest.raises(ValueError, match="do not match"):
        adapt.adapted_to_collection(posterior, train[:2])


def test_the_twins_table_splits_one_set_of_predictions_into_parts_that_add_up():
    """scripts/fer2013_twins.py: twins and the rest, exact-or-near twins and the rest, are parts of the same
    predictions; the curve counts an exact twin at every correlation (a blank face has none to measure)."""
    twins = _script("fer2013_twins")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=20)
    labels = rng.integers(0, 3, 20)
    exact = np.arange(20) < 4
    near = np.arange(20) < 7
    s = twins.split_scores(probs, labels, exact, near)
    assert {k: v["n"] for k, v in s.items()} == {"all": 20, "twins": 4, "unseen": 16, "twins_or_near": 7, "distinct": 13}
    right = probs.argmax(1) == labels
    for part, mask in (("twins", exact), ("unseen", ~exact), ("twins_or_near", near), ("distinct", ~near)):
        assert s[part]["accuracy"] == pytest.approx(right[mask].mean(), abs=1e-4)
    best = np.array([0.0, 0.995, 0.95, 0.93, 0.5])        # the first an exact twin with no appearance (blank)
    curve = twins.near_twin_curve(best, np.array([True, False, False, False, False]))
    assert curve["0.99"] == 2 and curve["0.95"] == 3 and curve["0.93"] == 4 and curve["0.90"] == 4
    assert list(curve.values()) == sorted(curve.values())
