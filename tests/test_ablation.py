"""Tests of signseg.ablation: hand-worked cases, an exact-arithmetic reference, models."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
from torch import nn

from signseg.ablation import (
    ablate,
    ablated,
    ablation_mask,
    ablation_sweep,
    evaluate_conditions,
    readout_conditions,
    sign_ratio,
    sweep_masks,
)
from signseg.errors import InvalidInputError

W = torch.tensor([3.0, -1.0, 2.0, 1.0, -4.0])


def reference_mask(row: list[float], sign: str, alpha: float) -> list[bool]:
    """The paper's definition in exact rational arithmetic (ties: lower index first)."""
    members = [i for i, w in enumerate(row) if (w > 0 if sign == "positive" else w < 0)]
    members.sort(key=lambda i: (-abs(row[i]), i))
    total = sum(Fraction(abs(row[i])) for i in members)
    target = Fraction(alpha)
    removed: set[int] = set()
    cumulative = Fraction(0)
    for i in members:
        if cumulative >= target * total:
            break
        cumulative += Fraction(abs(row[i]))
        removed.add(i)
    return [i in removed for i in range(len(row))]


# --------------------------------------------------------------------------- hand-worked


@pytest.mark.parametrize(
    ("sign", "alpha", "expected"),
    [
        ("positive", 0.0, [3, -1, 2, 1, -4]),
        ("positive", 0.5, [0, -1, 2, 1, -4]),  # 3 / 6 = 0.5 exactly: only the 3
        ("positive", 0.51, [0, -1, 0, 1, -4]),  # 3 / 6 < 0.51 <= 5 / 6
        ("positive", 5 / 6, [0, -1, 0, 1, -4]),  # on the second boundary
        ("positive", 0.84, [0, -1, 0, 0, -4]),
        ("positive", 1.0, [0, -1, 0, 0, -4]),
        ("negative", 0.8, [3, -1, 2, 1, 0]),  # 4 / 5 = 0.8 exactly: only the -4
        ("negative", 0.81, [3, 0, 2, 1, 0]),
        ("negative", 1.0, [3, 0, 2, 1, 0]),
    ],
)
def test_hand_worked_cases(sign: str, alpha: float, expected: list[float]) -> None:
    assert ablate(W, sign, alpha).tolist() == expected


def test_input_is_never_modified_and_result_is_a_copy() -> None:
    weight = W.clone().requires_grad_(True)
    out = ablate(weight, "positive", 1.0)
    assert torch.equal(weight.detach(), W)
    assert not out.requires_grad
    out[1] = 123.0
    assert weight[1].item() == -1.0


def test_ties_remove_lower_input_index_first() -> None:
    w = torch.tensor([1.0, 2.0, 2.0, 1.0])  # total 6
    assert ablate(w, "positive", 0.3).tolist() == [1, 0, 2, 1]  # 2/6 >= 0.3
    assert ablate(w, "positive", 0.5).tolist() == [1, 0, 0, 1]  # 4/6 >= 0.5
    assert ablate(w, "positive", 0.7).tolist() == [0, 0, 0, 1]  # 5/6: the first 1 goes
    assert ablate(torch.tensor([2.0, 2.0]), "positive", 0.5).tolist() == [0, 2]


def test_float32_boundaries_despite_inexact_decimals() -> None:
    # float32 0.7 is 0.69999998...: without the tolerance both weights would go.
    assert ablate(torch.tensor([0.7, 0.3]), "positive", 0.7).tolist() == pytest.approx([0, 0.3])
    tenths = ablate(torch.full((10,), 0.1), "positive", 0.3)
    assert (tenths == 0).sum().item() == 3
    assert (tenths[:3] == 0).all()


def test_alpha_one_removes_a_negligible_tail_too() -> None:
    w = torch.tensor([1.0, 1e-30], dtype=torch.float64)
    assert ablate(w, "positive", 1.0).tolist() == [0, 0]
    assert ablate(w, "positive", 0.999).tolist() == [0, 1e-30]


def test_rows_without_that_sign_and_zeros_are_untouched() -> None:
    w = torch.tensor([[-1.0, -2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, -1.0]])
    out = ablate(w, "positive", 1.0)
    assert torch.equal(out[:2], w[:2])
    assert out[2].tolist() == [0, 0, -1]
    assert ablation_mask(w, "negative", 1.0).tolist() == [
        [True, True, False], [False, False, False], [False, False, True]
    ]


def test_rows_are_ablated_independently() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 9, generator=g)
    out = ablate(w, "negative", 0.45)
    for r in range(6):
        assert torch.equal(out[r], ablate(w[r], "negative", 0.45))


