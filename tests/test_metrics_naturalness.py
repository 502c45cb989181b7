"""Naturalness measures (signseg.metrics.naturalness): spectral slope, Frechet and kernel distance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from signseg import report
from signseg.errors import InvalidInputError
from signseg.metrics.naturalness import (
    frechet_distance,
    kernel_distance,
    naturalness_table,
    spectral_slope,
)


def bin_power_images(n: int, size: int, power, seed: int = 0,
                     contrast: float = 0.1) -> torch.Tensor:
    """Grey images whose power is exactly proportional to ``power(b / size)`` in every radius
    bin ``b`` (1 cycle/image wide, as in radial_power_spectrum).

    Random phases with unit magnitude (the normalised spectrum of white noise, still
    Hermitian), scaled by ``sqrt(power)`` of the bin frequency, transformed back.
    """
    rng = np.random.default_rng(seed)
    spectrum = np.fft.fft2(rng.standard_normal((n, size, size)))
    spectrum /= np.abs(spectrum)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    frequency = np.round(np.hypot(fy, fx) * size) / size
    scale = np.where(frequency > 0, np.sqrt(power(np.maximum(frequency, 1 / size))), 0.0)
    images = np.fft.ifft2(spectrum * scale).real
    images = 0.5 + contrast * images / np.abs(images).max()
    return torch.from_numpy(images).float()[:, None].expand(n, 3, size, size).contiguous()


def power_law_images(n: int, size: int, exponent: float, seed: int = 0) -> torch.Tensor:
    """Images with power ``f ** -exponent`` (see :func:`bin_power_images`)."""
    return bin_power_images(n, size, lambda f: f**-exponent, seed)


@pytest.mark.parametrize("exponent", [0.0, 1.0, 2.0, 3.0])
def test_power_law_images_have_slope_minus_the_exponent(exponent: float) -> None:
    slopes = spectral_slope(power_law_images(3, 32, exponent))
    assert slopes == pytest.approx([-exponent] * 3, abs=2e-3)  # float32 pixels


def test_slope_fit_range_and_a_broken_power_law() -> None:
    # power f^-1 up to 0.25 cycles/pixel, then 0.0625 f^-3 (continuous at 0.25): each fit range
    # recovers its own exponent
    images = bin_power_images(2, 64, lambda f: np.where(f <= 0.25, f**-1.0, 0.0625 * f**-3.0))
    assert spectral_slope(images, 0.0, 0.25) == pytest.approx([-1.0] * 2, abs=5e-3)
    assert spectral_slope(images, 0.26, 0.5) == pytest.approx([-3.0] * 2, abs=5e-3)
    assert -3.0 < spectral_slope(images).mean() < -1.0


def test_slope_rejects_constant_images_and_empty_ranges() -> None:
    with pytest.raises(InvalidInputError, match="zero power"):
        spectral_slope(torch.full((2, 3, 8, 8), 0.5))
    with pytest.raises(InvalidInputError, match="at least 2"):
        spectral_slope(power_law_images(1, 8, 1.0), 0.3, 0.35)


def _reference_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's formula: |mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))."""
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_by_hand_and_against_the_reference_formula() -> None:
    # 1-d: (mu_a - mu_b)^2 + (s_a - s_b)^2 with unbiased standard deviations
    a = np.array([[0.0], [2.0]])  # mean 1, s^2 = 2
    b = np.array([[3.0], [5.0], [7.0]])  # mean 5, s^2 = 4
    assert frechet_distance(a, b) == pytest.approx(16 + (np.sqrt(2) - 2) ** 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)) @ rng.standard_normal((5, 5))
    y = rng.standard_normal((150, 5)) * [1, 2, 3, 0.5, 1] + 0.3
    assert frechet_distance(x, y) == pytest.approx(_reference_frechet(x, y), rel=1e-8)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    assert frechet_distance(x, x + shift) == pytest.approx((shift**2).sum(), rel=1e-8)
    assert frechet_distance(torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(
        frechet_distance(x, y))


@pytest.mark.parametrize(("a", "b"), [(np.zeros((1, 2)), np.zeros((3, 2))),
                                      (np.zeros((3, 2)), np.zeros((3, 3))),
                                      (np.full((3, 2), np.nan), np.zeros((3, 2)))])
def test_frechet_distance_rejects_bad_input(a: np.ndarray, b: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        frechet_distance(a, b)


def test_naturalness_table_ranks_sets_by_closeness_to_the_reference() -> None:
    reference = power_law_images(40, 32, 2.0, seed=1)
    sets = {"natural-like": power_law_images(40, 32, 2.0, seed=2),
            "white": power_law_images(40, 32, 0.0, seed=3)}

    def embed(images: torch.Tensor) -> torch.Tensor:  # coarse luminance: 4x4 block means
        return torch.nn.functional.avg_pool2d(images[:, :1], 8).flatten(1)

    table = naturalness_table(sets, reference, embed)
    assert table["set"].tolist() == ["reference", "natural-like", "white"]
    row = table.set_index("set")
    assert row.loc["reference", "slope"] == pytest.approx(-2.0, abs=2e-3)
    assert row.loc["white", "slope_gap"] == pytest.approx(2.0, abs=4e-3)
    assert row.loc["natural-like", "slope_gap"] < 4e-3
    assert np.isnan(row.loc["reference", "frechet"])
    assert row.loc["natural-like", "frechet"] < row.loc["white", "frechet"]
    assert (table["slope_ci_low"] <= table["slope"]).all() and (table["n"] == 40).all()


def test_kernel_distance_by_hand_with_a_linear_kernel() -> None:
    # One subset holding both whole sets, linear kernel k(x, y) = x y:
    # sum_{i != j} a_i a_j / 2 = (1 * 3 + 3 * 1) / 2 = 3; the same for b = 0;
    # 2 sum_{i, j} a_i b_j / 4 = 2 * (0 + 2 + 0 + 6) / 4 = 4; so 3 + 0 - 4 = -1.
    a, b = np.array([[1.0], [3.0]]), np.array([[0.0], [2.0]])
    mean, std = kernel_distance(a, b, subsets=1, subset_size=2, degree=1, gamma=1.0, coef0=0.0)
    assert mean == pytest.approx(-1.0) and std == 0.0


def test_kernel_distance_matches_torch_fidelity() -> None:
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng(0)
    a = rng.normal(size=(120, 16))
    b = rng.normal(loc=0.3, size=(90, 16))
    for subsets, size in [(1, 90), (7, 40), (25, 60)]:
        expected = kid_features_to_metric(
            torch.from_numpy(a), torch.from_numpy(b), kid_subsets=subsets, kid_subset_size=size,
            kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
            kid_kernel_poly_coef0=1, rng_seed=2020, verbose=False)
        mean, std = kernel_distance(a, b, subsets=subsets, subset_size=size, seed=2020)
        assert mean == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-10)
        assert std == pytest.approx(expected["kernel_inception_distance_std"], rel=1e-10, abs=1e-15)


def test_kernel_distance_is_unbiased_near_zero_for_one_distribution() -> None:
    rng = np.random.default_rng(1)
    same = [kernel_distance(rng.normal(size=(60, 8)), rng.normal(size=(60, 8)), subsets=5,
                            seed=seed)[0] for seed in range(40)]
    # The estimator's mean over independent samples is 0; the Frechet distance's is positive.
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same))
    shifted, _ = kernel_distance(rng.normal(size=(60, 8)), rng.normal(loc=1.0, size=(60, 8)))
    assert shifted > 10 * np.std(same)
    # subset_size=None takes min(n_a, n_b, 1000) rows: one subset is then both whole sets,
    # whatever the seed
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    assert kernel_distance(x, y, subsets=1, seed=0) == pytest.approx(kernel_distance(x, y, subsets=1, seed=9))


