"""Stand-in checkpoints load through the real loaders under their published names."""

from pathlib import Path

import pytest
import torch

from signseg import standins, zoo
from signseg.errors import InvalidInputError


@pytest.fixture
def hub_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")  # random weights: hashes differ
    return tmp_path / "hub" / "checkpoints"


def test_torchvision_standins_load_through_the_zoo(hub_checkpoints: Path) -> None:
    paths = standins.write_standins(hub_checkpoints, ["resnet18", "densenet121"], lpips=False,
                                    detector=False, seed=3)
    assert [p.name for p in paths] == ["resnet18-f37072fd.pth", "densenet121-a639ec97.pth"]
    saved = torch.load(paths[1], weights_only=True)
    assert "features.denseblock1.denselayer1.norm.1.weight" in saved  # the published key style
    for name in ("resnet18", "densenet121"):
        loaded = zoo.load(name, download=False, progress=False)
        assert loaded.pretrained
        reference = zoo.build(name, seed=3).state_dict()
        for key, value in loaded.model.state_dict().items():
            assert torch.equal(value, reference[key]), (name, key)
    with pytest.raises(InvalidInputError, match="never over real weights"):
        standins.write_torchvision(hub_checkpoints, "resnet18")
    with pytest.raises(InvalidInputError, match="project"):
        standins.write_torchvision(hub_checkpoints, "cifar10_resnet20")


def test_required_standins_are_found_in_nested_parameters() -> None:
    params = [
        {"models": ["alexnet", "cifar10_resnet20", "resnet50"], "data": "ImageNet-1k weights"},
        {"model": "resnet50", "readout_ensemble": ["alexnet", "vgg16"],
         "visualization": {"generators": ["deepsim-fc6", "fourier", "biggan-deep-256"]}},
    ]
    assert standins.required_standins(params) == (
        ["alexnet", "resnet50", "vgg16"], ["deepsim-fc6", "biggan-deep-256"])