@pytest.mark.parametrize("sign", ["positive", "negative"])
def test_agrees_with_exact_reference_on_random_weights(sign: str) -> None:
    g = torch.Generator().manual_seed(1)
    w = torch.randn(40, 25, generator=g, dtype=torch.float64)
    alphas = [i / 10 for i in range(11)] + [0.05, 0.333, 0.999]
    masks = sweep_masks(w, sign, alphas)
    for a, alpha in enumerate(alphas):
        for r in range(w.shape[0]):
            assert masks[a, r].tolist() == reference_mask(w[r].tolist(), sign, alpha)


def test_removed_fraction_is_the_smallest_prefix_reaching_alpha() -> None:
    g = torch.Generator().manual_seed(2)
    w = torch.randn(30, 50, generator=g, dtype=torch.float64)
    for alpha in (0.1, 0.35, 0.7, 0.9):
        mask = ablation_mask(w, "positive", alpha)
        positive_total = w.clamp(min=0).sum(dim=1)
        removed = torch.where(mask, w, 0).sum(dim=1)
        smallest_removed = torch.where(mask, w, torch.inf).min(dim=1).values
        assert (removed / positive_total >= alpha).all()
        assert ((removed - smallest_removed) / positive_total < alpha).all()
        # every removed weight is at least as large as every kept positive weight
        largest_kept = torch.where(~mask & (w > 0), w, 0).max(dim=1).values
        assert (smallest_removed >= largest_kept).all()


def test_sweep_masks_equals_one_mask_per_alpha_and_is_nested() -> None:
    g = torch.Generator().manual_seed(3)
    w = torch.randn(7, 13, generator=g)
    alphas = [0.0, 0.2, 0.5, 0.8, 1.0]
    masks = sweep_masks(w, "positive", alphas)
    assert masks.shape == (5, 7, 13)
    for a, alpha in enumerate(alphas):
        assert torch.equal(masks[a], ablation_mask(w, "positive", alpha))
    assert not masks[0].any()
    assert torch.equal(masks[-1], w > 0)
    assert (masks[:-1] <= masks[1:]).all()  # stronger ablation removes a superset


def test_ablation_sweep_equals_ablate_per_condition_in_order() -> None:
    g = torch.Generator().manual_seed(4)
    w = torch.randn(5, 11, generator=g)
    before = w.clone()
    sweep = list(ablation_sweep(w, ["negative", "positive"], [0.0, 0.7, 1.0]))
    assert [(s, a) for s, a, _ in sweep] == [(s, a) for s in ("negative", "positive") for a in (0.0, 0.7, 1.0)]
    for sign, alpha, ablated_weight in sweep:
        assert torch.equal(ablated_weight, ablate(w, sign, alpha))
    assert torch.equal(w, before)
    with pytest.raises(InvalidInputError, match="signs is empty"):
        list(ablation_sweep(w, [], [0.5]))


@pytest.mark.parametrize(
    ("weight", "sign", "alpha", "message"),
    [
        (W, "positive", -0.1, "alpha must lie in"),
        (W, "positive", 1.1, "alpha must lie in"),
        (W, "positive", float("nan"), "NaN"),
        (torch.tensor([1.0, float("nan")]), "positive", 0.5, "NaN"),
        (torch.tensor([1.0, float("inf")]), "positive", 0.5, "infinite"),
        (torch.ones(2, 2, 2), "positive", 0.5, "1-D weight vector or a 2-D"),
        (torch.ones(3), "pos", 0.5, "sign must be one of"),
        (torch.ones(3, dtype=torch.long), "positive", 0.5, "floating-point"),
    ],
)
def test_invalid_inputs(weight: torch.Tensor, sign: str, alpha: float, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ablate(weight, sign, alpha)


# --------------------------------------------------------------------------- readout conditions


def tiny_classifier() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5))


def test_readout_conditions_layout() -> None:
    net = tiny_classifier()
    weight, bias = net[2].weight, net[2].bias
    alphas = [0.0, 0.5, 1.0]
    w_cond, b_cond, conditions = readout_conditions(weight, bias, [3, 1], ["positive", "negative"],
                                                    alphas)
    assert w_cond.shape == (12, 8) and b_cond.shape == (12,)
    assert list(conditions.columns) == ["unit", "sign", "alpha"]
    assert conditions.iloc[0].tolist() == [3, "positive", 0.0]
    assert conditions.iloc[4].tolist() == [3, "negative", 0.5]
    assert conditions.iloc[11].tolist() == [1, "negative", 1.0]
    for k, row in conditions.iterrows():
        assert torch.equal(w_cond[k], ablate(weight[row.unit], row.sign, row.alpha))
        assert b_cond[k] == bias[row.unit]
    _, zero_bias, _ = readout_conditions(weight, None, [0], "positive", [0.5])
    assert zero_bias.tolist() == [0.0]


