"""Tests of the procedural objects-on-backgrounds data set (signseg.data.procedural)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from signseg import data
from signseg.data import procedural
from signseg.data.dataset import balanced_indices
from signseg.errors import InvalidInputError


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep any cache writes under tmp_path."""
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))


def batch(variant: str, n: int = 60, seed: int = 7, p_agree: float = 0.8, size: int = 32) -> procedural.ProceduralBatch:
    """A batch from a freshly seeded generator (same seed -> same scenes)."""
    return procedural.generate_batch(np.random.default_rng(seed), n, size=size, p_agree=p_agree, variant=variant)


def test_same_arguments_give_identical_bytes_and_splits_differ() -> None:
    first = data.load("procedural", "train", n=40, seed=3)
    second = data.load("procedural", "train", n=40, seed=3)
    other_seed = data.load("procedural", "train", n=40, seed=4)
    test = data.load("procedural", "test", n=40, seed=3)

    assert torch.equal(first.images, second.images)
    assert first.masks is not None and second.masks is not None and torch.equal(first.masks, second.masks)
    assert torch.equal(first.targets, second.targets)
    assert not torch.equal(first.images, other_seed.images)
    assert not torch.equal(first.images, test.images)


@pytest.mark.parametrize("variant", procedural.VARIANTS)
def test_every_variant_has_the_documented_shapes(variant: str) -> None:
    dataset = data.load("procedural", "test", n=50, size=24, variant=variant)

    assert dataset.name == "procedural" and dataset.split == "test"
    assert dataset.classes == list(procedural.CLASSES) and len(set(dataset.classes)) == 10
    assert dataset.images.dtype == torch.uint8 and dataset.images.shape == (50, 3, 24, 24)
    assert dataset.masks is not None and dataset.masks.dtype == torch.bool and dataset.masks.shape == (50, 24, 24)
    assert torch.bincount(dataset.targets, minlength=10).tolist() == [5] * 10
    assert set(dataset.meta) == {"texture", "background_source"}
    image, label = dataset[0]
    assert image.dtype == torch.float32 and 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert label == int(dataset.targets[0])


def test_default_sizes_per_split() -> None:
    assert procedural.DEFAULT_N == {"train": 5000, "test": 1000}
    assert len(data.load("procedural", "test", size=8)) == 1000


def test_original_object_pixels_have_one_colour_and_backgrounds_mid_tones() -> None:
    original = batch("original")

    for image, mask in zip(original.images, original.masks):
        assert mask.any() and not mask.all()
        inside = image[:, mask]
        assert (inside == inside[:, :1]).all()
        assert (np.minimum(inside[:, 0], 255 - inside[:, 0]) <= round(0.12 * 255)).all()  # dark or bright
        outside = image[:, ~mask]
        assert outside.min() >= round(0.14 * 255) and outside.max() <= round(0.86 * 255)


def test_only_fg_keeps_the_object_on_blank_grey() -> None:
    original, only_fg = batch("original"), batch("only_fg")

    assert np.array_equal(only_fg.masks, original.masks)
    outside = ~only_fg.masks[:, None].repeat(3, axis=1)
    assert (only_fg.images[outside] == procedural.BLANK).all()
    assert np.array_equal(only_fg.images[~outside], original.images[~outside])
    assert (only_fg.textures == -1).all() and (only_fg.background_source == -1).all()


def test_only_bg_removes_the_object_and_continues_the_texture() -> None:
    original, only_bg = batch("original"), batch("only_bg")

    assert not only_bg.masks.any()
    background = ~original.masks[:, None].repeat(3, axis=1)
    assert np.array_equal(only_bg.images[background], original.images[background])
    assert not np.array_equal(only_bg.images, original.images)
    assert np.array_equal(only_bg.labels, original.labels)
    assert np.array_equal(only_bg.textures, original.textures)


@pytest.mark.parametrize("variant", ["mixed_rand", "mixed_same"])
def test_mixed_variants_put_the_object_on_another_images_background(variant: str) -> None:
    original, only_bg, mixed = batch("original"), batch("only_bg"), batch(variant)
    source = mixed.background_source

    assert np.array_equal(mixed.masks, original.masks) and np.array_equal(mixed.labels, original.labels)
    assert (source != np.arange(60)).all()
    foreground = original.masks[:, None].repeat(3, axis=1)
    assert np.array_equal(mixed.images[foreground], original.images[foreground])
    assert np.array_equal(mixed.images[~foreground], only_bg.images[source][~foreground])
    assert np.array_equal(mixed.textures, original.textures[source])
    if variant == "mixed_same":
        assert np.array_equal(original.labels[source], original.labels)
    else:
        assert np.mean(original.labels[source] != original.labels) > 0.5


def test_mixed_rand_draws_background_classes_uniformly() -> None:
    mixed = batch("mixed_rand", n=2000, seed=1)
    counts = np.bincount(mixed.labels[mixed.background_source], minlength=10)
    assert np.abs(counts / 2000 - 0.1).max() < 0.025  # binomial sd 0.0067


