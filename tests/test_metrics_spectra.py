"""Radially averaged power spectra (signseg.metrics.spectra)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from signseg.errors import InvalidInputError
from signseg.metrics.spectra import radial_frequencies, radial_power_spectrum, spectrum_ratio

T_975_DF1 = 12.706204736174694


def grating(size: int, ky: int, kx: int, amplitude: float = 0.4) -> torch.Tensor:
    """A grey cosine grating with (ky, kx) cycles per image, as [1, 3, size, size]."""
    rows, cols = torch.meshgrid(torch.arange(size, dtype=torch.float64),
                                torch.arange(size, dtype=torch.float64), indexing="ij")
    image = 0.5 + amplitude * torch.cos(2 * math.pi * (ky * rows + kx * cols) / size)
    return image.expand(1, 3, size, size).float()


def frequencies_in_bin(size: int, radius_bin: int) -> int:
    """Count, by brute force, the FFT frequencies whose rounded radius is `radius_bin`."""
    signed = [k if k < size / 2 else k - size for k in range(size)]  # fftfreq * size
    return sum(round(math.hypot(a, b)) == radius_bin for a in signed for b in signed)


@pytest.mark.parametrize(("ky", "kx"), [(0, 5), (3, 4)])
def test_grating_power_falls_in_its_radius_bin(ky: int, kx: int) -> None:
    size, amplitude = 32, 0.4
    frequencies, power = radial_power_spectrum(grating(size, ky, kx, amplitude))
    assert power.shape == (1, size // 2)
    assert int(np.argmax(power[0])) == 4 and frequencies[4] == pytest.approx(5 / size)
    others = np.delete(power[0], 4)
    assert np.abs(others).max() < 1e-10
    # Parseval: two FFT peaks of |A N^2 / 2|^2 / N^2 each, averaged over the bin's frequencies
    expected = 2 * (amplitude * size**2 / 2) ** 2 / size**2 / frequencies_in_bin(size, 5)
    assert power[0, 4] == pytest.approx(expected, rel=1e-5)


def test_white_noise_spectrum_is_flat_at_its_variance() -> None:
    noise = torch.rand(24, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    _, power = radial_power_spectrum(noise, color="channels")
    mean = power.mean(axis=0)
    # uniform(0, 1) noise: variance 1/12 at every frequency
    assert mean.mean() == pytest.approx(1 / 12, rel=0.02)
    assert np.abs(mean / (1 / 12) - 1).max() < 0.1


def test_grey_spectrum_uses_luminance_weights() -> None:
    noise = torch.rand(24, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    _, power = radial_power_spectrum(noise, color="grey")
    variance = (0.299**2 + 0.587**2 + 0.114**2) / 12
    assert power.mean() == pytest.approx(variance, rel=0.03)


def test_constant_image_has_zero_spectrum() -> None:
    _, power = radial_power_spectrum(torch.full((2, 3, 16, 16), 0.3))
    assert np.array_equal(power, np.zeros((2, 8)))


def test_frequencies_are_cycles_per_pixel_up_to_nyquist() -> None:
    assert np.allclose(radial_frequencies(8), [1 / 8, 2 / 8, 3 / 8, 4 / 8])
    frequencies, power = radial_power_spectrum(torch.rand(1, 3, 12, 20))
    assert power.shape == (1, 6) and frequencies[-1] == pytest.approx(0.5)


def test_spectrum_ratio_by_hand() -> None:
    control = np.array([[2.0, 4.0], [4.0, 8.0]])
    ablated = np.array([[1.0, 2.0], [2.0, 2.0]])
    table = spectrum_ratio(control, ablated, np.array([0.1, 0.2]))
    # ratios per unit: [2, 2] and [2, 4]
    assert table["ratio"].tolist() == [2.0, 3.0]
    assert (table.loc[0, "ci_low"], table.loc[0, "ci_high"]) == (2.0, 2.0)
    assert table.loc[1, "ci_low"] == pytest.approx(3.0 - T_975_DF1)  # sd sqrt2, sem 1
    geometric = spectrum_ratio(control, ablated, np.array([0.1, 0.2]), geometric=True)
    assert geometric.loc[1, "ratio"] == pytest.approx(math.sqrt(8.0))
    assert list(table.columns) == ["frequency", "ratio", "ci_low", "ci_high", "n"]


def test_invalid_inputs() -> None:
    with pytest.raises(InvalidInputError, match="zero power"):
        spectrum_ratio(np.ones((2, 2)), np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([0.1, 0.2]))
    with pytest.raises(InvalidInputError, match="equal shape"):
        spectrum_ratio(np.ones((2, 2)), np.ones((2, 3)), np.array([0.1, 0.2]))
    with pytest.raises(InvalidInputError, match="color"):
        radial_power_spectrum(torch.rand(1, 3, 8, 8), color="lab")
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        radial_power_spectrum(torch.full((1, 3, 8, 8), 2.0))


def test_summed_spectrum_is_the_mean_times_the_frequencies_in_each_bin() -> None:
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(3))
    frequencies, mean = radial_power_spectrum(images)
    same, total = radial_power_spectrum(images, reduce="sum")
    counts = np.array([frequencies_in_bin(12, b) for b in range(1, 7)])
    assert np.array_equal(frequencies, same)
    assert total == pytest.approx(mean * counts[None, :], rel=1e-12)
    with pytest.raises(InvalidInputError, match="reduce"):
        radial_power_spectrum(images, reduce="median")
