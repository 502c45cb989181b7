"""Issue 11, silent wrong results and misleading messages: each case reproduced and refused.

Cases 1-3, 6-8 of the issue (checkpoints, case 4, are in test_hub.py; damaged files, case 5,
in test_damaged_files.py; the command line, cases 9-10, in test_cli.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from signseg import dale, data, zoo
from signseg.ablation import ablate, ablated
from signseg.errors import DataNotFoundError, InvalidInputError
from signseg.visualize import VisualizationConfig

DIGITS = [str(digit) for digit in range(10)]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SIGNSEG_DATA", raising=False)


def mnist_tree(tree: Path, classes: list[str], splits=("train",)) -> None:
    """``tree/<split>/<digit>/0.png``: one 28 x 28 image of grey value 10 * digit."""
    for split in splits:
        for name in classes:
            (tree / split / name).mkdir(parents=True)
            Image.new("L", (28, 28), 10 * int(name)).save(tree / split / name / "0.png")


# --------------------------------------------------------------------------- case 1


def test_uint8_images_are_read_as_0_255_not_as_floats():
    model = zoo.load("procedural_resnet8", pretrained=False, seed=0)
    images = torch.randint(0, 256, (3, 3, 32, 32), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    expected = model.logits(images.float() / 255.0)
    assert torch.allclose(model.logits(images), expected, atol=1e-6)
    assert torch.allclose(model.features(images), model.features(images.float() / 255.0),
                          atol=1e-6)
    # before the fix, the same call treated 0-255 as [0, 1] values: far off
    assert (model.logits(images.float()) - expected).abs().max() > 1.0
    with pytest.raises(InvalidInputError, match="torch.int32"):
        model.logits(images.int())


# --------------------------------------------------------------------------- case 2


def test_a_missing_class_folder_is_refused_not_relabelled(tmp_path: Path):
    mnist_tree(tmp_path / "mnist-png", [d for d in DIGITS if d != "3"])
    with pytest.raises(DataNotFoundError, match=r"lacks the class folders \['3'\]") as info:
        data.load("mnist", root=tmp_path, progress=False)
    assert str(tmp_path / "mnist-png") in str(info.value)
    (tmp_path / "mnist-png" / "train" / "3").mkdir()
    Image.new("L", (28, 28), 30).save(tmp_path / "mnist-png" / "train" / "3" / "0.png")
    full = data.load("mnist", root=tmp_path, progress=False)
    assert full.targets.tolist() == list(range(10))  # digit 4 keeps label 4
    assert full.images[:, 0, 0, 0].tolist() == [10 * d for d in range(10)]


def test_an_unknown_class_folder_is_refused(tmp_path: Path):
    mnist_tree(tmp_path / "mnist-png", DIGITS)
    (tmp_path / "mnist-png" / "train" / "x").mkdir()
    Image.new("L", (28, 28), 1).save(tmp_path / "mnist-png" / "train" / "x" / "0.png")
    with pytest.raises(DataNotFoundError, match=r"unknown class folders \['x'\]"):
        data.load("mnist", root=tmp_path, progress=False)


# --------------------------------------------------------------------------- case 3


@pytest.mark.parametrize("units", [(0.7,), (True,), ("0",), 0.7, ()])
def test_visualization_units_must_be_integers(units):
    with pytest.raises(InvalidInputError, match="units"):
        VisualizationConfig(units=units, alphas=(0.5,))


def test_visualization_units_accept_numpy_integers_and_store_ints():
    config = VisualizationConfig(units=(np.int64(2), 5), alphas=(0.5,))
    assert config.units == (2, 5) and all(type(u) is int for u in config.units)
    assert VisualizationConfig.from_dict({"units": [1], "alphas": [1.0]}).units == (1,)


def test_ablate_takes_one_alpha_not_a_list():
    weight = torch.tensor([3.0, -1.0, 2.0, 1.0, -4.0])
    with pytest.raises(InvalidInputError, match="alpha must be a single number"):
        ablate(weight, "positive", [0.5, 1.0])
    with pytest.raises(InvalidInputError, match="alpha must be a single number"):
        ablate(weight, "positive", True)
    assert ablate(weight, "positive", torch.tensor(0.5)).tolist() == [0.0, -1.0, 2.0, 1.0, -4.0]


@pytest.mark.parametrize("units", [True, 0.7, [1.5], "1"])
def test_ablated_units_must_be_integers(units):
    layer = nn.Linear(4, 3)
    before = layer.weight.detach().clone()
    with pytest.raises(InvalidInputError, match="units"):
        with ablated(layer, "", units, "positive", 1.0):
            pass
    assert torch.equal(layer.weight, before)


# --------------------------------------------------------------------------- case 6


@pytest.mark.parametrize("field, value, message", [
    ("generators", ("fourrier",), "unknown \\['fourrier'\\]"),
    ("generators", "fourier", "non-empty list"),
    ("signs", ("both",), "unknown \\['both'\\]"),
    ("variant", "diag", "unknown \\['diag'\\]"),
    ("backend", "jax", "unknown \\['jax'\\]"),
])
def test_visualization_names_are_checked_at_construction(field, value, message, tmp_path):
    with pytest.raises(InvalidInputError, match=f"{field}.*{message}"):
        VisualizationConfig(units=(0,), alphas=(0.5,), **{field: value})
    assert not (tmp_path / "cache").exists()  # nothing was created


# --------------------------------------------------------------------------- case 7


def test_a_tree_lacking_one_split_says_so(tmp_path: Path):
    mnist_tree(tmp_path / "mnist-png", DIGITS, splits=("train",))
    with pytest.raises(DataNotFoundError) as info:
        data.load("mnist", "test", root=tmp_path, download=False, progress=False)
    message = str(info.value)
    assert "has the split folders ['train'] but no 'test' folder" in message
    assert str(tmp_path / "mnist-png" / "test") in message
    assert "holds neither" not in message


def test_data_variable_naming_the_archive_file_says_to_name_its_folder(tmp_path, monkeypatch):
    archive = tmp_path / "mnist-png.tar.gz"
    archive.write_bytes(b"")
    monkeypatch.setenv("SIGNSEG_DATA", str(archive))
    with pytest.raises(DataNotFoundError, match="names a file") as info:
        data.load("mnist", "test", download=False, progress=False)
    assert f"use {str(tmp_path)!r} instead" in str(info.value)


def test_a_folder_that_does_not_exist_is_named_as_such(tmp_path: Path):
    with pytest.raises(DataNotFoundError, match="does not exist"):
        data.load("mnist", "test", root=tmp_path / "nowhere", download=False)


# --------------------------------------------------------------------------- case 8


def test_empty_weight_is_reported_as_empty():
    with pytest.raises(InvalidInputError, match="empty"):
        dale.dale_index(torch.empty(0, 3, 3, 3))
    with pytest.raises(InvalidInputError, match="empty"):
        dale.dale_index(torch.empty(4, 0))


def test_integer_conv_weight_is_averaged_like_floats():
    weight = torch.tensor([[[[1, 1], [1, -5]]], [[[2, 2], [2, 2]]], [[[-1, -1], [0, 0]]]])
    # spatial means: -0.5, 2, -0.5 -> one input channel, 1 positive of 3 -> Dale index 2/3
    assert dale.dale_index(weight).tolist() == pytest.approx([2 / 3])
    assert torch.equal(dale.dale_index(weight), dale.dale_index(weight.double()))
    with pytest.raises(InvalidInputError, match="real numbers"):
        dale.dale_index(torch.ones(2, 2, dtype=torch.bool))


def test_dale_table_takes_one_layer_name_as_a_string():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    table = dale.dale_table(model, layers="2")
    assert table["layer"].tolist() == ["2"]
    assert table["dale_index"].iloc[0] == pytest.approx(dale.layer_dale_index(model[2].weight))
    with pytest.raises(InvalidInputError, match=r"\['fc'\]"):
        dale.dale_table(model, layers="fc")


def test_readout_comparison_checks_shapes():
    good = torch.randn(10, 5)
    with pytest.raises(InvalidInputError, match=r"trained \[10, 5\] and untrained \[10, 6\]"):
        dale.readout_comparison({"m": good}, {"m": torch.randn(10, 6)})
    with pytest.raises(InvalidInputError, match="2-D"):
        dale.readout_comparison({"m": torch.randn(10)}, {"m": torch.randn(10)})
    table = dale.readout_comparison({"m": good}, {"m": -good})
    assert table["trained"].iloc[0] == pytest.approx(table["untrained"].iloc[0])
