"""Measures of the two E/I papers by hand: sparsity, response tails, kernel distances, E:I
counts, gratings, gOSI, skewness; and the analyses on untrained zoo networks."""

import math

import numpy as np
import pytest
import torch

from signseg import analysis, zoo
from signseg.ei import gratings, kernels, populations, selectivity, sparsity
from signseg.errors import InvalidInputError


def test_kurtosis_and_fraction_of_zeros_by_hand():
    # mean 1/4; m2 = (3 x 1/16 + 9/16) / 4 = 3/16; m4 = (3 / 256 + 81 / 256) / 4 = 21/256
    assert sparsity.kurtosis([0.0, 0.0, 0.0, 1.0]) == pytest.approx((21 / 256) / (3 / 16) ** 2)
    assert sparsity.kurtosis(np.array([1.0, -1.0] * 5)) == pytest.approx(1.0)
    assert math.isnan(sparsity.kurtosis([2.0, 2.0]))
    assert sparsity.zero_fraction(torch.tensor([[0.0, 0.0], [1.0, 2.0]])) == 0.5


def test_tail_crossing_of_a_laplace_density_is_the_analytic_one():
    b = 0.7
    r = np.geomspace(1e-3, 20, 4000) * b
    laplace = np.exp(-r / b) / b  # |Laplace|, second moment 2 b^2
    gauss = sparsity.half_normal_density(r, 2 * b**2)
    expected = (2 + math.sqrt(4 - 2 * math.log(math.pi))) * b  # u^2 - 4u + 2 ln(pi) = 0
    assert sparsity.tail_crossing(r, laplace, gauss) == pytest.approx(expected, rel=1e-4)
    assert math.isnan(sparsity.tail_crossing(r, gauss, gauss))  # no heavy tail


def test_response_density_integrates_to_one_over_positive_responses():
    values = np.concatenate([np.zeros(50), np.random.default_rng(0).exponential(1.0, 5000)])
    table = sparsity.response_density(values, bins=30)
    assert (table["density"] * table["width"]).sum() == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="two distinct"):
        sparsity.response_density(np.zeros(10))


def test_kernel_distances_and_ei_counts_by_hand():
    afferent = torch.zeros(3, 1, 1, 2)
    afferent[1, 0, 0] = torch.tensor([3.0, 4.0])  # distance to channel 0: sqrt((9 + 16) / 2)
    lateral = torch.zeros(3, 3, 1, 2)
    lateral[:, 1, 0, 0] = torch.tensor([2.0, 0.0, 0.0])  # channel 1 -> channel 0 only
    table = kernels.kernel_distances(afferent, lateral).set_index(["p", "q"])
    assert table.loc[(0, 1), "afferent"] == pytest.approx(math.sqrt(12.5))
    per_target = np.array([math.sqrt(2.0), 0.0, 0.0])  # sqrt(4 / 2) for target 0
    assert table.loc[(0, 1), "lateral"] == pytest.approx(per_target.mean())
    assert table.loc[(0, 1), "lateral_se"] == pytest.approx(per_target.std(ddof=1) / math.sqrt(3))
    assert table.loc[(0, 2), "afferent"] == 0.0 and len(table) == 3
    we, wi = torch.tensor([0.5, 0.05, -0.2]), torch.tensor([-0.3, -0.01, 0.4])
    counts = kernels.ei_count_ratio(we, wi, [0.0, 0.1, 1.0])
    assert counts["n_excitatory"].tolist() == [2, 1, 0] and counts["n_inhibitory"].tolist() == [2, 1, 0]
    assert counts["excitatory"].tolist()[:2] == [0.5, 0.5] and math.isnan(counts["excitatory"].iloc[2])
    e, i, swapped = kernels.oriented_paths(wi, we)
    assert swapped and e is we and i is wi


def test_the_grating_set_has_432_images_and_the_papers_formula():
    images, table = gratings.grating_set(16)
    assert images.shape == (432, 3, 16, 16) and len(table) == 432
    assert (table["orientation"].nunique(), table["frequency"].nunique(), table["phase"].nunique()) == (18, 6, 4)
    assert images.min() >= 0 and images.max() <= 1
    # orientation 0: G = cos(k (y - y0) + phi), constant along x; one cycle over the 4 px side
    g = gratings.grating(4, 0.0, 1.0, 0.0)
    y = torch.arange(4, dtype=torch.float64) - 1.5
    torch.testing.assert_close(g[:, 0], torch.cos(2 * math.pi / 4 * y))
    assert (g == g[:, :1]).all()
    torch.testing.assert_close(gratings.grating(4, math.pi / 2, 1.0, 0.0), g.T)  # rotated by 90 degrees


