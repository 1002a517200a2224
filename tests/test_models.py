"""Contracts over every registered model, and facts about the paper's CNN."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from facsnet.models import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_every_model_meets_the_contract(name):
    torch.manual_seed(0)
    m = create_model(name, in_chans=1, num_classes=8, img_size=48)
    x = torch.rand(3, 1, 48, 48)
    out = m(x)
    assert out.shape == (3, 8) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    m.eval()
    feats = m.forward_features(x)
    torch.testing.assert_close(m.forward_head(feats), m(x))
    width = m.head.in_features if hasattr(m, "head") else 2 * 8      # an ensemble: its members' log-probabilities
    assert m.forward_head(feats, pre_logits=True).shape == (3, width)


def test_paper_architecture():
    m = create_model("breuer2017", in_chans=1, num_classes=8, img_size=48)
    convs = list(m.conv_layers().values())
    assert [c.out_channels for c in convs] == [64, 128, 256]
    assert all(c.kernel_size == (5, 5) and c.padding == (2, 2) for c in convs)
    assert sum(isinstance(mod, nn.ReLU) for mod in m.modules()) == 4       # 3 conv + 1 dense, all modules
    assert sum(isinstance(mod, nn.MaxPool2d) for mod in m.modules()) == 3
    assert m.fc1.in_features == 256 * 6 * 6 and m.fc1.out_features == 512
    drops = sorted(mod.p for mod in m.modules() if isinstance(mod, nn.Dropout))
    assert drops == [0.25, 0.5]
    n_params = sum(p.numel() for p in m.parameters())
    expected = (25 * 64 + 64) + (25 * 64 * 128 + 128) + (25 * 128 * 256 + 256) + (9216 * 512 + 512) + (512 * 8 + 8)
    assert n_params == expected


def test_per_image_normalisation_ignores_brightness_and_contrast():
    torch.manual_seed(0)
    m = create_model("breuer2017", num_classes=7).eval()
    x = torch.rand(2, 1, 48, 48) * 0.5
    torch.testing.assert_close(m(x), m(0.3 + 1.5 * x), rtol=1e-3, atol=1e-3)


def test_reset_classifier_keeps_features():
    m = create_model("breuer2017", num_classes=7)
    conv_before = m.features[0][0].weight.clone()
    m.reset_classifier(3, ["a", "b", "c"])
    assert m(torch.rand(1, 1, 48, 48)).shape == (1, 3) and m.class_names == ["a", "b", "c"]
    assert torch.equal(m.features[0][0].weight, conv_before)


def test_unknown_model_and_bad_size_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'vgg'.*breuer2017"):
        create_model("vgg")
    with pytest.raises(ValueError, match="multiple of 8"):
        create_model("breuer2017", img_size=50)


@pytest.mark.parametrize("name", ["breuer2017", "breuer2017_bn"])
def test_pooling_before_the_relu_changes_no_output_and_no_gradient(name):
    """The blocks pool before their ReLU (less work); the paper's order conv -> ReLU -> pool must
    give the same logits and the same gradient for every weight, ties at zero included."""
    torch.manual_seed(0)
    m = create_model(name, num_classes=7)
    x = torch.rand(4, 1, 48, 48)
    x[0] = 0.5                                        # a flat image: many all-negative pooling windows

    def paper_order(inp):
        h = m.norm(inp)
        for blk in m.features:
            h = nn.functional.max_pool2d(torch.relu(blk.pre_activation(h)), 2)
        return m.head(torch.relu(m.fc1(h.flatten(1))))

    m.eval()
    ours, ref = m(x), paper_order(x)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    g_ours = torch.autograd.grad(ours.square().sum(), list(m.parameters()))
    g_ref = torch.autograd.grad(paper_order(x).square().sum(), list(m.parameters()))
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_cpu_dropout_keeps_the_expected_share_scales_and_repeats_with_the_seed():
    from facsnet.models.layers import Dropout

    drop = Dropout(0.25).train()
    x = torch.ones(200, 1000)
    torch.manual_seed(3)
    a = drop(x)
    kept = (a > 0).float().mean().item()
    assert abs(kept - 0.75) < 0.005                               # 200,000 draws: sd of the share ~0.001
    assert torch.allclose(a[a > 0], torch.tensor(1 / 0.75))       # inverted dropout: the mean is kept
    torch.manual_seed(3)
    assert torch.equal(drop(x), a)                                # torch's seed fixes the mask
    assert not torch.equal(drop(x), a)                            # and the next call draws a new one
    assert torch.equal(drop.eval()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    y = torch.ones(8, 4, requires_grad=True)
    out = Dropout(0.5).train()(y)
    out.sum().backward()
    assert torch.equal(y.grad, (out > 0).float() * 2)             # the gradient flows through the kept units


def test_vgg48_architecture():
    """Two 3x3 conv + BN + ReLU per stage, a 2x2 pool after each of four stages, global pooling."""
    m = create_model("vgg48", num_classes=7)
    convs = list(m.conv_layers().values())
    assert [c.out_channels for c in convs] == [48, 48, 96, 96, 192, 192, 384, 384]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is None for c in convs)
    assert sum(isinstance(mod, nn.BatchNorm2d) for mod in m.modules()) == 8
    assert sum(isinstance(mod, nn.MaxPool2d) for mod in m.modules()) == 4
    assert m.forward_features(torch.rand(2, 1, 48, 48)).shape == (2, 384, 3, 3)
    assert [c.out_channels for c in create_model("vgg48_wide").conv_layers().values()][::2] == [64, 128, 256, 512]
    with pytest.raises(ValueError, match="multiple of 16"):
        create_model("vgg48", img_size=40)


def test_run_in_batches_scales_uint8_joins_pieces_and_tuples():
    from facsnet.models.batches import run_in_batches

    images = torch.arange(10 * 3, dtype=torch.uint8).reshape(10, 1, 3)
    whole = run_in_batches(lambda x: x.sum((1, 2)), images, batch_size=100)
    pieces = run_in_batches(lambda x: x.sum((1, 2)), images, batch_size=3)       # 3 + 3 + 3 + 1
    assert torch.equal(whole, pieces) and whole[1].item() == pytest.approx((3 + 4 + 5) / 255)
    a, b = run_in_batches(lambda x: (x[:, 0, 0], -x[:, 0, 0]), np.full((5, 1, 2), 0.5, np.float32), batch_size=2)
    assert a.tolist() == [0.5] * 5 and b.tolist() == [-0.5] * 5        # floats are taken as they are
    assert run_in_batches(lambda x: x, images[:0]).numel() == 0


def test_int8_bundles_hold_each_weight_within_half_a_step_in_half_the_bytes(tmp_path):
    """save_checkpoint(int8=True): conv and linear weights as int8 with one scale per output channel
    (the largest magnitude of each channel maps to 127), the rest fp16; read back with weights_only,
    every weight lies within half its channel's step of the original, and the file is about half the
    fp16 one."""
    from facsnet.models.checkpoint import (CheckpointError, bundled_bytes, model_from_checkpoint, read_checkpoint,
                                           save_checkpoint)
    torch.manual_seed(0)
    net = create_model("vgg48_small").eval()
    save_checkpoint(tmp_path / "fp16.pt", net, "vgg48_small", half=True)
    save_checkpoint(tmp_path / "int8.pt", net, "vgg48_small", int8=True)
    ck = torch.load(tmp_path / "int8.pt", map_location="cpu", weights_only=True)
    scales = ck["quantization"]["scales"]
    conv = next(k for k, v in net.state_dict().items() if v.dim() == 4)
    assert ck["state_dict"][conv].dtype == torch.int8 and ck["state_dict"][conv].abs().amax() == 127
    assert all(v.dtype == torch.float16 for v in ck["state_dict"].values() if v.is_floating_point())
    back = model_from_checkpoint(read_checkpoint(tmp_path / "int8.pt")).state_dict()
    for k, v in net.state_dict().items():
        if k in scales:
            step = scales[k].view(-1, *[1] * (v.dim() - 1))
            assert ((back[k] - v).abs() <= step / 2 + 1e-7).all(), k
        elif v.is_floating_point():
            assert torch.allclose(back[k], v.half().float()), k
    x = torch.rand(4, 1, 48, 48)
    assert torch.allclose(model_from_checkpoint(tmp_path / "int8.pt")(x), net(x), atol=0.05)
    size16, size8 = (tmp_path / "fp16.pt").stat().st_size, (tmp_path / "int8.pt").stat().st_size
    assert 0.45 < size8 / size16 < 0.6
    assert abs(size8 - bundled_bytes(net.state_dict(), int8=True)) < 64 * 2**10
    good = scales[conv]
    ck["quantization"]["scales"][conv] = good[:-1]                   # a damaged record is named, not misread
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad.pt: .*not int8 with one scale per output channel"):
        model_from_checkpoint(tmp_path / "bad.pt")
    del ck["quantization"]                                           # int8 weights read as if they were weights
    torch.save(ck, tmp_path / "unscaled.pt")
    with pytest.raises(CheckpointError, match=r"unscaled.pt: a damaged int8 record \(int8 weights without a scale"):
        model_from_checkpoint(tmp_path / "unscaled.pt")
