"""Transfer heads, AU targets and metrics, the cross-dataset cells, and their bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from facsnet.data import FaceSet
from facsnet.models import create_model, list_models
from facsnet.transfer import (DenseHead, HeadConfig, LabelError, NoSharedClassesError, as_is, attach_head,
                              au_detection_cv, au_targets, extract_features, feature_dim, refit_output_layer, fit_head,
                              freeze_backbone, head_outputs, intensity_targets, read_intensities, sparsity_penalty)
from facsnet.transfer.learners import fine_tuned as fine_tuned_learner
from facsnet.transfer.learners import frozen
from facsnet.transfer.metrics import binary_f1, icc_3_1, roc_auc

from conftest import REAL_DATA, realdata


def test_transfer_refuses_networks_without_the_papers_dense_layer():
    for name in ("vgg48", "ensemble"):
        with pytest.raises(ValueError, match="no fc1"):
            extract_features(create_model(name, num_classes=7), np.zeros((2, 48, 48), np.uint8))


@pytest.mark.parametrize("name", [m for m in list_models() if m.startswith("breuer2017")])
def test_a_new_head_attaches_to_every_paper_family_model(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7).eval()
    x = torch.rand(5, 1, 48, 48)
    conv = extract_features(model, (x[:, 0].numpy() * 255).astype(np.uint8), layer="conv")
    assert conv.shape == (5, feature_dim(model)) == (5, 256 * 6 * 6)
    head = DenseHead(conv.shape[1], 3).eval()
    new = attach_head(model, head, ["AU1", "AU2", "AU4"], task="au")
    assert new.class_names == ["AU1", "AU2", "AU4"] and new.task == "au"
    with torch.no_grad():
        assert torch.allclose(new(x), head(model.forward_features(x)), atol=1e-5)  # same function, one module
        assert model(x).shape == (5, 7)  # the source model is untouched


def test_freezing_leaves_the_backbone_unchanged():
    torch.manual_seed(0)
    model = create_model("breuer2017", num_classes=7)
    frozen = freeze_backbone(model)
    assert frozen and all(n.startswith("features.") for n in frozen)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(torch.rand(8, 1, 48, 48)), torch.randint(0, 7, (8,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("features."))
    assert not torch.equal(before["head.weight"], after["head.weight"])
    assert not torch.equal(before["fc1.weight"], after["fc1.weight"])


def test_sparsity_penalty_is_l1_plus_l2_of_the_outputs():
    p = torch.tensor([[0.5, 0.0], [1.0, 0.25]])
    assert sparsity_penalty(p, 1.0, 0.0).item() == pytest.approx(1.75 / 4)
    assert sparsity_penalty(p, 0.0, 1.0).item() == pytest.approx((0.25 + 1.0 + 0.0625) / 4)
    assert sparsity_penalty(p, 0.1, 0.2).item() == pytest.approx(0.1 * 1.75 / 4 + 0.2 * 1.3125 / 4)


def test_sparsity_term_lowers_the_outputs_of_a_fitted_head():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 20)).astype(np.float32)
    Y = (X[:, :3] > 0.8).astype(np.float32)
    plain = head_outputs(fit_head(X, Y, HeadConfig(kind="multilabel", hidden=16, epochs=20)), X, "multilabel")
    sparse = head_outputs(fit_head(X, Y, HeadConfig(kind="multilabel", hidden=16, epochs=20, l1=1.0, l2=1.0)), X,
                          "multilabel")
    assert sparse.mean() < plain.mean()


def test_metrics_on_hand_made_cases():
    assert binary_f1([1, 1, 0, 0], [1, 0, 1, 0]) == pytest.approx(0.5)
    assert np.isnan(binary_f1([0, 0], [0, 0]))
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    a = np.array([1.0, 2, 3, 4, 5])
    assert icc_3_1(a, a) == pytest.approx(1.0)
    assert icc_3_1(a, a + 2) == pytest.approx(1.0)  # consistency: a constant offset does not count
    # Shrout & Fleiss (1979) data, judges 1 and 2 of their Table 2: ICC(3,1) by the two-way ANOVA.
    j1, j2 = np.array([9, 6, 8, 7, 10, 6.0]), np.array([2, 1, 4, 1, 5, 2.0])
    ms_r = 2 * np.var((j1 + j2) / 2, ddof=0) * 6 / 5
    resid = (j1 - j2 - np.mean(j1 - j2)) / np.sqrt(2)
    ms_e = np.sum(resid ** 2) / 5
    assert icc_3_1(j1, j2) == pytest.approx((ms_r - ms_e) / (ms_r + ms_e))


def _toy_ck(n_seq: int = 24, frames: int = 3):
    rng = np.random.default_rng(0)
    seqs = [f"S{(i % 8) + 1:03d}_{i:03d}" for i in range(n_seq)]
    labels = {s: ({1} if i % 2 else set()) | ({12} if i % 3 == 0 else set()) for i, s in enumerate(seqs)}
    images, seq_ids = [], []
    for s in seqs:
        for _ in range(frames):
            img = rng.normal(100, 10, (48, 48))
            if 1 in labels[s]:
                img[6:12, 10:38] += 90   # brows
            if 12 in labels[s]:
                img[34:40, 12:36] += 90  # mouth
            images.append(img.clip(0, 255).astype(np.uint8))
            seq_ids.append(s)
    n = len(images)
    data = FaceSet(images=np.stack(images), labels=np.array([i % 2 for i in range(n)]), class_names=["happy", "sadness"],
                   name="toyck", subjects=np.array([s[:4] for s in seq_ids]), sequences=np.array(seq_ids),
                   paths=[f"{s}_{i}.png" for i, s in enumerate(seq_ids)])
    return data, labels


def test_au_targets_and_their_errors():
    data, labels = _toy_ck()
    Y, aus = au_targets(data, labels, min_sequences=5)
    assert aus == [1, 12] and Y.shape == (72, 2)
    assert Y[:3, 1].tolist() == [1, 1, 1] and Y[3:6, 0].tolist() == [1, 1, 1]  # all three frames of a sequence
    with pytest.raises(LabelError, match="AU\\(s\\) 9 are not coded"):
        au_targets(data, labels, aus=[1, 9])
    with pytest.raises(LabelError, match="no sequence of toyck is in the AU labels"):
        au_targets(data, {"S999_001": {1}})


def test_au_detection_learns_toy_aus_over_subject_disjoint_folds(monkeypatch):
    import facsnet.transfer.au_tasks as tasks

    data, labels = _toy_ck()
    Y, aus = au_targets(data, labels, min_sequences=5)
    torch.manual_seed(0)
    model = create_model("breuer2017", num_classes=2)
    feats = extract_features(model, data.images, layer="conv")
    seen = []
    real_folds = tasks.make_folds

    def spy(*args, **kwargs):
        folds = real_folds(*args, **kwargs)
        seen.extend(folds)
        return folds

    monkeypatch.setattr(tasks, "make_folds", spy)
    res = au_detection_cv(frozen(feats, HeadConfig(kind="multilabel", hidden=32, epochs=30)), Y, aus,
                          data.subjects, data.labels, k=4, task="multilabel")
    assert res.summary["f1_mean"] > 0.8 and res.summary["auc_mean"] > 0.9  # chance: F1 ~0.4, AUC 0.5
    assert len(seen) == 4 and sorted(np.concatenate(seen).tolist()) == list(range(72))
    for test in seen:  # no subject on both sides of a fold
        train = np.setdiff1d(np.arange(72), test)
        assert not set(data.subjects[test]) & set(data.subjects[train])
    assert set(res.per_au) == {"AU1", "AU12"} and res.per_au["AU12"]["name"] == "lip corner puller"


def test_intensity_targets_and_out_of_range_values(tmp_path):
    data, _ = _toy_ck()
    path = tmp_path / "int.csv"
    path.write_text("subject,sequence,frame,au,intensity\nS001,S001_000,1,12,3\nS001,S001_000,1,1,0\n"
                    "S002,S002_001,1,12,4\nS002,S002_001,1,1.7,2\n")
    table = read_intensities(path)
    assert table == {"S001_000": {12: 3, 1: 0}, "S002_001": {12: 4}}
    Y, M, aus, rows = intensity_targets(data, table, min_coded=1)
    assert aus == [12] and len(rows) == 6 and Y[:, 0].tolist() == [3, 3, 3, 4, 4, 4] and M.all()
    Y, M, aus, rows = intensity_targets(data, table, aus=[12], min_coded=1)
    with pytest.raises(LabelError, match="AU\\(s\\) 1 have no coded intensity"):
        intensity_targets(data, table, aus=[1, 12])
    path.write_text("subject,sequence,frame,au,intensity\nS001,S001_000,1,12,7\n")
    with pytest.raises(LabelError, match=r"int.csv:2: intensity '7' of AU12 in S001_000 is outside 0-5"):
        read_intensities(path)


def test_cross_cells_on_toy_sets_and_no_shared_class():
    data, _ = _toy_ck()
    model = create_model("breuer2017", num_classes=3, class_names=["happy", "sadness", "anger"])
    cell = as_is(model, "toy", data, "as-is")
    assert cell.classes == ["happy", "sadness"] and cell.n == 72 and 0 <= cell.accuracy <= 1
    tuned = refit_output_layer(model, "toy", None, data, HeadConfig(kind="multiclass", hidden=0, epochs=5), k=4)
    assert tuned.n == 72 and "4-fold subject-independent" in tuned.protocol
    other = create_model("breuer2017", num_classes=2, class_names=["fear", "surprise"])
    with pytest.raises(NoSharedClassesError, match="share no class"):
        as_is(other, "fear-model", data, "as-is")


@realdata("CK+48")
@realdata("CK+_AU_labels")
def test_real_ck_au_detection_from_the_fer_backbone():
    from facsnet import api

    res = api.transfer_au("fer2013", "ckplus48", task="single", k=3, epochs=5, aus=[12, 25])
    # The FER2013 network never saw CK+; a linear detector on its frozen conv features finds smiles.
    assert res.per_au["AU12"]["f1"]["mean"] > 0.75 and res.per_au["AU25"]["auc"]["mean"] > 0.85
    assert (REAL_DATA / "CK+_AU_labels" / "ck_facs_intensity.csv").is_file()


def test_cli_cross_table_on_a_user_folder(tmp_path, capsys):
    from conftest import write_class_folder

    from facsnet.cli import main

    folder = write_class_folder(tmp_path / "mine", classes=("happy", "sad", "angry", "contempt"), per_class=8)
    assert main(["-q", "transfer", "cross", "--sources", "fer2013", "--targets", str(folder), "--k", "2",
                 "--epochs", "2", "--out", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "cross.md").read_text()
    assert "| fer2013 |" in table and "mine" in table
    import json

    written = json.loads((tmp_path / "out" / "cross.json").read_text())
    cells = written["cells"]
    assert {c["mode"] for c in cells} == {"as_is", "fine_tuned"}
    import hashlib

    from facsnet.models.hub import bundled_path

    bundled = hashlib.sha256(bundled_path("fer2013").read_bytes()).hexdigest()
    assert written["weights_sha256"] == {"fer2013": bundled[:16]}  # which weights the table came from
    assert cells[0]["classes"] == ["anger", "happy", "sadness"] and cells[0]["n"] == 24  # contempt left out


def test_fine_tuning_trains_the_conv_layers_of_a_copy_and_learns_toy_aus():
    data, labels = _toy_ck()
    Y, aus = au_targets(data, labels, min_sequences=5)
    torch.manual_seed(0)
    backbone = create_model("breuer2017", num_classes=2)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    learner = fine_tuned_learner(backbone, data.images, HeadConfig(kind="multilabel", hidden=32, epochs=8), lr=1e-3,
                                 augment=None)
    train, test = np.arange(0, 54), np.arange(54, 72)  # the first 18 sequences vs the last 6
    P = learner(train, test, Y, None)
    assert P.shape == (18, 2) and ((P > 0.5) == Y[test].astype(bool)).mean() > 0.8
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())  # the backbone is copied


def test_hurdle_intensity_is_zero_when_absent_and_sized_when_present():
    from facsnet.transfer.learners import hurdle

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    present = X[:, 0] > 0.5
    Y = np.where(present, np.clip(np.rint(3 + X[:, 1]), 1, 5), 0).astype(np.float32)[:, None]
    M = np.ones_like(Y)
    P = hurdle(X, HeadConfig(kind="regression", hidden=32, epochs=150))(np.arange(200), np.arange(200, 300), Y, M)
    test_present = present[200:]
    assert np.mean((P[:, 0] > 0) == test_present) > 0.85  # always-absent scores 0.69
    assert np.all(P[~test_present & (P[:, 0] == 0), 0] == 0)
    assert np.mean(np.abs(P[test_present & (P[:, 0] > 0), 0] - Y[200:][test_present & (P[:, 0] > 0), 0])) < 0.8


def test_cross_update_reruns_one_row_and_keeps_the_others(tmp_path):
    from conftest import write_class_folder

    from facsnet import api

    folder = write_class_folder(tmp_path / "mine", classes=("happy", "sad", "angry"), per_class=6)
    out = tmp_path / "out"
    api.transfer_cross(["fer2013", "ferplus"], [str(folder)], out=str(out), k=2, epochs=2)
    before = json.loads((out / "cross.json").read_text())
    cells = api.transfer_cross(["fer2013"], [str(folder)], out=str(out), k=2, epochs=2, update=True)
    after = json.loads((out / "cross.json").read_text())
    assert [c.source for c in cells] == ["fer2013", "fer2013", "ferplus", "ferplus"]  # the table's order kept
    assert after["cells"][2:] == before["cells"][2:] and after["weights_sha256"] == before["weights_sha256"]
    assert after["cells"][:2] == before["cells"][:2]  # same weights, same seed: the rerun row reproduces
    with pytest.raises(ValueError, match="other settings.*epochs"):
        api.transfer_cross(["fer2013"], [str(folder)], out=str(out), k=2, epochs=3, update=True)
    with pytest.raises(ValueError, match=r"other settings.*'k': \(2, 3\)"):
        api.transfer_cross(["fer2013"], [str(folder)], out=str(out), k=3, epochs=2, update=True)
    del after["k"]                        # a table written before k was recorded: read from its cells' protocols
    (out / "cross.json").write_text(json.dumps(after))
    with pytest.raises(ValueError, match=r"'k': \(2, 3\)"):
        api.transfer_cross(["fer2013"], [str(folder)], out=str(out), k=3, epochs=2, update=True)
    with pytest.raises(FileNotFoundError, match="no cross table to update"):
        api.transfer_cross(["fer2013"], [str(folder)], out=str(tmp_path / "none"), k=2, epochs=2, update=True)
