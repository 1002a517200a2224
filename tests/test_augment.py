import pytest
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


def test_random_erasing_covers_the_stated_share_of_images_and_area():
    from facsnet.data.augment import erase_rectangles

    x = torch.full((4000, 1, 48, 48), -1.0)           # noise lies in [0, 1], so erased pixels are >= 0
    y = erase_rectangles(x, 0.3, torch.Generator().manual_seed(0))
    area = (y >= 0).flatten(1).float().mean(1)
    erased = area > 0
    assert abs(erased.float().mean().item() - 0.3) < 0.03
    assert area[erased].min() >= 0.015 and area[erased].max() <= 0.21   # 2-20% of the image, up to rounding
    for img in y[erased][:50, 0]:                      # one axis-aligned rectangle each
        rows, cols = (img >= 0).any(1).nonzero(), (img >= 0).any(0).nonzero()
        box = img[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert (box >= 0).all()


def test_erasing_off_leaves_the_augmentation_unchanged():
    x = torch.rand(8, 1, 48, 48)
    a = Augment()(x, torch.Generator().manual_seed(3))
    b = Augment(erase=0.0)(x, torch.Generator().manual_seed(3))
    c = Augment(erase=1.0)(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_field_degradations_repeat_for_a_seed_and_each_changes_the_image():
    from facsnet.data.augment import degrade

    x = torch.rand(16, 1, 48, 48)
    for kind in ("blur", "lowres", "jpeg", "gamma"):
        a = degrade(x, torch.Generator().manual_seed(3), **{kind: 1.0})
        b = degrade(x, torch.Generator().manual_seed(3), **{kind: 1.0})
        torch.testing.assert_close(a, b)
        assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
        assert ((a - x).abs().flatten(1).mean(1) > 1e-3).all(), kind     # every image touched at p = 1
        untouched = degrade(x, torch.Generator().manual_seed(3), **{kind: 0.0})
        assert untouched is x


def test_blur_and_lowres_remove_fine_detail_and_keep_the_mean():
    from facsnet.data.augment import random_blur, random_lowres

    checker = ((torch.arange(48).view(1, -1) + torch.arange(48).view(-1, 1)) % 2).float().expand(4, 1, 48, 48)
    for fn in (random_blur, random_lowres):
        out = fn(checker, 1.0, torch.Generator().manual_seed(0))
        assert out.std() < 0.5 * checker.std(), fn.__name__        # a 1-px checkerboard is mostly averaged away
        assert out.mean() == pytest.approx(checker.mean().item(), abs=0.02)


def test_degradation_probability_is_respected():
    from facsnet.data.augment import random_gamma

    x = torch.full((2000, 1, 4, 4), 0.5)
    out = random_gamma(x, 0.3, torch.Generator().manual_seed(0))
    changed = ((out - x).abs().flatten(1).amax(1) > 1e-6).float().mean().item()
    assert changed == pytest.approx(0.3, abs=0.04)
