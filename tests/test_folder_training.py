"""Training torchvision architectures on an ImageNet-layout folder (the paper's ReLU/Tanh ResNet-18)."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from signseg import folder_training
from signseg.errors import DataNotFoundError, InvalidInputError
from signseg.folder_training import FolderTrainConfig, activation_variant, load_trained, train_on_folder

TINY = FolderTrainConfig(epochs=2, batch_size=4, lr=0.01, image_size=32, workers=0)


def _folder(root, classes=("n01", "n02"), per_class=4, val_classes=None):
    rng = np.random.default_rng(0)
    for split, names in (("train", classes), ("val", val_classes or classes)):
        for k, name in enumerate(names):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 60, (40, 40, 3)) + 150 * k  # class 1 is brighter
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


def test_tanh_variant_replaces_every_relu_including_reused_ones() -> None:
    from torchvision.models import resnet18

    model = activation_variant(resnet18(num_classes=3), "tanh")
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    # BasicBlock calls self.relu twice: both calls now go through tanh, bounded in (-1, 1)
    block = model.layer1[0]
    assert isinstance(block.relu, nn.Tanh)
    out = block(torch.randn(1, 64, 8, 8) * 50)
    assert out.abs().max() <= 1  # the block ends in tanh(bn2(conv2(.)) + identity)
    assert activation_variant(resnet18(num_classes=3), "relu").relu.__class__ is nn.ReLU
    with pytest.raises(InvalidInputError, match="activation"):
        activation_variant(resnet18(), "gelu")


def test_training_streams_the_folder_checkpoints_every_epoch_and_resumes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    root = _folder(tmp_path / "imagenet")

    def interrupt(epoch, row):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_on_folder("resnet18", "tanh", root, TINY, progress=False, callback=interrupt)
    seen = []
    run = train_on_folder("resnet18", "tanh", root, TINY, progress=False,
                          callback=lambda epoch, row: seen.append(epoch))
    assert seen == [2]  # epoch 1 was not trained again
    assert run.history["epoch"].tolist() == [0, 1, 2] and not run.cached
    assert run.classes == ["n01", "n02"] and 0 <= run.top1 <= 100
    again = train_on_folder("resnet18", "tanh", root, TINY, progress=False)
    assert again.cached and again.directory == run.directory
    model = load_trained("resnet18", "tanh", root, TINY, progress=False)
    assert model.name == "resnet18_tanh_folder" and model.entry.activation == "tanh"
    assert model.readout_weight().shape == (2, 512) and model.accuracy == run.top1
    assert model.logits(torch.rand(2, 3, 40, 40)).shape == (2, 2)


def test_relu_and_tanh_runs_and_different_data_are_cached_apart(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    root = _folder(tmp_path / "a")
    one = FolderTrainConfig(epochs=1, batch_size=8, image_size=32, workers=0)
    relu = train_on_folder("resnet18", "relu", root, one, progress=False)
    tanh = train_on_folder("resnet18", "tanh", root, one, progress=False)
    other = train_on_folder("resnet18", "relu", _folder(tmp_path / "b", per_class=3), one, progress=False)
    assert len({relu.directory, tanh.directory, other.directory}) == 3


def test_bad_folders_name_what_is_wrong(tmp_path) -> None:
    with pytest.raises(DataNotFoundError, match="no train/ folder"):
        folder_training.folder_classes(tmp_path)
    root = _folder(tmp_path / "x", val_classes=("n01", "n03"))
    with pytest.raises(InvalidInputError, match="different class folders"):
        folder_training.folder_classes(root)
    with pytest.raises(InvalidInputError, match="epochs"):
        FolderTrainConfig(epochs=0)


def test_standin_image_folder_has_the_imagenet_layout(tmp_path) -> None:
    from signseg import standins

    root = standins.write_image_folder(tmp_path / "in", classes=3, per_class=2)
    assert folder_training.folder_classes(root) == ["n00000000", "n00000001", "n00000002"]
    assert len(list((root / "val" / "n00000002").glob("*.JPEG"))) == 2
