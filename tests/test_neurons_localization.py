"""Localization by pixel shuffling in circles, background clearing, and the Dale-like test."""

import numpy as np
import pytest
import torch
from scipy import stats

from signseg.errors import InvalidInputError
from signseg.neurons import analysis, localization


def test_disk_by_hand():
    mask = localization.disk(5, 5, (2, 2), 1)
    expected = np.zeros((5, 5), bool)
    expected[2, 1:4] = expected[1:4, 2] = True  # a plus: centre and its 4 neighbours
    assert np.array_equal(mask.numpy(), expected)
    assert localization.disk(5, 5, (2, 2), 1.5).sum() == 9  # the 3 x 3 square (corners at sqrt 2)


def test_circle_masks_lie_inside_and_scale_with_the_image():
    masks = localization.circle_masks(256, 256, 30, seed=0)
    assert masks.shape == (30, 256, 256)
    area = masks.flatten(1).sum(1).double()
    assert ((area - np.pi * 25**2).abs() < 2 * np.pi * 25).all()  # 50 px diameter
    ys, xs = np.nonzero(masks.any(0).numpy())
    assert ys.min() >= 0 and ys.max() <= 255 and xs.min() >= 0 and xs.max() <= 255
    small = localization.circle_masks(32, 32, 30, seed=0)  # 50/256 of 32 px: 6.25 px diameter
    assert small.flatten(1).sum(1).double().mean() == pytest.approx(np.pi * 3.125**2, rel=0.3)
    assert torch.equal(localization.circle_masks(32, 32, 5, seed=1), localization.circle_masks(32, 32, 5, seed=1))


def test_shuffle_keeps_the_pixels_inside_and_everything_outside():
    image = torch.rand(3, 16, 16)
    masks = localization.circle_masks(16, 16, 3, diameter=6, seed=2)
    shuffled = localization.shuffle_circles(image, masks, seed=0)
    for mask, copy in zip(masks, shuffled):
        assert torch.equal(copy[:, ~mask], image[:, ~mask])
        inside, original = copy[:, mask], image[:, mask]
        assert not torch.equal(inside, original)
        # the same pixels (RGB triples), in another order
        assert sorted(map(tuple, inside.T.tolist())) == sorted(map(tuple, original.T.tolist()))


