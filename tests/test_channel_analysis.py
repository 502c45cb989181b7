"""Measuring positive vs negative channels: planted answers on natural-image stand-ins."""

import numpy as np
import pandas as pd
import torch
from torch import nn

from signseg.channel_analysis import depth_trends, image_measures, natural_measures, sign_contrasts


class _Planted(nn.Module):
    """Two 'layers': the second conv reads three channels: 0 = red inside, 1 = green, 2 = blue."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv2d(3, 3, 1, bias=False)
        self.second = nn.Conv2d(3, 2, 1)
        with torch.no_grad():
            self.first.weight.copy_(torch.eye(3).view(3, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.relu(self.first(x)))


def _scenes(n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Red objects in a box on a green and blue-noise background."""
    generator = torch.Generator().manual_seed(0)
    images = torch.zeros(n, 3, 16, 16)
    images[:, 1] = 0.5
    images[:, 2] = torch.rand(n, 16, 16, generator=generator) * 0.5
    masks = torch.zeros(n, 16, 16, dtype=torch.bool)
    for i in range(n):
        y, x = 2 + i % 6, 3 + i % 5
        masks[i, y:y + 6, x:x + 6] = True
        images[i, 0][masks[i]] = 1.0
        images[i, 1][masks[i]] = 0.0
        images[i, 2][masks[i]] = 0.0
    return images, masks


def test_object_share_recovers_the_planted_object_and_background_channels() -> None:
    images, masks = _scenes()
    ranking = pd.DataFrame({"layer": "second", "channel": [0, 1, 2], "p_positive": [1.0, 0.0, 0.5],
                            "p_negative": [0.0, 1.0, 0.5]})
    frame, patches = natural_measures(_Planted(), ranking, images, masks, top_images=5, patch=4,
                                      progress=False)
    share = frame.set_index("channel")["object_share"]
    chance = masks.float().mean().item()
    assert abs(share[0] - (1 - chance)) < 0.05  # all of the red channel's activation is inside
    assert share[1] < 0 and share[2] < 0.1
    assert patches[("second", 0)].shape == (5, 4, 4, 3)


def test_measures_of_flat_and_edge_images() -> None:
    grey = torch.full((1, 3, 16, 16), 0.5)
    stripes = torch.zeros(1, 3, 16, 16)
    stripes[..., ::2] = 1.0
    red = torch.zeros(1, 3, 16, 16)
    red[:, 0] = 1.0
    table = image_measures(torch.cat([stripes, red, grey]))
    assert table["frequency"][0] > 0.4  # an alternating grating sits at Nyquist
    # pure red: rg = 255, yb = 127.5 everywhere, no spread: M = 0.3 * sqrt(255^2 + 127.5^2)
    assert table["colourfulness"][0] == 0
    assert abs(table["colourfulness"][1] - 0.3 * np.hypot(255, 127.5)) < 1e-3
    assert table["saturation"][1] == 1 and table["saturation"][0] == 0
    assert np.isnan(table["frequency"][2])


def test_sign_contrasts_and_trends_report_the_predicted_direction() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "layer": ["a"] * 16, "sign": ["positive"] * 8 + ["negative"] * 8,
        "frequency": np.r_[rng.normal(0.3, 0.01, 8), rng.normal(0.1, 0.01, 8)],
        "saturation": np.r_[rng.normal(0.2, 0.01, 8), [np.nan], rng.normal(0.2, 0.01, 7)],
        "p_positive": np.linspace(1, 0, 16), "p_negative": np.linspace(0, 1, 16)})
    table = sign_contrasts(frame, ["frequency", "saturation"], n_boot=200, n_permutations=500)
    frequency = table.set_index("measure").loc["frequency"]
    assert frequency["difference"] > 0.15 and frequency["p"] < 0.01 and bool(frequency["agrees"])
    saturation = table.set_index("measure").loc["saturation"]
    assert saturation["n_neg"] == 7 and not bool(saturation["agrees"])
    trends = depth_trends(frame, ["frequency"], n_boot=100)
    assert trends.loc[0, "r"] > 0.6 and trends.loc[0, "n"] == 16
