"""Shape-bias measures on hand-worked logits, and shape bias under sign ablation checked
against the ablated network itself."""

import math

import numpy as np
import pytest
import torch

from signseg import analysis, zoo
from signseg.ablation import ablated
from signseg.data.dataset import ImageDataset
from signseg.errors import InvalidInputError
from signseg.metrics import geirhos_shape_bias, pairwise_shape_bias

LOGITS = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 1.0, 5.0], [4.0, 0.0, 0.0]])
SHAPE, TEXTURE = [0, 0, 0, 1], [1, 1, 1, 2]


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_pairwise_shape_bias_by_hand():
    result = pairwise_shape_bias(LOGITS, SHAPE, TEXTURE)
    # 2 > 1 win, 0 > 3 loss, 1 = 1 tie, 0 = 0 tie: 1 of 2 decided
    assert result["shape_bias"] == 0.5 and result["n"] == 2 and result["ties"] == 2
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(_wilson(1, 2))


def test_geirhos_shape_bias_by_hand():
    result = geirhos_shape_bias(LOGITS, SHAPE, TEXTURE)
    # top-1: 0 (shape hit), 1 (texture hit), 2 (neither), 0 (neither: shape 1, texture 2)
    assert result["shape_bias"] == 0.5 and result["n"] == 2
    assert result["shape_accuracy"] == 0.25 and result["texture_accuracy"] == 0.25
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(_wilson(1, 2))
    none = geirhos_shape_bias(LOGITS[2:3], [0], [1])  # top-1 is class 2: no hit at all
    assert none["n"] == 0 and math.isnan(none["shape_bias"]) and math.isnan(none["ci_low"])


def test_images_without_a_conflict_are_left_out():
    logits = torch.cat([LOGITS, torch.tensor([[9.0, 0.0, 0.0], [0.0, 0.0, 9.0]])])
    shape, texture = SHAPE + [0, 2], TEXTURE + [0, 2]  # two images whose cues agree
    assert pairwise_shape_bias(logits, shape, texture) == pairwise_shape_bias(LOGITS, SHAPE, TEXTURE)
    assert geirhos_shape_bias(logits, shape, texture) == geirhos_shape_bias(LOGITS, SHAPE, TEXTURE)
    agree = geirhos_shape_bias(logits[4:], [0, 2], [0, 2])
    assert agree["n"] == 0 and math.isnan(agree["shape_accuracy"])


def test_shape_bias_errors():
    with pytest.raises(InvalidInputError, match="shape_targets must have one class per image"):
        geirhos_shape_bias(LOGITS, [0, 1], TEXTURE)
    with pytest.raises(InvalidInputError, match="texture_targets must index"):
        pairwise_shape_bias(LOGITS, SHAPE, [1, 1, 1, 3])


def test_shape_bias_under_ablation_matches_the_ablated_network():
    model = zoo.load("procedural_resnet8", pretrained=False, seed=0)
    rng = np.random.default_rng(0)
    shape = torch.from_numpy(rng.integers(0, 10, 40))
    texture = (shape + torch.from_numpy(rng.integers(1, 10, 40))) % 10
    images = torch.from_numpy(rng.integers(0, 256, (40, 3, 32, 32), dtype=np.uint8))
    conflict = ImageDataset("cc", "val", images, shape, [str(i) for i in range(10)],
                            meta={"texture": texture})
    table = analysis.shape_bias_under_ablation(model, conflict, ["positive", "negative"], [1.0])
    assert len(table) == 4 and set(table["alpha"]) == {0.0, 1.0}
    for sign in ("positive", "negative"):
        for alpha in (0.0, 1.0):
            with ablated(model.model, model.entry.readout, None, sign, alpha), torch.no_grad():
                logits = model.model(model.entry.preprocessing(conflict.float_images()))
            row = table[(table["sign"] == sign) & (table["alpha"] == alpha)].iloc[0]
            wins = int((logits.gather(1, shape[:, None]) > logits.gather(1, texture[:, None])).sum())
            assert row["shape_bias"] == pytest.approx(wins / 40) and row["n"] == 40
            assert row["ci_low"] <= row["shape_bias"] <= row["ci_high"]
            predicted = logits.argmax(1)
            assert row["shape_accuracy"] == pytest.approx(float((predicted == shape).float().mean()))
            assert row["texture_accuracy"] == pytest.approx(float((predicted == texture).float().mean()))
    # aggregate: logits of 5 super-classes (pairs of outputs summed)
    pairs = ImageDataset("cc", "val", images, shape // 2, [str(i) for i in range(5)],
                         meta={"texture": texture // 2})
    keep = pairs.targets != pairs.meta["texture"]
    pairs = pairs.subset(keep)
    summed = analysis.shape_bias_under_ablation(
        model, pairs, ["negative"], [], aggregate=lambda z: z.view(len(z), 5, 2).sum(2))
    with torch.no_grad():
        logits = model.model(model.entry.preprocessing(pairs.float_images())).view(-1, 5, 2).sum(2)
    expected = pairwise_shape_bias(logits, pairs.targets, pairs.meta["texture"])
    assert summed.iloc[0]["shape_bias"] == pytest.approx(expected["shape_bias"])
    with pytest.raises(InvalidInputError, match="meta\\['texture'\\]"):
        analysis.shape_bias_under_ablation(model, ImageDataset("x", "val", images, shape, conflict.classes),
                                           ["negative"], [1.0])
