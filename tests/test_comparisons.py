"""Section 1's cross-model tables and the sentences the book states from them."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from signseg import analysis, comparisons, reference, report, zoo


def _readout(rows):
    columns = ["model", "dataset", "family", "batch_norm", "activation", "depth", "trained", "top1"]
    return pd.DataFrame(rows, columns=columns)


def test_depth_trends_by_family_with_hand_values():
    table = _readout([
        ("v11", "d", "vgg", False, "relu", 11, 0.55, 10.0),
        ("v13", "d", "vgg", False, "relu", 13, 0.56, 11.0),
        ("v16", "d", "vgg", False, "relu", 16, 0.58, 12.0),
        ("r8", "d", "resnet", True, "relu", 8, 0.60, 13.0),
        ("r14", "d", "resnet", True, "relu", 14, 0.59, 14.0),
        ("r8t", "d", "resnet", True, "tanh", 20, 0.99, 1.0),  # tanh: left out of the trend
        ("a", "d", "alexnet", False, "relu", 8, 0.50, 9.0),  # one depth: no trend
    ])
    trends = comparisons.depth_trends(table).set_index("family")
    assert list(trends.index) == ["vgg", "resnet"]
    assert trends.loc["vgg", "rho"] == pytest.approx(1.0)
    assert trends.loc["vgg", "depths"] == [11, 13, 16]
    assert trends.loc["resnet", "rho"] == -1.0 and np.isnan(trends.loc["resnet", "p"])
    assert trends.loc["resnet", "n"] == 2
    sentence = report.depth_trend(trends.reset_index())
    assert "vgg (11: 0.5500, 13: 0.5600, 16: 0.5800) rises with depth" in sentence
    assert "resnet with BN (8: 0.6000, 14: 0.5900) falls with depth" in sentence


def test_accuracy_correlations_per_dataset_never_pool_output_counts():
    rows = [(f"m{i}", "tiny", "vgg", False, "relu", 11, 0.5 + 0.01 * i, 10.0 + i) for i in range(5)]
    rows += [(f"c{i}", "cifar", "vgg", False, "relu", 11, 0.6 - 0.01 * i, 10.0 + i) for i in range(5)]
    rows += [("x", "mnist", "vgg", False, "relu", 11, 0.6, 90.0)]  # one model: no correlation
    result = comparisons.accuracy_correlations(_readout(rows), n_boot=200, seed=0)
    assert sorted(set(result["dataset"])) == ["cifar", "tiny"]
    spearman = result.set_index(["dataset", "method"])["r"]
    assert spearman[("tiny", "spearman")] == pytest.approx(1.0)
    assert spearman[("cifar", "spearman")] == pytest.approx(-1.0)
    assert spearman[("tiny", "pearson")] == pytest.approx(1.0)
    text = report.accuracy_correlation(result, "cifar")
    assert "Spearman rho = -1.00" in text and "*less* sign-consistent" in text


def test_paper_counterparts_and_the_side_by_side_table():
    names = ["tinyimagenet_vgg11_bn", "tinyimagenet_resnet8", "tinyimagenet_alexnet_tanh", "resnet18"]
    counterparts = {}
    for name in names:
        entry = zoo.info(name)
        counterparts[name] = comparisons.paper_counterpart(SimpleNamespace(entry=entry))
    assert counterparts == {"tinyimagenet_vgg11_bn": "vgg11_bn", "tinyimagenet_resnet8": None,
                            "tinyimagenet_alexnet_tanh": None, "resnet18": "resnet18"}
    computed = pd.DataFrame({"model": ["tinyimagenet_vgg11_bn", "tinyimagenet_resnet8"],
                             "paper_model": ["vgg11_bn", None], "trained": [0.6, 0.55]})
    merged = reference.beside_paper(computed, 3, on="paper_model", columns=["trained"])
    assert merged["paper_trained"].iloc[0] == pytest.approx(0.5737)
    assert merged["diff_trained"].iloc[0] == pytest.approx(0.6 - 0.5737)
    assert np.isnan(merged["paper_trained"].iloc[1])


def test_sign_ratio_table_by_hand():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, -3.0], [4.0, -1.0, -1.0]]))  # ratios 1 and 2
    stub = SimpleNamespace(entry=zoo.info("resnet18"), readout_weight=lambda: layer.weight.detach())
    table = comparisons.sign_ratio_table({"m": stub})
    assert table["mean"].iloc[0] == pytest.approx(1.5)
    assert table["std"].iloc[0] == pytest.approx(np.std([1.0, 2.0], ddof=1))


class _TwoRegionModel:
    """Features = pixel sums of the left and right column of a 1-channel 2x2 image."""

    def __init__(self, weight):
        self.entry = SimpleNamespace(preprocessing=SimpleNamespace(mean=(0.5,)))
        self.layer = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(torch.tensor(weight))

    def features(self, images):
        return torch.stack([images[:, 0, :, 0].sum(1), images[:, 0, :, 1].sum(1)], dim=1)

    def readout_layer(self):
        return self.layer


def test_occlusion_under_ablation_by_hand():
    model = _TwoRegionModel([[1.0, -1.0], [0.5, 0.5]])
    image = torch.tensor([[[1.0, 0.2], [1.0, 0.2]]])  # left column object, right background
    images = torch.stack([image, image])
    masks = torch.tensor([[True, False], [True, False]]).expand(2, 2, 2)
    targets = torch.tensor([0, 0])
    table = analysis.occlusion_under_ablation(model, images, masks, targets,
                                              ["positive", "negative"], [1.0])
    rows = table.set_index(["sign", "alpha"])
    # intact logit 2 - 0.4 = 1.6; object filled with 0.5 -> 1 - 0.4; background -> 2 - 1
    assert rows.loc[("positive", 0.0), "object_drop"] == pytest.approx(1.0)
    assert rows.loc[("positive", 0.0), "background_drop"] == pytest.approx(0.6)
    # positive ablation keeps only the -1 weight on the background: the object no longer counts
    assert rows.loc[("positive", 1.0), "object_drop"] == pytest.approx(0.0)
    assert rows.loc[("positive", 1.0), "background_drop"] == pytest.approx(0.6)
    # negative ablation keeps only the object's +1 weight
    assert rows.loc[("negative", 1.0), "object_drop"] == pytest.approx(1.0)
    assert rows.loc[("negative", 1.0), "background_drop"] == pytest.approx(0.0)
    assert rows.loc[("negative", 1.0), "object_low"] == pytest.approx(1.0)  # identical images: zero width
    assert (table["n"] == 2).all()
    sentence = report.occlusion(table, 1.0)
    assert "Intact, occluding the object lowers the true-class logit by 1.00" in sentence
    assert "after positive ablation occluding the object costs 0.00 [0.00, 0.00]" in sentence


def test_verdicts_follow_the_interval():
    assert report.verdict(0.1, 0.2, "as", "opp", "?") == "as"
    assert report.verdict(-0.2, -0.1, "as", "opp", "?") == "opp"
    assert report.verdict(-0.1, 0.2, "as", "opp", "?") == "?"
    assert report.interval(0.5, 0.25, 0.75, 2, signed=True) == "+0.50 [+0.25, +0.75]"


def test_dale_change_sentence_counts_rises():
    readout = pd.DataFrame({"delta": [0.01, -0.02, 0.03], "untrained": [0.53, 0.528, 0.527],
                            "random_expectation": [0.528] * 3, "n_outgoing": [200] * 3})
    text = report.dale_change(readout, reference.paper_table(3))
    assert "rose with training in 2 of 3 models" in text and "200 outputs" in text
    assert "within 0.0020 of the analytic expectation" in text