@pytest.mark.parametrize("kwargs", [{"subsets": 0}, {"subset_size": 1}, {"subset_size": 11}])
def test_kernel_distance_rejects_bad_subsets(kwargs: dict) -> None:
    with pytest.raises(InvalidInputError, match="subset"):
        kernel_distance(np.zeros((10, 2)), np.ones((12, 2)), **kwargs)


def test_kernel_distance_rejects_bad_features() -> None:
    with pytest.raises(InvalidInputError, match="kernel_distance"):
        kernel_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(InvalidInputError, match="NaN"):
        kernel_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))


def test_naturalness_table_reports_every_embedder_and_the_report_counts_them() -> None:
    reference = power_law_images(40, 32, 2.0, seed=1)
    sets = {"natural-like": power_law_images(40, 32, 2.0, seed=2),
            "white": power_law_images(40, 32, 0.0, seed=3),
            "real (held out)": power_law_images(40, 32, 2.0, seed=4)}

    def blocks(images: torch.Tensor) -> torch.Tensor:  # coarse luminance: 4x4 block means
        return torch.nn.functional.avg_pool2d(images[:, :1], 8).flatten(1)

    def fine(images: torch.Tensor) -> torch.Tensor:  # pixel differences: high frequencies
        return (images[:, :1, :, 1:] - images[:, :1, :, :-1])[:, :, ::4, ::4].flatten(1)

    table = naturalness_table(sets, reference, {"blocks": blocks, "fine": fine}, kid_subsets=10)
    assert table["embedder"].tolist() == ["blocks"] * 4 + ["fine"] * 4
    assert table["set"].tolist() == ["reference", "natural-like", "white", "real (held out)"] * 2
    # the slope does not depend on the embedder; the distances do
    slopes = table.pivot(index="set", columns="embedder", values="slope")
    assert np.allclose(slopes["blocks"], slopes["fine"])
    for name in ("blocks", "fine"):
        rows = table[table["embedder"] == name].set_index("set")
        assert np.isnan(rows.loc["reference", ["frechet", "kid", "kid_std"]].astype(float)).all()
        assert rows.loc["natural-like", "kid"] < rows.loc["white", "kid"]
        assert rows.loc["natural-like", "frechet"] < rows.loc["white", "frechet"]
    sentence = report.naturalness(table)
    assert sentence.startswith("Real images have a spectral slope of -2.00 (natural-like -2.00, white 0.00; closest: natural-like)")
    assert "closest: natural-like" in sentence
    assert "By the Fréchet distance natural-like's samples are the closest in every one" in sentence
    assert "by KID natural-like's samples are the closest in every one" in sentence

    # a network that ranks the other way makes the verdict depend on the network
    flipped = table.copy()
    swap = (flipped["embedder"] == "fine") & flipped["set"].isin(["natural-like", "white"])
    flipped.loc[swap, ["frechet", "kid"]] = flipped.loc[swap, ["frechet", "kid"]].to_numpy()[::-1]
    sentence = report.naturalness(flipped)
    assert ("By the Fréchet distance the closest generator depends on the network "
            "(natural-like in 1, white in 1 of 2)") in sentence
    assert "by KID the closest generator depends on the network (natural-like in 1, white in 1 of 2)" in sentence


