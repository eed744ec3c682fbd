"""The sliced Wasserstein distance on known inputs: zero for a set against itself, growing
with a known shift, and small between two halves of one distribution."""

from __future__ import annotations

import pytest
import torch

from sugarglass.garden.swd import laplacian_pyramid, swd


def images(seed: int, n: int = 24, side: int = 32) -> torch.Tensor:
    """Smooth random pictures: a low-resolution noise field enlarged, as uint8."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, side // 4, side // 4, generator=g)
    return (torch.nn.functional.interpolate(coarse, size=side, mode="bilinear") * 200 + 20).round().to(torch.uint8)


def test_a_set_against_itself_is_exactly_zero():
    x = images(1)
    assert swd(x, x).levels == (0.0, 0.0)


def test_it_grows_with_a_known_colour_shift():
    x = images(1)
    scores = [swd(x, (x.int() + shift).clamp(0, 255).to(torch.uint8)).mean for shift in (0, 5, 15, 35)]
    assert scores[0] == 0.0
    assert scores == sorted(scores) and scores[3] > 3 * scores[1]


def test_it_grows_with_added_noise_and_two_halves_of_one_distribution_lie_below_a_different_one():
    x, y = images(1), images(2)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    noisy = [(x.float() + s * noise).clamp(0, 255).round().to(torch.uint8) for s in (4, 16, 48)]
    scores = [swd(x, n).mean for n in noisy]
    assert scores == sorted(scores)
    stripes = x.clone()
    stripes[:, :, ::2] = 0
    assert swd(x, y).mean < swd(x, stripes).mean


def test_the_pyramid_runs_from_full_size_down_to_16_px():
    x = torch.rand(2, 3, 64, 64)
    levels = laplacian_pyramid(x)
    assert [level.shape[-1] for level in levels] == [64, 32, 16]
    assert torch.allclose(levels[-1].mean(), x.mean(), atol=0.02)  # the low-pass keeps the mean colour


def test_sets_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="same shape"):
        swd(images(1, n=4), images(1, n=5))
    with pytest.raises(ValueError, match="at least 16 px"):
        swd(images(1, side=8), images(1, side=8))
