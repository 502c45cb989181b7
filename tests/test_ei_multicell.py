"""Multi-cell E-I convolutional RNNs: shapes, parameter counts, Dale's law under training,
the InhPN and NoConstraint variants, connection density and population silencing."""

import math

import pytest
import torch

from signseg import zoo
from signseg.ei import connectivity, multicell, populations
from signseg.errors import InvalidInputError

VARIANTS = ["eirnn_standard", "eirnn_standard_ei", "eirnn_inhpn", "eirnn_noconstraint"]


def _separable(cin: int, cout: int) -> int:
    return cin * 9 + cout * cin + cout  # depthwise + pointwise + bias


def _area_count(cin: int, pn: int, it: int, cell_model: str, steps: int = 4) -> int:
    if cell_model == "standard":
        count = (2 * _separable(cin, pn) + _separable(pn, pn) * 2  # X->PN, X->f, PN->PN, PN->f
                 + 2 * (_separable(cin, it) + _separable(pn, it))  # X->IG/OG, PN->IG/OG
                 + 2 * _separable(it, pn))  # IG->PN, OG->PN
    else:
        count = (_separable(cin, pn) + _separable(pn, pn) + _separable(it, pn)
                 + _separable(cin, it) + _separable(pn, it) + _separable(it, it) + pn + it)
    return count + 2 * pn  # shared batch-norm scale and shift


@pytest.mark.parametrize("name", VARIANTS)
def test_shapes_and_parameter_counts(name):
    model = zoo.build(f"cifar10_{name}", width=8)
    cell = "standard_ei" if name.endswith("standard_ei") else "standard"
    expected = ((3 * 9 * 2 + 2) + (2 * 9 * 4 + 4)  # feed-forward areas: 2 and 4 channels
                + _area_count(4, 8, 2, cell) + _area_count(8, 16, 4, cell)
                + (16 * 4 * 4 * 10 + 10))  # readout of area 4's 16 PN on a 4 x 4 map
    assert sum(p.numel() for p in model.parameters()) == expected
    x = torch.rand(3, 3, 32, 32)
    assert model(x).shape == (3, 10)
    responses = model.responses(x)
    assert len(responses["area3"]) == len(responses["area4"]) == multicell.STEPS
    types = {"PN", "IG", "OG"} if cell == "standard" else {"E", "I"}
    assert types <= set(responses["area4"][-1])
    assert responses["area3"][0][model.area3.principal_type].shape == (3, 8, 16, 16)
    assert responses["area4"][0][model.area4.principal_type].shape == (3, 16, 8, 8)
    assert zoo.info(f"cifar10_{name}").default_width == multicell.PAPER_WIDTH == 64


def _signs(model):
    """Sign of every composed recurrent kernel: +1, -1 or 0 (mixed)."""
    result = {}
    for area_name, area in model.areas().items():
        for name in area.paths:
            kernel = area.connection(name).kernel()
            result[f"{area_name}:{name}"] = 1 if (kernel >= 0).all() else -1 if (kernel <= 0).all() else 0
    return result


def test_dale_law_holds_after_an_optimizer_step():
    torch.manual_seed(0)
    model = zoo.build("procedural_eirnn_standard_ei", width=8).train()
    raw = {n: p.detach().clone() for n, p in model.named_parameters() if "pointwise" in n}
    assert _signs(model)["area3:I->E"] == -1 and _signs(model)["area3:E->I"] == 1
    before = _signs(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=5.0)  # large: many raw weights change sign
    loss = torch.nn.functional.cross_entropy(model(torch.rand(8, 3, 32, 32)), torch.arange(8))
    loss.backward()
    optimizer.step()
    flipped = sum(int(((raw[n] > 0) != (p.detach() > 0)).sum()) for n, p in model.named_parameters()
                  if "pointwise" in n)
    assert flipped > 0  # the trained variables W~ changed sign ...
    assert _signs(model) == before  # ... the weights |W~| with their fixed signs did not
    assert 0 not in before.values()


def test_inhpn_flips_local_signs_and_noconstraint_frees_them():
    inhpn = _signs(zoo.build("cifar10_eirnn_inhpn", width=8))
    assert inhpn["area4:PN->PN"] == -1 and inhpn["area4:PN->IG"] == -1
    assert inhpn["area4:IG->PN"] == -1 and inhpn["area4:X->PN"] == 1  # long range stays excitatory
    standard = _signs(zoo.build("cifar10_eirnn_standard", width=8))
    assert standard["area4:PN->PN"] == 1 and standard["area4:IG->PN"] == 1
    free = _signs(zoo.build("cifar10_eirnn_noconstraint", width=8))
    assert set(free.values()) == {0}


def test_connection_density_counts_weights_above_exp_minus_10():
    conv = multicell.SignedSeparableConv(2, 2, sign=1, constrained=False)
    with torch.no_grad():
        conv.depthwise.fill_(1.0)  # spatial mean of the composed kernel = pointwise weight
        conv.pointwise.copy_(torch.tensor([[1.0, 1e-5], [-2e-4, 0.0]])[:, :, None, None])
    matrix = connectivity.connection_matrix(conv)
    torch.testing.assert_close(matrix, torch.tensor([[1.0, 1e-5], [-2e-4, 0.0]]))
    assert connectivity.DENSITY_THRESHOLD == pytest.approx(math.exp(-10))  # 4.54e-5
    assert connectivity.connection_density(matrix) == 0.5
    table = connectivity.density_table(zoo.build("cifar10_eirnn_standard", width=8))
    assert len(table) == 2 * 10 and set(table["target"]) == {"PN", "IG", "OG"}
    assert table.loc[table["connection"] == "IG->PN", "target"].tolist() == ["PN", "PN"]


def test_silencing_cuts_the_strongest_inputs_of_one_population_and_restores_them():
    model = zoo.build("cifar10_eirnn_standard_ei", width=8)
    area = model.area4
    assert populations.principal_inputs(area, "excitatory") == ["X->E", "E->E"]
    assert populations.principal_inputs(area, "inhibitory") == ["I->E"]
    assert populations.principal_inputs(zoo.build("cifar10_eirnn_inhpn", width=8).area4,
                                        "inhibitory") == ["PN->PN"]
    x = torch.rand(2, 3, 32, 32)
    model.eval()
    intact = model(x)
    with populations.silenced(model, "excitatory", 1.0) as cut:
        assert cut == {"area4:X->E": 16 * 8, "area4:E->E": 16 * 16}
        assert not area.connection("E->E").keep.any() and area.connection("I->E").keep.all()
    with populations.silenced(model, "inhibitory", 0.0) as cut:
        assert cut == {"area4:I->E": 0}
        torch.testing.assert_close(model(x), intact)
    # half of one target's inhibitory strength: its strongest connections first
    strengths = area.connection("I->E").kernel().abs().sum(dim=(2, 3))[0]
    order = strengths.argsort(descending=True)
    needed = int((strengths[order].cumsum(0) / strengths.sum() < 0.5 - 1e-6).sum()) + 1
    with populations.silenced(model, "inhibitory", 0.5):
        kept = area.connection("I->E").keep[0]
        assert sorted(torch.nonzero(kept == 0).flatten().tolist()) == sorted(order[:needed].tolist())
    assert area.connection("E->E").keep.all() and area.connection("I->E").keep.all()
    torch.testing.assert_close(model(x), intact)
    with pytest.raises(InvalidInputError, match="population"):
        populations.principal_inputs(area, "both")