def test_evaluate_conditions_matches_running_the_ablated_model() -> None:
    net = tiny_classifier()
    images = torch.randn(10, 6, generator=torch.Generator().manual_seed(4))
    features = net[:2](images)
    w_cond, b_cond, conditions = readout_conditions(
        net[2].weight, net[2].bias, [0, 4], ["positive", "negative"], [0.0, 0.3, 0.7, 1.0])
    batched = evaluate_conditions(features, w_cond, b_cond)
    assert batched.shape == (10, len(conditions))
    with torch.no_grad():
        for k, row in conditions.iterrows():
            with ablated(net, "2", [row.unit], row.sign, row.alpha):
                full = net(images)[:, row.unit]
            torch.testing.assert_close(batched[:, k], full)
    index = torch.tensor([0, 3, 5, 7, 15, 2, 9, 9, 1, 14])
    per_image = evaluate_conditions(features, w_cond, b_cond, index)
    torch.testing.assert_close(per_image, batched[torch.arange(10), index])


def test_evaluate_conditions_rejects_mismatched_shapes() -> None:
    with pytest.raises(InvalidInputError, match="same F"):
        evaluate_conditions(torch.ones(2, 3), torch.ones(4, 5), torch.ones(4))
    with pytest.raises(InvalidInputError, match="b_cond"):
        evaluate_conditions(torch.ones(2, 3), torch.ones(4, 3), torch.ones(3))
    with pytest.raises(InvalidInputError, match="condition_index entries"):
        evaluate_conditions(torch.ones(2, 3), torch.ones(4, 3), torch.ones(4), torch.tensor([0, 4]))
    with pytest.raises(InvalidInputError, match="unit indices"):
        readout_conditions(torch.ones(4, 3), None, [4], "positive", [0.5])


# --------------------------------------------------------------------------- in place on a model


def test_ablated_conv_uses_flattened_kernels_and_restores_bit_exactly() -> None:
    torch.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1))
    conv = net[0]
    original = conv.weight.detach().clone()
    with ablated(net, "0", [1, 3], "positive", 0.6) as mask:
        inside = conv.weight.detach().clone()
    assert torch.equal(conv.weight, original)
    assert mask.shape == original.shape
    for c in range(4):
        expected = original[c]
        if c in (1, 3):
            expected = ablate(original[c].reshape(-1), "positive", 0.6).reshape(3, 3, 3)
        assert torch.equal(inside[c], expected)
    assert torch.equal(mask, inside != original)


def test_ablated_restores_after_an_exception_and_accepts_a_module() -> None:
    net = tiny_classifier()
    original = net[2].weight.detach().clone()
    with pytest.raises(RuntimeError, match="boom"):
        with ablated(net, net[2], None, "negative", 1.0):
            assert (net[2].weight >= 0).all()
            raise RuntimeError("boom")
    assert torch.equal(net[2].weight, original)


def test_ablated_changes_only_the_requested_units_and_bias_untouched() -> None:
    net = tiny_classifier()
    weight, bias = net[0].weight.detach().clone(), net[0].bias.detach().clone()
    with ablated(net, "0", 2, "positive", 1.0):
        changed = (net[0].weight != weight).any(dim=1)
        assert changed.tolist() == [i == 2 for i in range(8)]
        assert torch.equal(net[0].bias, bias)


def test_ablated_rejects_unknown_or_unsupported_layers() -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    with pytest.raises(InvalidInputError, match="no layer named"):
        with ablated(net, "fc", [0], "positive", 0.5):
            pass
    with pytest.raises(InvalidInputError, match="BatchNorm1d"):
        with ablated(net, "1", [0], "positive", 0.5):
            pass
    with pytest.raises(InvalidInputError, match="not part of the model"):
        with ablated(net, nn.Linear(3, 3), [0], "positive", 0.5):
            pass


# --------------------------------------------------------------------------- Table 2


def test_sign_ratio() -> None:
    weight = torch.stack([W, torch.tensor([1.0, 2.0, 0.0, 0.0, 0.0]), torch.zeros(5)])
    ratio = sign_ratio(weight)
    assert ratio[0].item() == pytest.approx(6 / 5)
    assert ratio[1].item() == float("inf")
    assert torch.isnan(ratio[2])
    conv = torch.tensor([[[[1.0, -2.0]], [[3.0, -1.0]]]])  # [1, 2, 1, 2]
    assert sign_ratio(conv).tolist() == [pytest.approx(4 / 3)]
    with pytest.raises(InvalidInputError):
        sign_ratio(W)
