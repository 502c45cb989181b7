"""Per-image statistics of positive vs negative channels (signseg.metrics.image_statistics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from signseg.errors import InvalidInputError
from signseg.metrics.image_statistics import (
    colourfulness,
    contrast_dispersion,
    energy_dispersion,
    high_frequency_fraction,
    map_dispersion,
    mean_saturation,
    spectral_centroid,
)


def coordinates(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.meshgrid(torch.arange(height, dtype=torch.float64),
                          torch.arange(width, dtype=torch.float64), indexing="ij")


def grey(image: torch.Tensor) -> torch.Tensor:
    """[H, W] -> [1, 3, H, W]."""
    return image.expand(1, 3, *image.shape).clone()


def grating(size: int, ky: int, kx: int, amplitude: float) -> torch.Tensor:
    """Cosine luminance of (ky, kx) cycles per image around 0, [H, W]."""
    rows, cols = coordinates(size, size)
    return amplitude * torch.cos(2 * math.pi * (ky * rows + kx * cols) / size)


@pytest.mark.parametrize(("ky", "kx", "cycles"), [(0, 4, 4), (7, 0, 7), (3, 4, 5)])
def test_grating_on_a_bin_centre_has_its_frequency_as_centroid(ky: int, kx: int,
                                                                cycles: int) -> None:
    size = 32
    image = grey(0.5 + grating(size, ky, kx, 0.4))
    assert spectral_centroid(image)[0] == pytest.approx(cycles / size, abs=1e-12)
    # a red-only grating has the same luminance spectrum up to scale
    red = torch.zeros(1, 3, size, size, dtype=torch.float64)
    red[0, 0] = 0.5 + grating(size, ky, kx, 0.4)
    assert spectral_centroid(red)[0] == pytest.approx(cycles / size, abs=1e-12)


def test_two_gratings_weight_frequencies_by_their_power() -> None:
    # power is proportional to amplitude^2 and summed (not averaged) over each annulus;
    # images are float32 (check_images), hence the 1e-6 tolerances
    size, a1, a2 = 32, 0.2, 0.1
    image = grey(0.5 + grating(size, 0, 2, a1) + grating(size, 8, 0, a2))
    expected = (a1**2 * 2 / size + a2**2 * 8 / size) / (a1**2 + a2**2)
    assert spectral_centroid(image)[0] == pytest.approx(expected, rel=1e-6)
    assert high_frequency_fraction(image, cutoff=0.2)[0] == pytest.approx(
        a2**2 / (a1**2 + a2**2), rel=1e-6)
    assert high_frequency_fraction(image, cutoff=0.25)[0] == pytest.approx(0.0, abs=1e-9)
    assert high_frequency_fraction(image, cutoff=0.0)[0] == pytest.approx(1.0, abs=1e-12)


def reference_centroid(image: np.ndarray, cutoff: float | None = None) -> float:
    """Direct definition over the 2-D FFT: luminance, rounded radius bins 1 .. S // 2."""
    image = image.astype(np.float64)
    lum = 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]
    power = np.abs(np.fft.fft2(lum - lum.mean())) ** 2
    height, width = lum.shape
    side = min(height, width)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij"))
    bins = np.round(radius * side)
    keep = (bins >= 1) & (bins <= side // 2)
    frequency = bins[keep] / side
    weight = frequency if cutoff is None else (frequency > cutoff).astype(float)
    return float((weight * power[keep]).sum() / power[keep].sum())


@pytest.mark.parametrize("shape", [(16, 16), (12, 20)])
def test_centroid_and_high_frequency_fraction_match_a_direct_fft_reference(shape) -> None:
    images = torch.rand(3, 3, *shape, generator=torch.Generator().manual_seed(1))
    centroid = spectral_centroid(images)
    fraction = high_frequency_fraction(images, cutoff=0.3)
    for i in range(3):
        assert centroid[i] == pytest.approx(reference_centroid(images[i].numpy()), rel=1e-10)
        assert fraction[i] == pytest.approx(reference_centroid(images[i].numpy(), 0.3), rel=1e-10)


def test_constant_image_has_no_spectrum_and_bad_cutoff_is_rejected() -> None:
    image = torch.full((1, 3, 8, 8), 0.3)
    assert np.isnan(spectral_centroid(image)[0])
    assert np.isnan(high_frequency_fraction(image)[0])
    with pytest.raises(InvalidInputError, match="cutoff"):
        high_frequency_fraction(grey(0.5 + grating(8, 0, 1, 0.2)), cutoff=0.5)
    with pytest.raises(InvalidInputError, match="RGB"):
        spectral_centroid(torch.rand(1, 1, 8, 8))


def test_colourfulness_of_grey_images_is_zero() -> None:
    levels = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    assert colourfulness(levels.expand(2, 3, 6, 6)) == pytest.approx([0.0, 0.0], abs=1e-9)


def test_colourfulness_by_hand() -> None:
    # red and blue pixel, 0-255 scale: rg = (255, 0), yb = (127.5, -255)
    # s_rg = 127.5, s_yb = 191.25, m_rg = 127.5, m_yb = -63.75 (population sd)
    image = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 1.0]]]])
    expected = math.hypot(127.5, 191.25) + 0.3 * math.hypot(127.5, -63.75)
    assert expected == pytest.approx(127.5 * math.sqrt(3.25) + 0.3 * 63.75 * math.sqrt(5))
    # one saturated red pixel: no spread, M = 0.3 |(255, 127.5)|
    red = torch.tensor([[[[1.0]], [[0.0]], [[0.0]]]])
    assert colourfulness(image)[0] == pytest.approx(expected, rel=1e-12)
    assert colourfulness(red)[0] == pytest.approx(0.3 * math.hypot(255.0, 127.5), rel=1e-12)


