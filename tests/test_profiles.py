"""Profiles are data; the paper's tables are on record verbatim."""

import pytest

from signseg import profiles, reference
from signseg.errors import InvalidInputError, UnknownNameError


def test_bundled_profiles_and_parameters():
    assert profiles.names() == ["ci", "paper", "quick"]
    params = profiles.parameters("ci", "01_dale_index")
    assert params["profile"] == "ci"
    assert "procedural" in params["train"]
    assert all(name.startswith("procedural_") for name in params["models"])
    for pair in params["bn_pairs"]:
        assert pair[1] == pair[0] + "_bn" and set(pair) <= set(params["models"])
    for name in profiles.names():  # the Dale notebook takes the tracked model from `models`
        params = profiles.parameters(name, "01_dale_index")
        assert params["dynamics_model"] in params["models"], name


def test_overrides_merge_recursively_into_the_parameters():
    base = profiles.parameters("paper", "02_ablation")
    params = profiles.parameters("paper", "02_ablation", {
        "train": {"cifar10": {"epochs": 2}},
        "visualization": {"units": [0], "iterations": 2},
        "model": "resnet18",
        "new_key": [1, 2],
    })
    assert params["train"]["cifar10"] == {**base["train"]["cifar10"], "epochs": 2}
    assert params["train"]["procedural"] == base["train"]["procedural"]
    assert params["visualization"] == {**base["visualization"], "units": [0], "iterations": 2}
    assert (params["model"], params["new_key"]) == ("resnet18", [1, 2])
    assert profiles.parameters("paper", "02_ablation") == base  # the profile is untouched
    assert profiles.merge({"a": {"b": 1}}, {"a": 5}) == {"a": 5}
    assert profiles.merge({"a": [1, 2]}, {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert profiles.merge({"a": 1}, None) == {"a": 1}
    with pytest.raises(InvalidInputError, match="profile"):
        profiles.parameters("ci", "02_ablation", {"profile": "paper"})
    with pytest.raises(InvalidInputError, match="mapping"):
        profiles.parameters("ci", "02_ablation", [("seed", 1)])


def test_every_profile_names_known_models():
    from signseg import zoo

    known = set(zoo.names())
    for name in profiles.names():
        for section in profiles.load(name)["notebooks"].values():
            assert set((section or {}).get("models", [])) <= known


def test_unknown_profile_and_notebook():
    with pytest.raises(UnknownNameError, match="Did you mean 'quick'"):
        profiles.parameters("quik", "01_dale_index")
    with pytest.raises(UnknownNameError, match="no section for notebook"):
        profiles.parameters("ci", "99_missing")


def test_paper_tables_verbatim():
    table3 = reference.paper_table(3).set_index("model")
    assert len(table3) == 18
    assert table3.loc["resnet50", "trained"] == 0.6004
    assert table3.loc["resnet50", "top1"] == 80.86
    # the recorded deltas are consistent with the recorded values
    assert ((table3["trained"] - table3["untrained"] - table3["delta"]).abs() < 1.5e-4).all()
    table1 = reference.paper_table(1).set_index("alpha")
    assert table1.loc[0.7, "positive_rho"] == -0.51 and table1.loc[0.7, "negative_rho"] == -0.52
    assert reference.paper_table(2).set_index("model").loc["alexnet", "mean"] == 1.03
    with pytest.raises(UnknownNameError):
        reference.paper_table(4)


def test_beside_paper_keeps_unmatched_rows():
    import pandas as pd

    computed = pd.DataFrame({"model": ["resnet18", "mine"], "trained": [0.6, 0.7]})
    merged = reference.beside_paper(computed, 3, columns=["trained"])
    assert merged.loc[0, "diff_trained"] == pytest.approx(0.6 - 0.5905)
    assert pd.isna(merged.loc[1, "paper_trained"])
