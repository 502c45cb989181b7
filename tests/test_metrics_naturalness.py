"""Naturalness measures (signseg.metrics.naturalness): spectral slope and Frechet distance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from signseg.errors import InvalidInputError
from signseg.metrics.naturalness import frechet_distance, naturalness_table, spectral_slope


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
