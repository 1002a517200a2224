"""Top-N selection, dead filters and P(j, u) on hand-made tables."""
import numpy as np
import pytest
import torch

from conftest import REAL_DATA, realdata
from facsnet.au import au_matrix, correlate, filter_au_correlation, read_ckplus_au_labels
from facsnet.interpret.activations import dead_filters, max_activation_table, top_n_images
from facsnet.models import create_model

# 5 images x 3 filters; filter 2 never fires.
TABLE = np.array([[0.1, 3.0, 0.0],
                  [0.9, 1.0, 0.0],
                  [0.5, 2.0, 0.0],
                  [0.7, 0.0, 0.0],
                  [0.2, 2.0, 0.0]])


def test_top_n_and_dead_filters_by_hand():
    assert top_n_images(TABLE, 2).tolist() == [[1, 3], [0, 2], [0, 1]]   # ties: lower index first
    assert dead_filters(TABLE).tolist() == [False, False, True]
    assert dead_filters(TABLE, eps=0.95).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="1..5"):
        top_n_images(TABLE, 6)


def test_p_ju_by_hand():
    labels = {"S1_1": {4, 12}, "S2_1": {12}, "S3_1": {25}}
    seqs = np.array(["S1_1", "S2_1", "S3_1", "S1_1", "S3_1"])
    A, aus = au_matrix(seqs, labels)
    assert aus == [4, 12, 25]
    top = top_n_images(TABLE, 2)                       # filter 0 -> images 1, 3; filter 1 -> 0, 2
    P = filter_au_correlation(top, A)
    # filter 0: images 1 (S2: 12) and 3 (S1: 4, 12) -> AU4 0.5, AU12 1.0, AU25 0
    # filter 1: images 0 (S1: 4, 12) and 2 (S3: 25)  -> 0.5, 0.5, 0.5
    np.testing.assert_allclose(P[:2], [[0.5, 1.0, 0.0], [0.5, 0.5, 0.5]])
    res = correlate(top, seqs, labels, alive=~dead_filters(TABLE), permutations=20)
    assert res.alive == 2 and res.matched == 1
    assert res.matches == [{"filter": 0, "au": 12, "name": "AU12 lip corner puller"}]
    assert 0 <= res.matched_permuted_mean <= 2


def test_missing_au_labels_are_named():
    with pytest.raises(ValueError, match="S9_9"):
        au_matrix(np.array(["S9_9"]), {"S1_1": {1}})


def test_activation_table_is_the_max_of_the_relu_map():
    torch.manual_seed(0)
    m = create_model("breuer2017", num_classes=3).eval()
    x = torch.randint(0, 256, (4, 1, 48, 48), dtype=torch.uint8)
    table = max_activation_table(m, x, "conv2", batch_size=3)
    with torch.no_grad():
        blk = m.features[1]
        act = blk[1](blk[0](m.features[0](m.norm(x.float() / 255))))   # conv2 -> its ReLU
    np.testing.assert_allclose(table, act.flatten(2).amax(2).numpy(), rtol=1e-5)
    assert (table >= 0).all() and table.shape == (4, 128)


@realdata("CK+_AU_labels", "ckplus_327_sequences_AU_emotion.csv")
def test_ckplus_au_labels_cover_every_ckplus48_sequence():
    labels = read_ckplus_au_labels(REAL_DATA / "CK+_AU_labels" / "ckplus_327_sequences_AU_emotion.csv")
    assert len(labels) == 327 and labels["S010_004"] == {4, 7, 17, 23, 24}
    from facsnet.data import load_dataset

    fs = load_dataset(REAL_DATA / "CK+48")
    A, aus = au_matrix(fs.sequences, labels)
    assert A.shape == (981, len(aus)) and 12 in aus and A[:, aus.index(12)].sum() > 100
