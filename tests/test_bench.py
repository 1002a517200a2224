"""The benchmarks: the throughput roofline arithmetic against a hand count, the Keras reference network."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from facsnet.models import create_model

_spec = importlib.util.spec_from_file_location(
    "train_throughput", Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_training_flops_of_the_paper_cnn_match_a_hand_count():
    # multiply-adds of one 48x48 image: conv1 48*48*64*25, conv2 24*24*128*64*25, conv3 12*12*256*128*25,
    # dense 9216*512, head 512*7; training = forward + weight grad + input grad (not for conv1's input)
    layers = [48 * 48 * 64 * 25, 24 * 24 * 128 * 64 * 25, 12 * 12 * 256 * 128 * 25, 9216 * 512, 512 * 7]
    expected = 2 * (3 * sum(layers) - layers[0]) / 1e9
    got = bench.training_gflop_per_image(create_model("breuer2017", num_classes=7))
    assert abs(got - expected) < 1e-9 and abs(got - 1.4587) < 1e-3


def test_real_work_leaves_out_the_padding_taps():
    # 'same' 5x5 conv on an n x n map: per axis 5n taps, of which 2 + 1 fall outside at each border
    inside = {48: (5 * 48 - 6) ** 2, 24: (5 * 24 - 6) ** 2, 12: (5 * 12 - 6) ** 2}
    layers = [inside[48] * 64, inside[24] * 64 * 128, inside[12] * 128 * 256, 9216 * 512, 512 * 7]
    expected = 2 * (3 * sum(layers) - layers[0]) / 1e9
    got = bench.training_gflop_per_image(create_model("breuer2017", num_classes=7), padding_taps=False)
    assert abs(got - expected) < 1e-9 and abs(got - 1.26) < 0.01   # the "~1.26 GFLOP of real work"


def test_flop_count_follows_the_input_size():
    small = bench.training_gflop_per_image(create_model("breuer2017", num_classes=7, img_size=24), (1, 24, 24))
    big = bench.training_gflop_per_image(create_model("breuer2017", num_classes=7))
    assert 3.9 < big / small < 4.1   # conv work scales with the pixel count; the dense layer shrinks too


@pytest.mark.parametrize("model", ["breuer2017", "breuer2017_bn"])
def test_keras_reference_is_the_same_network(model):
    """The Keras side of benchmarks/vs_keras.py has exactly the trainable weights of facsnet's model."""
    pytest.importorskip("keras", reason="Keras not installed (optional: pip install -e '.[bench]')")
    pytest.importorskip("tensorflow", reason="TensorFlow not installed (optional: pip install -e '.[bench]')")
    import importlib.util as iu
    from pathlib import Path

    spec = iu.spec_from_file_location("vs_keras", Path(__file__).resolve().parents[1] / "benchmarks" / "vs_keras.py")
    vs_keras = iu.module_from_spec(spec)
    spec.loader.exec_module(vs_keras)
    net = vs_keras.keras_network(batchnorm=model.endswith("_bn"))
    ours = create_model(model, num_classes=7)
    assert sum(int(np.prod(w.shape)) for w in net.trainable_weights) == sum(p.numel() for p in ours.parameters())
    assert [w.shape[-1] for w in net.trainable_weights if len(w.shape) == 4] == [64, 128, 256]