def test_gosi_of_tuned_and_untuned_units_and_skewness_by_hand():
    theta = np.array(gratings.ORIENTATIONS)
    tuned = np.zeros(18)
    tuned[4] = 2.5
    untuned = np.ones(18)
    result = selectivity.gosi(np.stack([tuned, untuned, np.zeros(18)]), theta)
    assert result[0] == pytest.approx(1.0) and result[1] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(result[2])
    # a cosine tuning r = 1 + cos(2 (theta - t0)): |sum r e^{2i theta}| = 9, sum r = 18
    assert selectivity.gosi(1 + np.cos(2 * (theta - 0.3)), theta)[0] == pytest.approx(0.5)
    # [0, 0, 0, 1]: m2 = 3/16, m3 = (-3/64 + 27/64) / 4 = 3/32
    assert selectivity.skewness([0.0, 0.0, 0.0, 1.0])[0] == pytest.approx((3 / 32) / (3 / 16) ** 1.5)
    # gOSI is taken at the preferred frequency and phase only
    _, table = gratings.grating_set(8)
    responses = np.where((table["frequency"] == 3.0) & (table["phase"] == 0.0)
                         & (table["orientation"] == table["orientation"].iloc[0]), 5.0, 0.1)
    pref = selectivity.grating_selectivity(responses[None], table)
    # 5 at one orientation, 0.1 at the 17 others: |5 + 0.1 (0 - 1)| / (5 + 17 x 0.1)
    assert pref.loc[0, "gosi"] == pytest.approx(4.9 / 6.7) and pref.loc[0, "preferred_orientation"] == 0.0


def test_selectivity_and_sparsity_run_on_untrained_zoo_networks():
    rnn = zoo.load("procedural_eirnn_standard", pretrained=False, train_config={"width": 8})
    images, table = gratings.grating_set(32)
    natural = torch.rand(20, 3, 32, 32)
    result = selectivity.selectivity_table(rnn, images[::8], table.iloc[::8].reset_index(drop=True), natural)
    assert set(zip(result["area"], result["cell"])) == {
        ("area3", "PN"), ("area3", "IG"), ("area3", "OG"), ("area4", "PN"), ("area4", "IG"), ("area4", "OG")}
    assert len(result) == 8 + 2 + 2 + 16 + 4 + 4
    lateral = zoo.load("procedural_lccnn_loop3", pretrained=False)
    steps = sparsity.map_sparsity(lateral, natural)
    assert steps["step"].tolist() == [0, 1, 2, 3] and steps["zero_fraction"].between(0, 1).all()
    densities, crossings = sparsity.response_distribution(lateral, natural, bins=20)
    assert len(crossings) == 4 and set(densities["step"]) == {0, 1, 2, 3}
    # a silent network (every map zero) has no kurtosis: NaN with n_kurtosis 0, zeros 100%
    with torch.no_grad():
        for parameter in lateral.model.parameters():
            parameter.zero_()
    silent = sparsity.map_sparsity(lateral, natural)
    assert silent["kurtosis"].isna().all() and (silent["n_kurtosis"] == 0).all()
    assert (silent["zero_fraction"] == 1).all()
    densities, crossings = sparsity.response_distribution(lateral, natural, bins=20)
    assert densities.empty and crossings["silent"].all() and crossings["crossing"].isna().all()


def test_population_silencing_plugs_into_the_ground_truth_tests():
    rnn = zoo.load("procedural_eirnn_standard_ei", pretrained=False, train_config={"width": 8})
    images, targets = torch.rand(12, 3, 32, 32), torch.arange(12) % 10
    masks = torch.zeros(12, 32, 32, dtype=torch.bool)
    masks[:, 8:24, 8:24] = True
    ablate = populations.silencer(rnn)
    accuracy = analysis.accuracy_under_ablation(rnn, {"original": (images, targets)},
                                                populations.POPULATIONS, [1.0], ablate=ablate)
    assert accuracy["sign"].tolist() == ["excitatory", "excitatory", "inhibitory", "inhibitory"]
    intact = float((rnn.logits(images).argmax(1) == targets).float().mean())
    assert accuracy.loc[accuracy["alpha"] == 0, "accuracy"].tolist() == pytest.approx([intact, intact])
    shares = analysis.attribution_share_under_ablation(rnn, images, masks, targets, ["inhibitory"],
                                                       [0.5], ablate=ablate)
    assert shares["alpha"].tolist() == [0.0, 0.5] and shares["mean"].between(0, 1).all()


def test_a_condition_without_any_attribution_left_is_nan_not_an_error():
    from contextlib import contextmanager

    rnn = zoo.load("procedural_eirnn_standard_ei", pretrained=False, train_config={"width": 8})
    readout = rnn.readout_layer()

    @contextmanager
    def readout_zeroed(sign, alpha):
        saved = readout.weight.detach().clone()
        with torch.no_grad():
            readout.weight.mul_(0.0 if alpha > 0 else 1.0)  # logits = bias: no gradient to the image
        try:
            yield
        finally:
            with torch.no_grad():
                readout.weight.copy_(saved)

    masks = torch.zeros(6, 32, 32, dtype=torch.bool)
    masks[:, :16] = True
    shares = analysis.attribution_share_under_ablation(rnn, torch.rand(6, 3, 32, 32), masks,
                                                       torch.arange(6), ["zeroed"], [1.0],
                                                       ablate=readout_zeroed)
    assert shares["n"].tolist() == [6, 0]
    assert math.isfinite(shares["mean"].iloc[0]) and math.isnan(shares["mean"].iloc[1])
