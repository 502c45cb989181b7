"""Hybrid cue-conflict images: the frequency split and the patch scrambling checked exactly
on tiny arrays, and the controls' relation to the hybrids."""

import math

import numpy as np
import pytest
import torch

from signseg.data import hybrid_cues as hc
from signseg.data.dataset import ImageDataset
from signseg.errors import InvalidInputError

WEIGHTS = np.array([0.299, 0.587, 0.114])


def _luminance(images: np.ndarray) -> np.ndarray:
    return np.einsum("nchw,c->nhw", images, WEIGHTS)


def _radius(size: int) -> np.ndarray:
    f = np.fft.fftfreq(size) * size
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


def test_low_pass_weights_by_hand():
    g = hc.low_pass_weights(8, 8, low=1.0, high=3.0).numpy()
    assert g[0, 0] == 1.0 and g[0, 1] == 1.0 and g[1, 0] == 1.0
    assert g[0, 2] == pytest.approx(0.5)  # radius 2: halfway down the raised cosine
    assert g[0, 3] == 0.0 and g[3, 3] == 0.0
    assert g[1, 1] == pytest.approx(0.5 * (1 + math.cos(math.pi * (math.sqrt(2) - 1) / 2)))
    assert np.array_equal(g, np.roll(g[::-1, ::-1], 1, axis=(0, 1)))  # g(f) == g(-f)
    sharp = hc.low_pass_weights(8, 8, low=2.0, high=2.0).numpy()
    assert np.array_equal(sharp, (_radius(8) <= 2.0).astype(float))
    with pytest.raises(InvalidInputError, match="low and high"):
        hc.low_pass_weights(8, 8, low=3.0, high=2.0)


def test_hybrid_keeps_shape_low_frequencies_and_texture_rest_exactly():
    rng = np.random.default_rng(0)
    shape, texture = rng.random((2, 2, 3, 8, 8))
    x = hc.hybrid(torch.from_numpy(shape), torch.from_numpy(texture), low=1.0, high=3.0).numpy()
    g = hc.low_pass_weights(8, 8, 1.0, 3.0).numpy()
    fx, fs, ft = (np.fft.fft2(_luminance(a)) for a in (x, shape, texture))
    np.testing.assert_allclose(fx, g * fs + (1 - g) * ft, atol=1e-10)
    np.testing.assert_allclose(fx[:, g == 1], fs[:, g == 1], atol=1e-10)  # shape's low band
    np.testing.assert_allclose(fx[:, g == 0], ft[:, g == 0], atol=1e-10)  # texture's high band
    chroma = x - _luminance(x)[:, None]
    np.testing.assert_allclose(chroma, texture - _luminance(texture)[:, None], atol=1e-12)


def test_scrambled_patches_are_a_permutation_of_the_box_patches():
    image = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    out = hc.scramble_patches(image, torch.tensor([[0, 0, 3, 3]]), patch=2,
                              rng=np.random.default_rng(5))[0, 0].numpy()
    patches = {tuple(image[0, 0, r:r + 2, c:c + 2].flatten().tolist()) for r in (0, 2) for c in (0, 2)}
    tiles = [tuple(out[r:r + 2, c:c + 2].flatten().tolist()) for r in (0, 2) for c in (0, 2)]
    assert sorted(tiles) == sorted(patches)  # each patch exactly once
    assert sorted(out.flatten().tolist()) == list(range(16))  # the box's histogram, exactly


def test_more_cells_than_patches_use_every_patch_equally_often_and_nothing_outside_the_box():
    image = torch.full((1, 3, 8, 8), 255, dtype=torch.uint8)
    image[0, :, 2:6, 2:6] = torch.arange(48, dtype=torch.uint8).view(3, 4, 4)
    out = hc.scramble_patches(image, torch.tensor([[2, 2, 5, 5]]), patch=2)[0]
    assert int(out.max()) < 255  # only box pixels
    tiles = [tuple(out[:, r:r + 2, c:c + 2].flatten().tolist()) for r in range(0, 8, 2)
             for c in range(0, 8, 2)]
    counts = {tile: tiles.count(tile) for tile in set(tiles)}
    assert len(counts) == 4 and set(counts.values()) == {4}  # 16 cells, 4 patches, 4 times each


