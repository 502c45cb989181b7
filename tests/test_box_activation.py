"""Activation maps on natural images: box share, top-activating images, patches
(signseg.metrics.box_activation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signseg.errors import InvalidInputError
from signseg.metrics.box_activation import (
    box_share,
    box_share_table,
    crop_patches,
    resize_maps,
    top_activating,
)
from signseg.metrics.segregation import chance_share


def box(size: int, top: int, left: int, bottom: int, right: int) -> torch.Tensor:
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[top:bottom, left:right] = True
    return mask


def test_bilinear_upsampling_of_one_active_cell_by_hand() -> None:
    # align_corners=False, 2 -> 4: output pixel i samples (i + 0.5) / 2 - 0.5 =
    # -0.25, 0.25, 0.75, 1.25 (clamped to the border), so cell 0 weighs 1, .75, .25, 0
    maps = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    profile = torch.tensor([1.0, 0.75, 0.25, 0.0], dtype=torch.float64)
    assert torch.allclose(resize_maps(maps, (4, 4))[0], torch.outer(profile, profile))
    # inside the top-left 2 x 2 box: 1.75^2 of the total 2^2
    masks = box(4, 0, 0, 2, 2)[None]
    assert box_share(maps, masks)[0] == pytest.approx(1.75**2 / 4)


def test_maps_at_mask_resolution_give_the_exact_mass_fraction() -> None:
    maps = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 3.0, 4.0], [0.0, 0.0, 0.0]]])
    masks = box(3, 0, 1, 2, 3)[None]  # holds 2, 0, 3, 4 of the total 10
    assert box_share(maps, masks)[0] == pytest.approx(9 / 10)
    assert box_share(maps.numpy(), masks.numpy())[0] == pytest.approx(9 / 10)


def test_a_uniform_channel_scores_the_chance_level() -> None:
    masks = torch.stack([box(16, 2, 3, 10, 9), box(16, 0, 0, 16, 4)])
    table = box_share_table(torch.full((2, 4, 4), 0.7), masks)
    assert list(table.columns) == ["image", "share", "chance", "excess"]
    assert table["chance"].to_numpy() == pytest.approx([48 / 256, 64 / 256])
    assert table["share"].to_numpy() == pytest.approx(chance_share(masks))
    assert table["excess"].to_numpy() == pytest.approx([0.0, 0.0], abs=1e-12)


def test_silent_channel_is_nan_and_bad_maps_are_rejected() -> None:
    maps = torch.zeros(2, 4, 4)
    maps[1, 0, 0] = 1.0
    masks = torch.stack([box(8, 0, 0, 4, 4)] * 2)
    shares = box_share(maps, masks)
    assert np.isnan(shares[0]) and shares[1] == pytest.approx(1.0)
    assert np.isnan(box_share_table(maps, masks)["excess"][0])
    with pytest.raises(InvalidInputError, match="non-negative"):
        box_share(-torch.ones(1, 4, 4), masks[:1])
    with pytest.raises(InvalidInputError, match="masks"):
        box_share(torch.ones(3, 4, 4), masks)
    with pytest.raises(InvalidInputError, match="one mask per map"):
        box_share_table(torch.ones(2, 4, 4), box(8, 0, 0, 4, 4))


def test_top_activating_by_hand_with_ties() -> None:
    maps = torch.zeros(5, 3, 4)
    maps[0, 2, 1] = 1.0
    maps[1, 0, 3] = 5.0
    maps[2, 1, 2] = 3.0
    maps[3, 1, 0] = 5.0   # ties image 1: the lower index comes first
    maps[4] = -1.0
    maps[4, 2, 3] = 2.0
    maps[4, 0, 1] = 2.0   # tied maximum inside one map: the first in row-major order
    index, y, x, value = top_activating(maps, 4)
    assert index.tolist() == [1, 3, 2, 4]
    assert y.tolist() == [0, 1, 1, 0]
    assert x.tolist() == [3, 0, 2, 1]
    assert value.tolist() == [5.0, 5.0, 3.0, 2.0]
    with pytest.raises(InvalidInputError, match="k"):
        top_activating(maps, 6)


def test_crop_patches_centres_on_the_cell_and_clamps_at_borders() -> None:
    # pixel value encodes (image, row, column) so the cut can be read back
    n, size = 2, 8
    rows = torch.arange(size).view(size, 1).float()
    cols = torch.arange(size).view(1, size).float()
    images = torch.stack([(100 * i + 10 * rows + cols).expand(3, size, size) / 1000
                          for i in range(n)])
    # 4 x 4 map on 8 x 8 images: cell (1, 2) is centred on pixel (3, 5); patch 3 -> rows 2..4
    patches = crop_patches(images, [1, 0, 0], [1, 0, 3], [2, 0, 3], map_size=(4, 4), patch=3)
    assert patches.shape == (3, 3, 3, 3)
    assert torch.equal(patches[0], images[1, :, 2:5, 4:7])
    assert torch.equal(patches[1], images[0, :, 0:3, 0:3])   # centre (1, 1): clamped at 0
    assert torch.equal(patches[2], images[0, :, 5:8, 5:8])   # centre (7, 7): clamped at 5
    # even patch: the centre pixel sits at patch // 2
    even = crop_patches(images, [0], [1], [1], map_size=(4, 4), patch=4)
    assert torch.equal(even[0], images[0, :, 1:5, 1:5])
    with pytest.raises(InvalidInputError, match="patch"):
        crop_patches(images, [0], [0], [0], map_size=(4, 4), patch=9)
    with pytest.raises(InvalidInputError, match="map_size"):
        crop_patches(images, [0], [4], [0], map_size=(4, 4), patch=2)
    with pytest.raises(InvalidInputError, match="index"):
        crop_patches(images, [2], [0], [0], map_size=(4, 4), patch=2)


def test_top_activating_patches_contain_the_strongest_stimulus() -> None:
    # a "channel" that responds to bright pixels: its top image's patch holds the brightest spot
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(6, 3, 16, 16, generator=generator) * 0.5
    images[4, :, 13, 2] = 1.0
    maps = torch.nn.functional.avg_pool2d(images.mean(dim=1, keepdim=True), 2)[:, 0]
    index, y, x, _ = top_activating(maps, 1)
    assert (index[0], y[0], x[0]) == (4, 6, 1)
    patch = crop_patches(images, index, y, x, map_size=maps.shape[-2:], patch=5)
    assert patch.shape == (1, 3, 5, 5) and float(patch.max()) == 1.0
