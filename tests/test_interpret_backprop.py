"""Guided backprop and deconvnet on a tiny CNN with fixed weights, against hand-computed values."""
import pytest
import torch
import torch.nn as nn

from facsnet.interpret.backprop import filter_reconstruction
from facsnet.models import create_model


def tiny_model():
    """8x8 input, conv1 = [identity, negation] (centre taps), conv2 = sum of both channels.

    With the fixed normalisation x' = 2x - 1, conv1 gives (x', -x'), so ReLU1 keeps (x'+, x'-)."""
    m = create_model("breuer2017", in_chans=1, num_classes=2, img_size=8, widths=(2, 1, 1),
                     hidden=4, norm="fixed")
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        c1, c2 = m.conv_layers()["conv1"], m.conv_layers()["conv2"]
        c1.weight[0, 0, 2, 2], c1.weight[1, 0, 2, 2] = 1.0, -1.0
        c2.weight[0, 0, 2, 2], c2.weight[0, 1, 2, 2] = 1.0, 1.0
    return m


def test_hand_computed_guided_and_deconvnet():
    # x' = -0.5 everywhere (x = 0.25) except pixel (1, 1), x' = +0.5 (x = 0.75).
    x = torch.full((1, 1, 8, 8), 0.25)
    x[0, 0, 1, 1] = 0.75
    m = tiny_model()
    guided = filter_reconstruction(m, x, "conv2", 0, rule="guided")[0, 0]
    deconv = filter_reconstruction(m, x, "conv2", 0, rule="deconvnet")[0, 0]
    # Block (0,0): p0 = 0.5 from (1,1), p1 = 0.5 from the first tie (0,0); a2 = 1.
    #   both rules: +1 * 2 at (1,1) through channel 0, -1 * 2 at (0,0) through channel 1.
    # Other blocks: p0 = 0 (all-zero tie -> top-left), p1 = 0.5 (tie -> top-left); a2 = 0.5.
    #   guided: channel 0's gradient is blocked by its forward mask (x' < 0); channel 1 gives
    #   -0.5 * 2 = -1 at the top-left. deconvnet ignores the mask: +1 and -1 cancel there.
    expected_guided = torch.zeros(8, 8)
    expected_guided[::2, ::2] = -1.0
    expected_guided[0, 0], expected_guided[1, 1] = -2.0, 2.0
    expected_deconv = torch.zeros(8, 8)
    expected_deconv[0, 0], expected_deconv[1, 1] = -2.0, 2.0
    torch.testing.assert_close(guided, expected_guided)
    torch.testing.assert_close(deconv, expected_deconv)


def test_conv1_view_is_the_transposed_filter_over_its_rectified_map():
    torch.manual_seed(0)
    m = create_model("breuer2017", num_classes=3, norm="fixed").eval()
    x = torch.rand(2, 1, 48, 48)
    conv = m.conv_layers()["conv1"]
    act = torch.relu(conv(2 * x - 1))[:, 5:6]
    expected = 2 * torch.nn.functional.conv_transpose2d(act, conv.weight[5:6], padding=2)
    for rule in ("guided", "deconvnet"):   # only the layer's own ReLU lies on the path
        torch.testing.assert_close(filter_reconstruction(m, x, "conv1", 5, rule), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rule,captum_cls", [("guided", "GuidedBackprop"), ("deconvnet", "Deconvolution")])
def test_agrees_with_captum(rule, captum_cls):
    captum_attr = pytest.importorskip("captum.attr", reason="captum not installed")
    torch.manual_seed(1)
    m = create_model("breuer2017", num_classes=3).eval()
    x = torch.rand(3, 1, 48, 48)
    layer, j = "conv3", 17
    block = m.features[2]

    class FilterEnergy(nn.Module):
        """Output 0.5 * sum(act_j^2): its gradient w.r.t. the activation is act_j itself."""

        def __init__(self):
            super().__init__()
            self.model = m

        def forward(self, inp):
            act = self.model.norm(inp)
            for blk in self.model.features[:2]:    # the paper's order (deconvnet routes all-negative windows differently)
                act = nn.functional.max_pool2d(blk[1](blk[0](act)), 2)
            act = block[1](block[0](act))          # conv3 -> its ReLU
            return 0.5 * (act[:, j] ** 2).sum(dim=(1, 2))

    ours = filter_reconstruction(m, x, layer, j, rule)
    theirs = getattr(captum_attr, captum_cls)(FilterEnergy()).attribute(x)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
    assert ours.abs().sum() > 0


def test_no_hook_is_left_after_an_error():
    m = create_model("breuer2017", num_classes=3)
    m.features[1][0] = nn.Conv2d(7, 128, 5, padding=2)   # wrong input channels: the forward pass raises
    with pytest.raises(RuntimeError):
        filter_reconstruction(m, torch.rand(1, 1, 48, 48), "conv3", 0)
    for mod in m.modules():
        assert not mod._forward_hooks and not mod._backward_hooks
    assert m.training                                     # the train/eval mode is restored too


def test_bad_layer_and_filter_are_clear_errors():
    m = create_model("breuer2017", num_classes=3)
    with pytest.raises(ValueError, match="conv1, conv2, conv3"):
        filter_reconstruction(m, torch.rand(1, 1, 48, 48), "fc1", 0)
    with pytest.raises(ValueError, match="0..255"):
        filter_reconstruction(m, torch.rand(1, 1, 48, 48), "conv3", 256)