def test_a_box_smaller_than_a_patch_is_widened_inside_the_image():
    image = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    out = hc.scramble_patches(image, torch.tensor([[3, 3, 3, 3]]), patch=2)[0, 0]
    assert torch.equal(out, image[0, 0, 2:4, 2:4].repeat(2, 2))  # one patch: the corner
    with pytest.raises(InvalidInputError, match="patch"):
        hc.scramble_patches(image, torch.tensor([[0, 0, 3, 3]]), patch=0)


def _mid_grey_set(n=6, size=16, classes=3, seed=0) -> ImageDataset:
    """Images in 0.4-0.6 (nothing clips in the hybrids), boxes of 8 x 8 pixels."""
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.integers(102, 154, (n, 3, size, size), dtype=np.uint8))
    corner = rng.integers(0, size - 8, (n, 2))
    boxes = torch.from_numpy(np.concatenate([corner, corner + 7], 1))
    return ImageDataset("tiny", "val", images, torch.arange(n) % classes,
                        [f"c{i}" for i in range(classes)], meta={"boxes": boxes})


def test_cue_conflict_set_and_its_controls():
    dataset = _mid_grey_set()
    cues = hc.cue_conflict(dataset, seed=0, patch=4, low=2.0, high=4.0)
    assert len(cues) == len(dataset)
    assert torch.equal(cues.shape_targets, dataset.targets)
    partner = cues.conflict.meta["texture_source"]
    assert torch.equal(cues.texture_targets, dataset.targets[partner])
    assert (cues.texture_targets != cues.shape_targets).all()
    assert torch.equal(cues.texture_only.targets, cues.texture_targets)
    assert float(cues.conflict.meta["clipped"].max()) == 0.0
    # shape only: A's low-passed luminance, grey (computed here with numpy's FFT)
    g = hc.low_pass_weights(16, 16, 2.0, 4.0).numpy()
    a = dataset.images.numpy() / 255.0
    low = np.fft.ifft2(g * np.fft.fft2(_luminance(a))).real
    shape_only = cues.shape_only.images.numpy() / 255.0
    assert np.abs(shape_only - low[:, None]).max() <= 0.5 / 255 + 1e-9
    # hybrid = texture_only + shape_only - grey, exactly before rounding
    conflict = cues.conflict.images.double() / 255
    texture_only = cues.texture_only.images.double() / 255
    assert (conflict - (texture_only + torch.from_numpy(shape_only) - 0.5)).abs().max() <= 1.5 / 255 + 1e-9
    # texture only keeps the chroma of B's box patches, cell by cell
    b = dataset.images[partner].double().numpy() / 255.0
    chroma_t = texture_only.numpy() - _luminance(texture_only.numpy())[:, None]
    chroma_b = b - _luminance(b)[:, None]
    for i, (x0, y0, _, _) in enumerate(dataset.meta["boxes"][partner].tolist()):
        patches = [chroma_b[i, :, y0 + r:y0 + r + 4, x0 + c:x0 + c + 4] for r in (0, 4) for c in (0, 4)]
        for r in range(0, 16, 4):
            for c in range(0, 16, 4):
                cell = chroma_t[i, :, r:r + 4, c:c + 4]
                assert min(np.abs(cell - p).max() for p in patches) <= 1.5 / 255 + 1e-9
    again = hc.cue_conflict(dataset, seed=0, patch=4, low=2.0, high=4.0)
    assert torch.equal(again.conflict.images, cues.conflict.images)
    assert set(cues.controls()) == {"shape_only", "texture_only"}


def test_chunks_do_not_change_the_set(monkeypatch):
    dataset = _mid_grey_set(n=10, classes=4)
    whole = hc.cue_conflict(dataset, seed=3, patch=4)
    monkeypatch.setattr(hc, "_CHUNK", 3)
    chunked = hc.cue_conflict(dataset, seed=3, patch=4)
    for name in ("conflict", "shape_only", "texture_only"):
        assert torch.equal(getattr(whole, name).images, getattr(chunked, name).images)


def test_cue_conflict_errors():
    dataset = _mid_grey_set()
    grey = ImageDataset("g", "val", dataset.images[:, :1], dataset.targets, dataset.classes)
    with pytest.raises(InvalidInputError, match="RGB"):
        hc.cue_conflict(grey)
    with pytest.raises(InvalidInputError, match="neutral"):
        hc.cue_conflict(dataset, neutral=2.0)
    one_class = ImageDataset("o", "val", dataset.images, torch.zeros(6, dtype=torch.int64), ["a"])
    with pytest.raises(InvalidInputError, match="at least two classes"):
        hc.cue_conflict(one_class)
