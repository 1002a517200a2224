import torch

from facsnet.data import Augment


def test_zero_ranges_are_the_identity():
    x = torch.rand(4, 1, 48, 48)
    y = Augment(flip=0, rotate=0, translate=0, scale=0, shear=0)(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_flip_always_mirrors():
    x = torch.rand(4, 1, 48, 48)
    y = Augment(flip=1.0, rotate=0, translate=0, scale=0, shear=0)(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, x.flip(-1), atol=1e-5, rtol=0)


def test_flip_probability_is_respected():
    theta = Augment(flip=0.5).matrices(4000, torch.Generator().manual_seed(1), "cpu")
    frac = (theta[:, 0, 0] < 0).float().mean().item()   # a flip makes the x-x term negative
    assert 0.46 < frac < 0.54


def test_augmentation_repeats_for_a_seed_and_changes_pixels():
    x = torch.rand(8, 1, 48, 48)
    a = Augment()(x, torch.Generator().manual_seed(3))
    b = Augment()(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert (a - x).abs().mean() > 0.01


def test_translation_moves_content_by_the_stated_fraction():
    x = torch.zeros(1, 1, 48, 48)
    x[..., 20:28, 20:28] = 1.0
    aug = Augment(flip=0, rotate=0, translate=0.1, scale=0, shear=0)
    g = torch.Generator().manual_seed(0)
    theta = aug.matrices(1, g, "cpu")
    y = torch.nn.functional.grid_sample(
        x, torch.nn.functional.affine_grid(theta, [1, 1, 48, 48], align_corners=False),
        align_corners=False, padding_mode="border")
    cols = (y[0, 0].sum(0) > 0.5).nonzero().flatten().float().mean().item()
    expected = 23.5 - theta[0, 0, 2].item() * 24        # output = input - t (in pixels: t * W/2)
    assert abs(cols - expected) < 0.6
