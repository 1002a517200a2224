"""The training loop on generated data: it learns, it resumes exactly, checkpoints round-trip."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from conftest import hours_pass_after_each_epoch, write_class_folder
from facsnet.data import read_class_folder
from facsnet.models.checkpoint import model_from_checkpoint, read_checkpoint
from facsnet.training import TrainConfig, train
from facsnet.models.checkpoint import CheckpointError
from facsnet.training.predict import predict_logits
from facsnet.training.schedules import cosine_decay, keras_time_decay

FAST = dict(batch_size=8, progress=False, device="cpu", precision="fp32")


@pytest.fixture
def toy_sets(tmp_path):
    train_set = read_class_folder(write_class_folder(tmp_path / "tr", per_class=16, seed=0))
    val_set = read_class_folder(write_class_folder(tmp_path / "va", per_class=6, seed=1))
    return train_set, val_set


def _weights(path):
    return read_checkpoint(path)["state_dict"]


def test_a_short_run_lowers_the_loss_and_learns(toy_sets, tmp_path):
    tr, va = toy_sets
    res = train(tr, va, TrainConfig(epochs=8, lr=1e-3, **FAST), out_dir=tmp_path / "run")
    losses = [h["train_loss"] for h in res.history]
    assert losses[-1] < 0.7 * losses[0]
    assert res.best_val_accuracy > 0.6          # chance is 1/3
    for name in ("best.pt", "last.pt", "final.pt", "config.json", "history.json"):
        assert (tmp_path / "run" / name).exists()


def test_a_run_says_its_plan_and_how_long_it_will_take(toy_sets, tmp_path, caplog):
    tr, va = toy_sets
    caplog.set_level("INFO", logger="facsnet.train")
    train(tr, va, TrainConfig(epochs=3, **FAST), out_dir=tmp_path / "run")
    plan = [r.getMessage() for r in caplog.records if r.getMessage().startswith("plan:")]
    assert plan == [f"plan: breuer2017 on {tr.name} (48 faces, 3 classes), epochs 1-3 of 3, 6 steps of 8 per epoch, on cpu"]
    estimate = [r.getMessage() for r in caplog.records if r.getMessage().startswith("estimate")]
    assert len(estimate) == 1 and "for the 3 epoch(s) left on this host" in estimate[0]


def test_resume_continues_exactly_where_it_stopped(toy_sets, tmp_path):
    tr, va = toy_sets
    cfg = TrainConfig(epochs=3, **FAST)
    train(tr, va, cfg, out_dir=tmp_path / "straight")
    train(tr, va, TrainConfig(epochs=2, **FAST), out_dir=tmp_path / "resumed")   # "interrupted" after 2
    res = train(tr, va, cfg, out_dir=tmp_path / "resumed")                       # same command again
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    a, b = _weights(tmp_path / "straight" / "final.pt"), _weights(tmp_path / "resumed" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    import json

    starts = json.loads((tmp_path / "resumed" / "provenance.json").read_text())["starts"]
    assert [s["first_epoch"] for s in starts] == [1, 3] and starts[0]["data_fingerprint"] == tr.fingerprint()


def test_seeded_runs_repeat_and_seeds_differ(toy_sets, tmp_path):
    tr, _ = toy_sets
    for d, seed in (("a", 1), ("b", 1), ("c", 2)):
        train(tr, None, TrainConfig(epochs=1, seed=seed, **FAST), out_dir=tmp_path / d)
    a, b, c = (_weights(tmp_path / d / "final.pt") for d in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_checkpoint_describes_itself_and_round_trips(toy_sets, tmp_path):
    tr, va = toy_sets
    train(tr, va, TrainConfig(epochs=1, **FAST), out_dir=tmp_path / "run")
    ck = read_checkpoint(tmp_path / "run" / "best.pt")
    assert ck["class_names"] == ["anger", "happy", "sadness"]
    assert ck["train_config"]["lr"] == 1e-3 and ck["data"]["train"]["fingerprint"] == tr.fingerprint()
    assert 0 <= ck["metrics"]["accuracy"] <= 1
    model = model_from_checkpoint(ck)
    x, _ = va.tensors()
    acc = (predict_logits(model, x).argmax(1).numpy() == va.labels).mean()
    assert acc == pytest.approx(ck["metrics"]["accuracy"])


def test_loading_never_executes_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code ran')",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": "facsnet-checkpoint-1", "x": Evil()}))
    with pytest.raises(CheckpointError, match="evil.pt"):
        read_checkpoint(path)


def test_keras_time_decay_matches_the_formula():
    f = keras_time_decay(1e-5)
    assert f(0) == 1.0 and f(100_000) == pytest.approx(0.5)
    w = keras_time_decay(0.0, warmup_steps=10)
    assert [w(s) for s in (0, 4, 9, 50)] == pytest.approx([0.1, 0.5, 1.0, 1.0])


def test_cosine_schedule_matches_the_formula():
    f = cosine_decay(100)
    assert [f(s) for s in (0, 50, 100, 500)] == pytest.approx([1.0, 0.5, 0.0, 0.0])
    assert cosine_decay(100, warmup_steps=4)(1) == pytest.approx(0.5 * 0.5 * (1 + np.cos(np.pi / 100)))


def test_sgd_with_cosine_schedule_learns_and_resumes_after_a_crash(toy_sets, tmp_path, monkeypatch):
    import facsnet.training.loop as loop

    tr, va = toy_sets
    cfg = TrainConfig(epochs=4, optimizer="sgd", lr=0.05, schedule="cosine", weight_decay=1e-4, **FAST)
    straight = train(tr, va, cfg, out_dir=tmp_path / "straight")
    losses = [h["train_loss"] for h in straight.history]
    assert losses[-1] < 0.8 * losses[0] and straight.history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    real_evaluate, calls = loop.evaluate_model, []

    def crash_in_epoch_3(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("power cut")
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(loop, "evaluate_model", crash_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train(tr, va, cfg, out_dir=tmp_path / "crashed")
    monkeypatch.setattr(loop, "evaluate_model", real_evaluate)
    res = train(tr, va, cfg, out_dir=tmp_path / "crashed")   # the same command again
    assert [h["epoch"] for h in res.history] == [1, 2, 3, 4]
    a, b = _weights(tmp_path / "straight" / "final.pt"), _weights(tmp_path / "crashed" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)  # SGD momentum and the schedule resumed exactly


def test_unknown_optimizer_or_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match="optimizer = 'rmsprop': choose from adam, sgd"):
        TrainConfig(epochs=1, optimizer="rmsprop", **FAST)
    with pytest.raises(ValueError, match="schedule = 'step': choose from keras, cosine"):
        TrainConfig(epochs=1, schedule="step", **FAST)


@pytest.mark.parametrize("setting,value,message", [
    ("epochs", -3, "epochs = -3: must be greater than 0"), ("epochs", 0, "epochs = 0"),
    ("batch_size", 0, "batch_size = 0"), ("batch_size", -4, "batch_size = -4"), ("lr", -1e-3, "lr = -0.001: must be 0 or more"),
    ("warmup_steps", -1, "warmup_steps = -1: must be 0 or more"), ("label_smoothing", 1.0, "label_smoothing"),
    ("momentum", 1.5, "momentum"), ("max_minutes", -1.0, "max_minutes"), ("precision", "fp8", "precision"),
    ("mixup", -0.2, "mixup = -0.2: must be 0 or more"), ("model", "resnet9000", "not a registered model"), ("device", "tpu", "not a device"),
    ("augment", {"erase": 1.5}, "erase = 1.5: a probability"), ("augment", {"rotate": -1}, "rotate = -1"),
])
def test_out_of_range_settings_are_refused_by_name(setting, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{setting: value})


def test_a_run_folder_refuses_other_settings_or_data_and_overwrite_starts_afresh(toy_sets, tmp_path):
    from facsnet.training.run_folder import RunFolderError

    tr, va = toy_sets
    out = tmp_path / "run"
    train(tr, va, TrainConfig(epochs=1, **FAST), out_dir=out)
    with pytest.raises(RunFolderError, match=r"lr: 0.001 -> 0.01.*--overwrite"):
        train(tr, va, TrainConfig(epochs=1, **{**FAST, "lr": 1e-2}), out_dir=out)
    with pytest.raises(RunFolderError, match="fingerprint"):
        train(tr.subset(np.arange(len(tr) - 3)), va, TrainConfig(epochs=1, **FAST), out_dir=out)
    assert len(train(tr, va, TrainConfig(epochs=2, **FAST), out_dir=out).history) == 2   # Keras schedule: longer resumes
    with pytest.raises(RunFolderError, match="epochs: 2 -> 1"):                           # but not shorter
        train(tr, va, TrainConfig(epochs=1, **FAST), out_dir=out)
    with pytest.raises(RunFolderError, match="epochs"):                                   # cosine: another run
        train(tr, va, TrainConfig(epochs=3, **{**FAST, "schedule": "cosine"}), out_dir=out)
    res = train(tr, va, TrainConfig(epochs=1, **{**FAST, "lr": 1e-2}), out_dir=out, overwrite=True)
    assert [h["epoch"] for h in res.history] == [1]
    assert read_checkpoint(out / "final.pt")["train_config"]["lr"] == 1e-2


def test_time_limit_stops_after_an_epoch_and_the_same_command_finishes_exactly(toy_sets, tmp_path, monkeypatch):
    tr, va = toy_sets
    train(tr, va, TrainConfig(epochs=3, **FAST), out_dir=tmp_path / "straight")
    with monkeypatch.context() as m:
        hours_pass_after_each_epoch(m)
        res = train(tr, va, TrainConfig(epochs=3, max_minutes=30.0, **FAST), out_dir=tmp_path / "limited")
    out = tmp_path / "limited"
    assert not res.completed and res.epochs_done == 1 and res.final is None
    assert read_checkpoint(out / "last.pt")["epoch"] == 0                # index of the one epoch trained
    assert not (out / "final.pt").exists()                               # nothing that looks finished
    res = train(tr, va, TrainConfig(epochs=3, max_minutes=30.0, **FAST), out_dir=out)   # clock as usual
    assert res.completed and [h["epoch"] for h in res.history] == [1, 2, 3]
    assert json.loads((out / "provenance.json").read_text())["starts"][-1]["first_epoch"] == 2
    assert read_checkpoint(out / "final.pt")["epoch"] == 3
    a, b = _weights(tmp_path / "straight" / "final.pt"), _weights(out / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)                      # as if never stopped


def test_a_run_stopped_before_any_epoch_and_a_longer_run_leave_nothing_that_looks_finished(toy_sets, tmp_path):
    tr, va = toy_sets
    res = train(tr, None, TrainConfig(epochs=2, max_minutes=0.0, **FAST), out_dir=tmp_path / "no_val")
    assert not res.completed and res.epochs_done == 0
    assert not (tmp_path / "no_val" / "best.pt").exists()               # without validation best.pt = final weights
    out = tmp_path / "keras"
    train(tr, None, TrainConfig(epochs=1, **FAST), out_dir=out)
    assert (out / "final.pt").exists() and (out / "best.pt").exists()
    res = train(tr, None, TrainConfig(epochs=3, max_minutes=0.0, **FAST), out_dir=out)   # longer (Keras), stopped
    assert not res.completed and not (out / "final.pt").exists() and not (out / "best.pt").exists()


def test_init_from_a_checkpoint_transfers_the_features(toy_sets, tmp_path):
    tr, va = toy_sets
    train(tr, va, TrainConfig(epochs=1, **FAST), out_dir=tmp_path / "src")
    two = tr.subset(np.flatnonzero(tr.labels < 2))
    two.class_names = two.class_names[:2]
    train(two, None, TrainConfig(epochs=1, lr=0.0, init=str(tmp_path / "src" / "best.pt"), **FAST),
                out_dir=tmp_path / "dst")
    src, dst = _weights(tmp_path / "src" / "best.pt"), _weights(tmp_path / "dst" / "final.pt")
    assert torch.equal(src["features.0.0.weight"], dst["features.0.0.weight"])   # lr 0: unchanged copy
    assert dst["head.weight"].shape == (2, 512)


def test_soft_targets_train_on_vote_distributions(toy_sets, tmp_path):
    tr, va = toy_sets
    n, c = len(tr), len(tr.class_names)
    tr.soft = np.full((n, c), 0.1 / (c - 1), dtype=np.float32)
    tr.soft[np.arange(n), tr.labels] = 0.9                      # 90% of the votes on the label
    res = train(tr, va, TrainConfig(epochs=3, soft_targets=True, **FAST), out_dir=tmp_path / "run")
    # With soft targets the loss cannot fall below the targets' entropy (~0.43 nats here).
    entropy = float(-(tr.soft * np.log(tr.soft)).sum(1).mean())
    assert all(h["train_loss"] > entropy - 1e-3 for h in res.history)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_fit_minibatches_recovers_a_line_and_repeats_itself():
    from facsnet.training.fit import fit_minibatches, minibatches

    x = torch.linspace(-1, 1, 64)[:, None]
    y = 2.0 * x + 1.0

    def fitted(batch_size):
        torch.manual_seed(0)
        layer = torch.nn.Linear(1, 1)
        fit_minibatches(layer.parameters(), lambda idx: ((layer(x if idx is None else x[idx]) - (y if idx is None else y[idx])) ** 2).mean(),
                        len(x), epochs=300, lr=0.05, batch_size=batch_size, generator=torch.Generator().manual_seed(1))
        return layer.weight.item(), layer.bias.item()

    w, b = fitted(16)
    assert w == pytest.approx(2.0, abs=1e-2) and b == pytest.approx(1.0, abs=1e-2)
    assert fitted(16) == (w, b)                                          # same seeds, same weights
    assert fitted(None) == pytest.approx((2.0, 1.0), abs=1e-2)           # one full batch per epoch
    batches = minibatches(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2] and sorted(torch.cat(batches).tolist()) == list(range(10))


def test_mixup_mixes_faces_and_targets_by_one_weight_per_step():
    from facsnet.training.mixup import mix_batch, mixup_weight

    x = torch.arange(4 * 2 * 2, dtype=torch.float32).reshape(4, 1, 2, 2)
    mixed, partner = mix_batch(x, 0.7, torch.Generator().manual_seed(0))
    assert sorted(partner.tolist()) == [0, 1, 2, 3]
    assert torch.allclose(mixed, 0.7 * x + 0.3 * x[partner])
    w = [mixup_weight(0.2, seed=0, rank=0, epoch=e, step=s) for e in range(3) for s in range(50)]
    assert w == [mixup_weight(0.2, seed=0, rank=0, epoch=e, step=s) for e in range(3) for s in range(50)]
    assert all(0 <= v <= 1 for v in w) and np.mean([min(v, 1 - v) < 0.1 for v in w]) > 0.5   # Beta(0.2): mostly near 0 or 1
    assert len(set(w)) == len(w)                                   # a fresh weight for every (epoch, step)
    assert mixup_weight(0.2, seed=-3, rank=0, epoch=0, step=0) != mixup_weight(0.2, seed=3, rank=0, epoch=0, step=0)


def test_a_mixup_run_learns_resumes_exactly_and_differs_from_a_plain_one(toy_sets, tmp_path):
    tr, va = toy_sets
    cfg = TrainConfig(epochs=3, mixup=0.4, **FAST)
    res = train(tr, va, cfg, out_dir=tmp_path / "straight")
    train(tr, va, TrainConfig(epochs=2, mixup=0.4, **FAST), out_dir=tmp_path / "resumed")
    train(tr, va, cfg, out_dir=tmp_path / "resumed")
    train(tr, va, TrainConfig(epochs=3, **FAST), out_dir=tmp_path / "plain")
    a, b = _weights(tmp_path / "straight" / "final.pt"), _weights(tmp_path / "resumed" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    plain = _weights(tmp_path / "plain" / "final.pt")
    assert not all(torch.equal(a[k], plain[k]) for k in a)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_distillation_loss_is_zero_on_the_teachers_logits_and_pulls_towards_them():
    from facsnet.training.distill import distillation_loss

    teacher = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
    assert distillation_loss(teacher.clone(), teacher, 4.0).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(teacher + 3.0, teacher, 4.0).item() == pytest.approx(0.0, abs=1e-6)  # a shift is no change
    student = torch.zeros(2, 3, requires_grad=True)
    loss = distillation_loss(student, teacher, 2.0)
    assert loss.item() > 0
    loss.backward()
    # a gradient step raises the student's logit where the teacher's softened probability is above the student's
    assert student.grad[0, 0] < 0 and student.grad[0, 2] > 0 and student.grad[1, 1] < 0
    # the direction is KL(teacher || student), by hand for an uneven pair at T = 1 and T = 2 (the reverse differs)
    t, st = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([[0.0, 1.0, 0.0]])
    for temp in (1.0, 2.0):
        p_t, p_s = (t / temp).softmax(1), (st / temp).softmax(1)
        by_hand = temp ** 2 * float((p_t * (p_t.log() - p_s.log())).sum())
        reverse = temp ** 2 * float((p_s * (p_s.log() - p_t.log())).sum())
        assert distillation_loss(st, t, temp).item() == pytest.approx(by_hand, rel=1e-5)
        assert abs(by_hand - reverse) > 0.05


def test_a_student_with_scrambled_labels_learns_from_its_teacher_alone(toy_sets, tmp_path):
    tr, va = toy_sets
    train(tr, va, TrainConfig(epochs=8, lr=1e-3, **FAST), out_dir=tmp_path / "teacher")
    teacher = model_from_checkpoint(tmp_path / "teacher" / "final.pt")
    teacher_says = predict_logits(teacher, torch.from_numpy(va.images[:, None])).argmax(1).numpy()
    assert (teacher_says == va.labels).mean() > 0.6
    scrambled = tr.subset(np.arange(len(tr)))
    scrambled.labels = np.random.default_rng(0).permutation(tr.labels)
    cfg = TrainConfig(epochs=8, lr=1e-3, teacher=str(tmp_path / "teacher" / "final.pt"), distill_weight=1.0, **FAST)
    res = train(scrambled, va, cfg, out_dir=tmp_path / "student")
    student = model_from_checkpoint(tmp_path / "student" / "final.pt")
    student_says = predict_logits(student, torch.from_numpy(va.images[:, None])).argmax(1).numpy()
    assert (student_says == teacher_says).mean() > 0.6      # chance is 1/3: it learned the teacher, not the labels
    assert res.final.accuracy > 0.5
    record = read_checkpoint(tmp_path / "student" / "final.pt")
    assert record["teacher"]["source"].endswith("final.pt") and len(record["teacher"]["sha256_16"]) == 16
    assert record["train_config"]["distill_weight"] == 1.0
    # with weight 0 and the same scrambled labels nothing is learned from the teacher
    plain = train(scrambled, va, TrainConfig(epochs=8, lr=1e-3, **FAST), out_dir=tmp_path / "plain")
    assert plain.final.accuracy < res.final.accuracy


def test_a_teacher_with_other_classes_is_refused(toy_sets, tmp_path):
    tr, va = toy_sets
    train(tr, None, TrainConfig(epochs=1, **FAST), out_dir=tmp_path / "teacher")
    two = tr.subset(np.flatnonzero(tr.labels < 2))
    two.class_names = two.class_names[:2]
    with pytest.raises(ValueError, match="its classes .* are not the training data's"):
        train(two, None, TrainConfig(epochs=1, teacher=str(tmp_path / "teacher" / "final.pt"), **FAST),
              out_dir=tmp_path / "student")
    with pytest.raises(FileNotFoundError, match=r"teacher \(--teacher\) .*nowhere.pt"):
        train(tr, None, TrainConfig(epochs=1, teacher=str(tmp_path / "nowhere.pt"), **FAST), out_dir=tmp_path / "s2")
    small = tr.subset(np.arange(len(tr)))
    small.images = np.ascontiguousarray(small.images[:, ::2, ::2])
    with pytest.raises(ValueError, match=r"teacher .*final.pt: takes 1x\d+x\d+ inputs, the training data are 1x"):
        train(small, None, TrainConfig(epochs=1, teacher=str(tmp_path / "teacher" / "final.pt"), **FAST),
              out_dir=tmp_path / "s3")
    with pytest.raises(ValueError, match="distill_weight = 0.5: has no effect without a teacher"):
        TrainConfig(distill_weight=0.5)
    with pytest.raises(ValueError, match="distill_weight = 1.5"):
        TrainConfig(distill_weight=1.5)
    with pytest.raises(ValueError, match="distill_temperature = 0"):
        TrainConfig(distill_temperature=0)


def test_runs_begun_before_distillation_existed_still_resume(toy_sets, tmp_path):
    import json

    from facsnet.training import cross_validate

    tr, va = toy_sets
    cfg = TrainConfig(epochs=1, **FAST)
    train(tr, va, cfg, out_dir=tmp_path / "run")
    cross_validate(tr, cfg, k=2, out_dir=tmp_path / "cv", folds=[0])
    for record in (tmp_path / "run" / "config.json", tmp_path / "cv" / "config.json"):
        old = json.loads(record.read_text())
        assert "distill_weight" not in old["train_config"]      # no teacher: the distillation settings are not recorded
        del old["train_config"]["teacher"]                       # as written before the settings existed
        record.write_text(json.dumps(old))
    assert len(train(tr, va, TrainConfig(epochs=2, **FAST), out_dir=tmp_path / "run").history) == 2
    cross_validate(tr, cfg, k=2, out_dir=tmp_path / "cv", folds=[0, 1])


def test_cross_validation_refuses_a_teacher_trained_on_its_own_data(toy_sets, tmp_path):
    from facsnet.training import cross_validate

    tr, _ = toy_sets
    train(tr, None, TrainConfig(epochs=1, **FAST), out_dir=tmp_path / "teacher")
    with pytest.raises(ValueError, match="was trained on .* itself, test folds included"):
        cross_validate(tr, TrainConfig(epochs=1, teacher=str(tmp_path / "teacher" / "final.pt"), **FAST), k=2,
                       out_dir=tmp_path / "cv")


def test_a_distilled_run_resumes_exactly_and_refuses_another_teacher(toy_sets, tmp_path):
    from facsnet.training.run_folder import RunFolderError

    tr, va = toy_sets
    for name, seed in (("t1", 0), ("t2", 1)):
        train(tr, None, TrainConfig(epochs=1, seed=seed, **FAST), out_dir=tmp_path / name)
    teacher = str(tmp_path / "t1" / "final.pt")
    train(tr, va, TrainConfig(epochs=3, teacher=teacher, **FAST), out_dir=tmp_path / "straight")
    train(tr, va, TrainConfig(epochs=2, teacher=teacher, **FAST), out_dir=tmp_path / "resumed")   # "interrupted"
    res = train(tr, va, TrainConfig(epochs=3, teacher=teacher, **FAST), out_dir=tmp_path / "resumed")
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    a, b = _weights(tmp_path / "straight" / "final.pt"), _weights(tmp_path / "resumed" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the same path holding other weights is another teacher: refused by its digest
    (tmp_path / "t1" / "final.pt").write_bytes((tmp_path / "t2" / "final.pt").read_bytes())
    with pytest.raises(RunFolderError, match="sha256_16"):
        train(tr, va, TrainConfig(epochs=4, teacher=teacher, **FAST), out_dir=tmp_path / "resumed")
