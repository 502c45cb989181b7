"""Colour of preferred images outside their relevant region: HSV by hand, regions by hand,
and the per-condition table on a hand-built model whose evidence sits in a known corner."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from signseg import analysis
from signseg.errors import InvalidInputError
from signseg.metrics import (
    central_region,
    hsv_value_saturation,
    luminance,
    smooth_maps,
    summarize,
    surround_colour,
    top_fraction_region,
)
from signseg.preprocessing import Preprocessing


def test_hsv_and_luminance_by_hand():
    pixels = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [0.0, 0.0, 0.0]])
    images = pixels.T.reshape(1, 3, 1, 4)
    value, saturation = hsv_value_saturation(images)
    assert value.flatten().tolist() == [1.0, 1.0, 0.5, 0.0]
    assert saturation.flatten().tolist() == [0.0, 1.0, 0.5, 0.0]
    assert luminance(images).flatten().tolist() == pytest.approx([1.0, 0.299, 0.32475, 0.0])


def test_regions_by_hand():
    maps = torch.tensor([[[3.0, 1.0, 1.0], [0.0, 2.0, 1.0]]])
    # 2 of 6 pixels (round(1/3 * 6)): the 3 and the 2; then 3 pixels: ties to the earlier 1
    assert top_fraction_region(maps, 1 / 3).int().tolist() == [[[1, 0, 0], [0, 1, 0]]]
    assert top_fraction_region(maps, 0.5).int().tolist() == [[[1, 1, 0], [0, 1, 0]]]
    centre = central_region(8, 8, 0.25)
    assert centre.sum() == 16 and centre[2:6, 2:6].all()
    with pytest.raises(InvalidInputError, match="fraction"):
        central_region(8, 8, 1.0)


def test_smoothing_keeps_constants_and_mass():
    assert torch.equal(smooth_maps(torch.ones(1, 5, 5), 0.0), torch.ones(1, 5, 5).double())
    assert torch.allclose(smooth_maps(torch.full((1, 9, 9), 2.0), 1.0), torch.full((1, 9, 9), 2.0).double())
    delta = torch.zeros(1, 11, 11)
    delta[0, 5, 5] = 1.0
    smoothed = smooth_maps(delta, 1.0)[0]
    assert float(smoothed.sum()) == pytest.approx(1.0)
    assert torch.allclose(smoothed, smoothed.T) and torch.allclose(smoothed, smoothed.flip(0))
    assert int(smoothed.argmax()) == 5 * 11 + 5


def _scene(surround: tuple[float, float, float]) -> torch.Tensor:
    """8 x 8 RGB: a saturated red top-left 4 x 4 block on a uniform surround colour."""
    image = torch.tensor(surround).view(3, 1, 1).repeat(1, 8, 8)
    image[:, :4, :4] = torch.tensor([0.8, 0.0, 0.0]).view(3, 1, 1)
    return image


def test_surround_colour_of_known_surrounds():
    images = torch.stack([_scene((1.0, 1.0, 1.0)), _scene((0.5, 0.5, 0.5)), _scene((0.2, 0.4, 1.0))])
    block = torch.zeros(8, 8, dtype=torch.bool)
    block[:4, :4] = True
    table = surround_colour(images, block)
    assert table["brightness"].tolist() == pytest.approx([1.0, 0.5, 1.0])
    assert table["saturation"].tolist() == pytest.approx([0.0, 0.0, 0.8])
    assert table["luminance"].tolist() == pytest.approx([1.0, 0.5, 0.299 * 0.2 + 0.587 * 0.4 + 0.114])
    assert table["white_fraction"].tolist() == pytest.approx([1.0, 0.0, 0.0])
    # the central region takes in part of the red block: the surround is no longer all white
    mixed = surround_colour(images[:1], central_region(8, 8, 0.25))
    assert mixed["white_fraction"].iloc[0] == pytest.approx(1 - 12 / 48)
    with pytest.raises(InvalidInputError, match="no surround"):
        surround_colour(images, torch.ones(8, 8, dtype=torch.bool))


class _StoredRuns:
    """A stand-in for a Visualization: a table and its images (``[n, H, W, 3]`` uint8)."""

    def __init__(self, table: pd.DataFrame, images: torch.Tensor) -> None:
        self._table, self._images = table, images

    def table(self) -> pd.DataFrame:
        return self._table

    def images(self, rows: pd.DataFrame) -> np.ndarray:
        pixels = (self._images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return pixels[rows.index.to_numpy()]


def _corner_model() -> SimpleNamespace:
    """Unit 0 reads the red channel (+1) and the green channel (-1) of the top-left block only."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    with torch.no_grad():
        weight = torch.zeros(2, 3, 8, 8)
        weight[0, 0, :4, :4], weight[0, 1, :4, :4] = 1.0, -1.0
        net[1].weight.copy_(weight.view(2, -1))
        net[1].bias.zero_()
    entry = SimpleNamespace(preprocessing=Preprocessing(size=8, mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0)),
                            readout="1")
    return SimpleNamespace(model=net.eval(), entry=entry)


def test_background_colour_by_condition_follows_the_attribution():
    table = pd.DataFrame({"unit": 0, "sign": ["control", "control", "positive", "negative"],
                          "alpha": [0.0, 0.0, 1.0, 1.0], "generator": "fourier", "restart": [0, 1, 0, 0]})
    grey, white = (0.4, 0.4, 0.4), (1.0, 1.0, 1.0)
    runs = _StoredRuns(table, torch.stack([_scene(grey), _scene(grey), _scene(grey), _scene(white)]))
    model = _corner_model()
    out = analysis.background_colour_by_condition(runs, model, fraction=0.25)
    # the control is listed under both signs: 2 + 2 control rows, one positive, one negative
    assert sorted(zip(out["sign"], out["alpha"])) == [
        ("negative", 0.0), ("negative", 0.0), ("negative", 1.0),
        ("positive", 0.0), ("positive", 0.0), ("positive", 1.0)]
    # the relevant region is the red corner in every condition (the remaining weights read it),
    # so the surround is exactly the uniform grey or white
    assert out["brightness"].tolist() == pytest.approx([0.4, 0.4, 0.4, 0.4, 0.4, 1.0])
    assert out["white_fraction"].tolist() == pytest.approx([0, 0, 0, 0, 0, 1.0])
    assert out["saturation"].tolist() == pytest.approx([0.0] * 6)
    # the model-free centre region cuts into the red corner instead
    centre = analysis.background_colour_by_condition(runs, None, region="centre", fraction=0.25)
    assert centre["saturation"].iloc[-1] == pytest.approx(12 / 48)
    summary = summarize(out, "brightness", by=["sign", "alpha"])
    assert summary.set_index(["sign", "alpha"]).loc[("negative", 1.0), "mean"] == pytest.approx(1.0)
    # the model's weights are restored after the ablations
    assert float(model.model[1].weight.detach()[0].abs().sum()) == 32.0
    with pytest.raises(InvalidInputError, match="region must be"):
        analysis.background_colour_by_condition(runs, model, region="edges")
