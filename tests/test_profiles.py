"""Profiles are data; the paper's tables are on record verbatim."""

import pytest

from signseg import profiles, reference
from signseg.errors import UnknownNameError


def test_bundled_profiles_and_parameters():
    assert profiles.names() == ["ci", "paper", "quick"]
    params = profiles.parameters("ci", "01_dale_index")
    assert params["profile"] == "ci"
    assert {"procedural", "tiny-imagenet"} <= set(params["train"])
    assert all(name.startswith("tinyimagenet_") for name in params["models"])
    for pair in params["bn_pairs"]:
        assert pair[1] == pair[0] + "_bn" and set(pair) <= set(params["models"])


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
