"""Object vs background measures and the activation summary (signseg.metrics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from signseg.errors import InvalidInputError
from signseg.metrics.activation import activation_summary
from signseg.metrics.segregation import (
    attribution_map,
    background_challenge_accuracy,
    background_gap,
    canonical_mask,
    chance_share,
    contrast_energy,
    object_share,
)

T_975_DF1 = 12.706204736174694


def square_mask(size: int, start: int, stop: int) -> torch.Tensor:
    mask = torch.zeros(size, size)
    mask[start:stop, start:stop] = 1.0
    return mask


def pattern_in_square(size: int = 16, start: int = 4, stop: int = 12) -> torch.Tensor:
    """Grey background 0.5 with random texture only in rows/cols [start, stop)."""
    image = torch.full((1, 3, size, size), 0.5)
    generator = torch.Generator().manual_seed(0)
    texture = torch.rand(1, 3, stop - start, stop - start, generator=generator)
    image[..., start:stop, start:stop] = texture
    return image


def test_contrast_entirely_inside_the_mask_has_share_one() -> None:
    image = pattern_in_square()
    # central differences reach one pixel beyond the texture: the mask covers [3, 13)
    assert object_share(image, square_mask(16, 3, 13)) == pytest.approx([1.0], abs=1e-12)
    assert object_share(image, 1 - square_mask(16, 3, 13)) == pytest.approx([0.0], abs=1e-12)
    # the texture's own square misses its outer edge: share below 1
    assert object_share(image, square_mask(16, 4, 12))[0] < 1.0


def test_deviation_energy_of_a_balanced_checkerboard() -> None:
    rows, cols = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    board = (0.5 + 0.2 * (2 * ((rows + cols) % 2) - 1)).float()
    image = torch.full((1, 3, 16, 16), 0.5)
    image[..., 4:12, 4:12] = board[4:12, 4:12]  # image mean stays 0.5
    mask = square_mask(16, 4, 12)
    assert object_share(image, mask, energy="deviation") == pytest.approx([1.0], abs=1e-12)
    # a full-image checkerboard spreads the energy evenly: share = area fraction (chance)
    full = board.expand(1, 3, 16, 16)
    share = object_share(full, mask, energy="deviation")
    assert share == pytest.approx(chance_share(mask), abs=1e-12)
    assert chance_share(mask) == pytest.approx([0.25])
    assert torch.allclose(contrast_energy(full, "deviation"), torch.full((1, 16, 16), 3 * 0.04,
                                                                         dtype=torch.float64))


def test_constant_image_share_is_nan_and_masks_per_image_are_used() -> None:
    images = torch.cat([torch.full((1, 3, 16, 16), 0.2), pattern_in_square()])
    masks = torch.stack([square_mask(16, 0, 16), square_mask(16, 3, 13)])[:, None]
    share = object_share(images, masks)
    assert math.isnan(share[0]) and share[1] == pytest.approx(1.0)


def test_canonical_mask_is_the_class_average_and_resizes() -> None:
    left = torch.zeros(4, 4)
    left[:, :2] = 1
    top = torch.zeros(4, 4)
    top[:2, :] = 1
    mean = canonical_mask(torch.stack([left, top]))
    assert torch.equal(mean, torch.tensor([[1, 1, .5, .5], [1, 1, .5, .5], [.5, .5, 0, 0],
                                           [.5, .5, 0, 0]], dtype=torch.float64))
    big = canonical_mask(torch.stack([left, top]), size=8)
    assert big.shape == (8, 8)
    assert big[0, 0] == pytest.approx(1.0) and big[7, 7] == pytest.approx(0.0)
    # soft masks weight the energy: uniform energy scores the mean mask value
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    board = (0.5 + 0.2 * (2 * ((rows + cols) % 2) - 1)).float().expand(1, 3, 4, 4)
    assert object_share(board, mean, energy="deviation") == pytest.approx([0.5])


def _linear_model(weights: torch.Tensor):  # noqa: ANN202 - returns a model function
    return lambda images: images.flatten(1) @ weights.T


def test_attribution_of_a_linear_model_weighted_only_inside_the_mask() -> None:
    size = 8
    mask = square_mask(size, 2, 6)
    generator = torch.Generator().manual_seed(0)
    inside = torch.randn(3, size, size, generator=generator) * mask
    outside = torch.randn(3, size, size, generator=generator) * (1 - mask)
    weights = torch.stack([outside.flatten(), inside.flatten()])  # unit 0: context, unit 1: object
    images = torch.rand(4, 3, size, size, generator=generator)
    model_fn = _linear_model(weights)
    assert object_share(images, mask, method="attribution", model_fn=model_fn, targets=1) == \
        pytest.approx(np.ones(4), abs=1e-12)
    assert object_share(images, mask, method="attribution", model_fn=model_fn, targets=0) == \
        pytest.approx(np.zeros(4), abs=1e-12)
    # per-image targets
    shares = object_share(images, mask, method="attribution", model_fn=model_fn,
                          targets=[1, 0, 1, 0])
    assert shares == pytest.approx([1, 0, 1, 0], abs=1e-12)


def test_attribution_map_is_input_times_gradient() -> None:
    weights = torch.randn(2, 3 * 4 * 4, generator=torch.Generator().manual_seed(1))
    images = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    attribution = attribution_map(_linear_model(weights), images, targets=1, baseline=0.5)
    expected = ((images - 0.5) * weights[1].view(1, 3, 4, 4)).abs().sum(dim=1)
    assert torch.allclose(attribution, expected.double(), atol=1e-6)
    # uniform weights and a uniform image: attribution uniform, share = area fraction
    flat = _linear_model(torch.ones(1, 3 * 4 * 4))
    mask = square_mask(4, 0, 2)
    assert object_share(torch.full((1, 3, 4, 4), 0.8), mask, method="attribution", model_fn=flat,
                        targets=0) == pytest.approx(chance_share(mask))


def test_object_share_argument_errors() -> None:
    image = pattern_in_square()
    with pytest.raises(InvalidInputError, match="model_fn"):
        object_share(image, square_mask(16, 3, 13), method="attribution")
    with pytest.raises(InvalidInputError, match="masks must be"):
        object_share(image, square_mask(8, 3, 6))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        object_share(image, 2 * square_mask(16, 3, 13))
    with pytest.raises(InvalidInputError, match="method"):
        object_share(image, square_mask(16, 3, 13), method="saliency")


def _colour_classifier(images: torch.Tensor) -> torch.Tensor:
    """Toy classifier: the class is the brightest channel."""
    return images.mean(dim=(2, 3))


def _solid(*channels: int) -> torch.Tensor:
    images = torch.zeros(len(channels), 3, 4, 4)
    for i, channel in enumerate(channels):
        images[i, channel] = 1.0
    return images


def wilson(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval written out by hand."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_background_challenge_accuracy_on_a_toy_classifier() -> None:
    datasets = {
        "original": (_solid(0, 1, 2, 0), torch.tensor([0, 1, 2, 1])),  # 3 of 4 correct
        "only_bg": (_solid(0, 0), [1, 2]),  # none correct
        "mixed_same": (_solid(2, 1), [2, 1]),
        "mixed_rand": (_solid(2, 1), [2, 0]),
    }
    table = background_challenge_accuracy(_colour_classifier, datasets, batch_size=3,
                                          progress=False)
    table = table.set_index("variant")
    assert table.loc["original", "accuracy"] == 0.75 and table.loc["original", "correct"] == 3
    assert table.loc["only_bg", "accuracy"] == 0.0 and table.loc["only_bg", "n"] == 2
    low, high = wilson(3, 4)
    assert table.loc["original", "ci_low"] == pytest.approx(low, abs=1e-9)
    assert table.loc["original", "ci_high"] == pytest.approx(high, abs=1e-9)
    assert background_gap(table.reset_index()) == pytest.approx(0.5)


def test_background_challenge_label_map_and_errors() -> None:
    images = _solid(0, 1, 2)
    # model class 2 has no dataset label: always wrong; classes 0/1 map to labels 1/0
    table = background_challenge_accuracy(_colour_classifier, {"original": (images, [1, 0, 2])},
                                          label_map=[1, 0, -1], progress=False)
    assert table.loc[0, "correct"] == 2
    with pytest.raises(InvalidInputError, match="label_map"):
        background_challenge_accuracy(_colour_classifier, {"original": (images, [0, 1, 2])},
                                      label_map=[0, 1], progress=False)
    with pytest.raises(InvalidInputError, match="mixed_rand"):
        background_gap(table)


def test_activation_summary_takes_run_maxima_then_unit_means() -> None:
    rows = []
    for unit, runs in {"a": [[1.0, 3.0], [2.0, 5.0]], "b": [[4.0, 6.0]]}.items():
        for run, trace in enumerate(runs):
            for step, value in enumerate(trace):
                rows.append({"sign": "positive", "alpha": 0.5, "unit": unit, "run": run,
                             "step": step, "activation": value})
    table = activation_summary(pd.DataFrame(rows), run="run")
    row = table.iloc[0]
    # unit a: best of runs 3 and 5 -> 4; unit b: 6; over units mean 5, sd sqrt2, sem 1
    assert (row["sign"], row["alpha"], row["n"]) == ("positive", 0.5, 2)
    assert row["mean"] == 5.0
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((5 - T_975_DF1, 5 + T_975_DF1))
    with pytest.raises(InvalidInputError, match="run column"):
        activation_summary(pd.DataFrame(rows), run="trial")