def test_localization_map_and_region_by_hand():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :, :2] = True  # left half
    masks[1, :2, :] = True  # top half
    change = localization.response_change(10.0, np.array([2.0, 6.0]))
    np.testing.assert_allclose(change, [0.8, 0.4])
    average = localization.localization_map(masks, change, sigma=0)
    expected = torch.tensor([[0.6, 0.6, 0.4, 0.4], [0.6, 0.6, 0.4, 0.4],
                             [0.8, 0.8, 0.0, 0.0], [0.8, 0.8, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(average, expected)
    region = localization.relevant_region(average, 0.5)
    assert region.sum() == 8 and region[:, :2].all()
    assert localization.relevant_region(average, 0.9, relative=True).sum() == 4  # >= 0.72: bottom left
    assert not localization.relevant_region(-average, 0.5, relative=True).any()
    assert np.isnan(localization.response_change(0.0, np.array([1.0]))).all()


def test_localize_finds_a_neuron_driven_by_one_quadrant():
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    image = (0.5 + 0.4 * torch.sin(xx / 2.0) * torch.cos(yy / 3.0)).expand(3, 32, 32)[None]
    template = image[0, :, :16, :16] - 0.5

    def respond(images):  # neuron 1 matches the top-left quadrant's pattern (a template)
        match = ((images[:, :, :16, :16] - 0.5) * template).sum((1, 2, 3))
        return torch.stack([torch.ones(len(images)), match], 1).numpy()

    result = localization.localize(respond, image, [1], circles=30, relative=True, seed=0)
    region = result.regions[0]
    assert region[:16, :16].double().mean() > 0.5 and region[16:, 16:].sum() == 0
    assert result.table.loc[0, "intact"] == pytest.approx(respond(image)[0, 1])
    # circles outside the quadrant change nothing; those inside lower the match
    outside = ~result.masks[0][:, :16, :16].flatten(1).any(1)
    assert np.allclose(result.changes[0][outside.numpy()], 0) and (result.changes[0][~outside.numpy()] > 0).all()
    cleared = localization.clear_background(image, region[None])
    assert torch.equal(cleared[0][:, region], image[0][:, region]) and (cleared[0][:, ~region] == 0.5).all()


def test_background_clearing_table_and_test():
    def respond(images):  # rises when the right half is grey (the "surround" inhibits)
        surround = (images[:, :, :, 4:] - 0.5).abs().mean((1, 2, 3))
        return (10 - 5 * surround)[:, None].numpy()

    images = torch.rand(4, 3, 8, 8)
    regions = torch.zeros(4, 8, 8, dtype=torch.bool)
    regions[:, :, :4] = True
    table = localization.background_clearing(respond, images, regions, [0, 0, 0, 0])
    assert (table["cleared"] == 10).all() and (table["change"] > 0).all()
    np.testing.assert_allclose(table["change"], (table["cleared"] - table["intact"]) / table["intact"])
    result = localization.clearing_test(table["change"])
    assert result["p"] == pytest.approx(stats.wilcoxon(table["change"], alternative="greater").pvalue)
    assert result["rose"] == 1.0 and result["n"] == 4
    silent = localization.clearing_test(np.array([np.nan, np.nan]))
    assert silent["n"] == 0 and silent["dropped"] == 2 and np.isnan(silent["p"])
    assert localization.overlap(regions[:1], regions[0]).tolist() == [1.0]
    half = torch.zeros(8, 8, dtype=torch.bool)
    half[:4, :4] = True
    assert localization.overlap(regions[:1], half)[0] == pytest.approx(16 / 32)
    with pytest.raises(InvalidInputError, match="one neuron per image"):
        localization.background_clearing(respond, images, regions, [0])


def test_binomial_tests_of_dale_like_features_match_scipy():
    # the paper's 5.09e-10: 50 of 56 models agreeing in sign, one-sided
    assert stats.binomtest(50, 56, 0.5, alternative="greater").pvalue == pytest.approx(5.09e-10, rel=2e-3)
    weights = np.array([[1.0, -1.0, 0.5, 0.0], [2.0, -0.5, -0.5, 0.0], [1.0, -2.0, 0.5, 0.0],
                        [0.3, -1.0, -0.1, 0.0], [0.2, -3.0, 0.2, 0.0], [0.4, -0.2, 0.2, 1.0]])
    table = analysis.dale_like_features(weights, threshold=0.9, alpha=0.5)
    assert table["positive"].tolist() == [6, 0, 4, 1] and table["negative"].tolist() == [0, 6, 2, 0]
    assert table["sign"].tolist() == ["positive", "negative", "positive", "positive"]
    p = [stats.binomtest(k, n, 0.5).pvalue for k, n in ((6, 6), (0, 6), (4, 6), (1, 1))]
    np.testing.assert_allclose(table["p"], p)
    np.testing.assert_allclose(table["p_bonferroni"], np.minimum(1, np.array(p) * 4))
    assert table["dale_like"].tolist() == [True, True, False, False]  # 1/1 is consistent, not significant


def test_dale_like_null_keeps_each_models_signs():
    rng = np.random.default_rng(0)
    aligned = np.abs(rng.normal(size=(12, 50))) * np.where(np.arange(50) < 25, 1, -1)
    result = analysis.dale_like_null(aligned, threshold=0.9, n_permutations=200, seed=0)
    assert result["observed"] == 50 and result["p"] == pytest.approx(1 / 201)
    shuffled = rng.permuted(aligned, axis=1)
    assert analysis.dale_like_null(shuffled, n_permutations=200)["p"] > 0.05
    # features no model uses stay out of the null: a zero never moves onto a used feature
    signs = np.where(rng.random((12, 40)) < 0.5, 1.0, -1.0)
    dead = np.hstack([signs, np.zeros((12, 40))])
    assert analysis.dale_like_null(dead, n_permutations=50)["null_high"] <= 1


def test_zscore_by_hand():
    reference = np.array([[1.0, 10.0], [3.0, 10.0]])
    z = analysis.zscore(np.array([[5.0, 10.0]]), reference)
    assert z[0, 0] == pytest.approx((5 - 2) / np.sqrt(2)) and np.isnan(z[0, 1])
    with pytest.raises(InvalidInputError, match="reference must be"):
        analysis.zscore(np.ones((1, 3)), reference)