def test_p_agree_sets_the_fraction_of_agreeing_backgrounds() -> None:
    always = data.load("procedural", "train", n=300, size=8, p_agree=1.0)
    never = data.load("procedural", "train", n=300, size=8, p_agree=0.0)
    half = batch("original", n=4000, size=8, p_agree=0.5)

    assert torch.equal(always.meta["texture"], always.targets)
    assert bool((never.meta["texture"] != never.targets).all())
    assert set(never.meta["texture"].tolist()) == set(range(10))
    assert abs(float(np.mean(half.textures == half.labels)) - 0.5) < 0.03  # binomial sd 0.008


def test_texture_families_look_as_named() -> None:
    params = procedural._texture_params(np.random.default_rng(0), 64, 32)
    patterns = {name: fn(params) for name, fn in zip(procedural.TEXTURES, procedural._TEXTURE_FNS)}

    def mean_abs_step(pattern: np.ndarray, axis: int) -> float:
        return float(np.abs(np.diff(pattern, axis=axis)).mean())

    # horizontal stripes change down the rows, vertical ones across the columns
    assert mean_abs_step(patterns["horizontal-stripes"], 1) > 4 * mean_abs_step(patterns["horizontal-stripes"], 2)
    assert mean_abs_step(patterns["vertical-stripes"], 2) > 4 * mean_abs_step(patterns["vertical-stripes"], 1)
    # blobs and the gradient are smooth, noise is not
    assert mean_abs_step(patterns["noise"], 2) > 0.3
    assert mean_abs_step(patterns["blobs"], 2) < 0.1 and mean_abs_step(patterns["gradient"], 2) < 0.05
    for name in ("checkerboard", "dots", "grid"):
        assert set(np.unique(patterns[name])) == {0.0, 1.0}
    for pattern in patterns.values():
        assert pattern.shape == (64, 32, 32) and pattern.min() >= 0.0 and pattern.max() <= 1.0


def test_shape_indicators_match_their_geometry() -> None:
    axis = np.linspace(-1.2, 1.2, 241)
    v, u = np.meshgrid(axis, axis, indexing="ij")
    cell = (axis[1] - axis[0]) ** 2
    shapes = dict(zip(procedural.CLASSES, procedural._SHAPES))

    assert shapes["disk"](u, v).sum() * cell == pytest.approx(np.pi * 0.9**2, rel=0.01)
    assert shapes["square"](u, v).sum() * cell == pytest.approx(1.56**2, rel=0.02)
    assert shapes["diamond"](u, v).sum() * cell == pytest.approx(2 * 1.05**2, rel=0.02)
    assert shapes["ring"](u, v).sum() * cell == pytest.approx(np.pi * (1 - 0.52**2), rel=0.02)
    centre = (np.array([0.0]), np.array([0.0]))
    assert not shapes["ring"](*centre)[0] and shapes["disk"](*centre)[0] and shapes["star"](*centre)[0]
    assert shapes["star"](np.array([0.0]), np.array([-0.95]))[0]  # the top point
    assert not shapes["star"](np.array([0.0]), np.array([0.6]))[0]  # between the two bottom points
    assert shapes["triangle"](np.array([0.0]), np.array([-0.8]))[0]  # apex up (rows grow downwards)
    assert not shapes["triangle"](np.array([0.0]), np.array([0.9]))[0]


def test_bars_keep_their_orientation_in_rendered_masks() -> None:
    scenes = batch("original", n=200, seed=2)
    rows = scenes.masks.any(axis=2).sum(axis=1)  # height of each object's bounding box
    cols = scenes.masks.any(axis=1).sum(axis=1)  # width
    horizontal = scenes.labels == procedural.CLASSES.index("horizontal-bar")
    vertical = scenes.labels == procedural.CLASSES.index("vertical-bar")
    assert horizontal.any() and vertical.any()
    assert (cols[horizontal] > 1.3 * rows[horizontal]).all()
    assert (rows[vertical] > 1.3 * cols[vertical]).all()


def test_limit_and_larger_sizes_keep_masks_aligned() -> None:
    full = data.load("procedural", "train", n=100, size=64, seed=5)
    part = data.load("procedural", "train", n=100, size=64, seed=5, limit=20)

    assert full.images.shape == (100, 3, 64, 64)
    assert torch.bincount(part.targets).tolist() == [2] * 10
    index = balanced_indices(full.targets, 20, seed=5)
    assert part.masks is not None and full.masks is not None
    assert torch.equal(part.images, full.images[index]) and torch.equal(part.masks, full.masks[index])
    assert torch.equal(part.meta["texture"], full.meta["texture"][index])


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="variant must be one of"):
        data.load("procedural", variant="only_background")
    with pytest.raises(InvalidInputError, match="p_agree"):
        data.load("procedural", p_agree=1.5)
    with pytest.raises(InvalidInputError, match="n must be a positive integer"):
        data.load("procedural", n=0)
    with pytest.raises(InvalidInputError, match="at least 8 pixels"):
        data.load("procedural", size=4)
    with pytest.raises(InvalidInputError, match="does not take the option"):
        data.load("procedural", colour="red")