def test_mean_saturation_by_hand() -> None:
    pixels = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    image = pixels.T.reshape(1, 3, 2, 2)
    assert mean_saturation(image)[0] == pytest.approx((1.0 + 0.0 + 0.5 + 0.0) / 4)


def test_energy_dispersion_by_hand() -> None:
    # p = (.4, .3, .2, .1): the first pixel holds .4, the second a third of the remaining .1
    maps = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])
    assert energy_dispersion(maps)[0] == pytest.approx((1 + 0.1 / 0.3) / 4)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    assert energy_dispersion(maps, "entropy")[0] == pytest.approx(
        -(p * np.log(p)).sum() / np.log(4))
    assert energy_dispersion(maps, mass=0.7)[0] == pytest.approx(2 / 4)


@pytest.mark.parametrize("side", [4, 5, 16])
def test_flat_map_holds_half_its_energy_in_half_its_pixels(side: int) -> None:
    flat = torch.full((1, side, side), 2.5)
    assert energy_dispersion(flat)[0] == pytest.approx(0.5, abs=1e-12)
    assert energy_dispersion(flat, mass=1.0)[0] == pytest.approx(1.0, abs=1e-12)
    assert energy_dispersion(flat, "entropy")[0] == pytest.approx(1.0, abs=1e-12)
    dot = torch.zeros(1, side, side)
    dot[0, 1, 2] = 3.0
    assert energy_dispersion(dot)[0] == pytest.approx(0.5 / side**2, abs=1e-15)
    assert energy_dispersion(dot, "entropy")[0] == pytest.approx(0.0, abs=1e-15)


def test_squared_gaussian_noise_matches_the_chi_square_value() -> None:
    # share of pixels x = 2(1 - Phi(t)) whose |z| > t holds half of E[z^2] = 1:
    # 2 (t phi(t) + 1 - Phi(t)) = 1/2
    t = optimize.brentq(lambda t: 2 * (t * stats.norm.pdf(t) + stats.norm.sf(t)) - 0.5, 0, 5)
    expected = 2 * stats.norm.sf(t)
    z = torch.randn(2, 400, 400, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert map_dispersion(z**2) == pytest.approx([expected, expected], abs=0.003)


def test_gaussian_blob_map_dispersion_is_its_half_mass_disc() -> None:
    # half of a 2-D Gaussian's mass lies within r^2 = 2 s^2 ln 2: area 2 pi s^2 ln 2
    size, s = 128, 5.0
    rows, cols = coordinates(size, size)
    blob = torch.exp(-((rows - 60.0) ** 2 + (cols - 70.0) ** 2) / (2 * s**2))[None]
    expected = 2 * math.pi * s**2 * math.log(2) / size**2
    assert map_dispersion(blob)[0] == pytest.approx(expected, rel=0.005)


def test_dispersion_of_empty_and_invalid_maps() -> None:
    assert np.isnan(energy_dispersion(torch.zeros(1, 3, 3))[0])
    assert np.isnan(energy_dispersion(torch.zeros(1, 3, 3), "entropy")[0])
    with pytest.raises(InvalidInputError, match="non-negative"):
        map_dispersion(-torch.ones(1, 2, 2))
    with pytest.raises(InvalidInputError, match="NaN"):
        map_dispersion(torch.full((1, 2, 2), float("nan")))
    with pytest.raises(InvalidInputError, match="statistic"):
        map_dispersion(torch.ones(1, 2, 2), statistic="gini")
    with pytest.raises(InvalidInputError, match="mass"):
        map_dispersion(torch.ones(1, 2, 2), mass=0.0)


def test_checkerboard_has_flat_contrast_energy() -> None:
    # the blur of a checkerboard (reflected borders continue it) is a scaled checkerboard,
    # so the squared deviation is the same at every pixel
    rows, cols = coordinates(32, 32)
    board = grey(0.5 + 0.3 * (1 - 2 * ((rows + cols) % 2)))
    assert contrast_dispersion(board)[0] == pytest.approx(0.5, abs=1e-9)
    assert contrast_dispersion(board, sigma=3.0, statistic="entropy")[0] == pytest.approx(
        1.0, abs=1e-9)


def test_a_dot_on_grey_is_localized_and_noise_is_not() -> None:
    size = 32
    dot = torch.full((size, size), 0.5, dtype=torch.float64)
    dot[12, 20] = 1.0
    noise = torch.rand(size, size, generator=torch.Generator().manual_seed(2),
                       dtype=torch.float64)
    values = contrast_dispersion(torch.cat([grey(dot), grey(noise)]))
    assert 0.0 < values[0] < 1.0 / size**2  # the dot pixel alone holds most of the energy
    assert 0.1 < values[1] < 0.5
    assert np.isnan(contrast_dispersion(torch.full((1, 3, 8, 8), 0.4))[0])
    with pytest.raises(InvalidInputError, match="sigma"):
        contrast_dispersion(grey(dot), sigma=0.0)