class _Noise(torch.nn.Module):
    """A stand-in generator of 16 px 1/f images, trained (it says) with ``trained_with``."""

    code_dim = 2

    def __init__(self, trained_with: tuple[str, ...]) -> None:
        super().__init__()
        self.trained_with = trained_with

    def sample_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        return torch.randn(n, self.code_dim, generator=torch.Generator().manual_seed(seed))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return power_law_images(codes.shape[0], 16, 1.0, seed=1)


def test_compare_generators_leaves_out_the_networks_a_generator_was_trained_with() -> None:
    from signseg.metrics.naturalness import compare_generators

    real = power_law_images(40, 32, 2.0, seed=5)

    def blocks(images: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(images[:, :1], 8).flatten(1)

    def means(images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))

    table = compare_generators({"g": _Noise(("encoder",))}, real,
                               {"encoder": blocks, "judge": means}, n=20)
    assert set(table["embedder"]) == {"judge"}
    assert table["set"].tolist() == ["reference", "g", "real (held out)"]
    assert (table.loc[table["set"] == "g", "n"] == 20).all()  # resized 16 -> 32 px, 20 samples
    with pytest.raises(InvalidInputError, match="encoder"):
        compare_generators({"g": _Noise(("encoder",))}, real, {"encoder": blocks}, n=20)
    with pytest.raises(InvalidInputError, match="2 n = 60"):
        compare_generators({"g": _Noise(())}, real, {"judge": means}, n=30)
