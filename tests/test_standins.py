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
        {"robust": {"resnet50": 0, "resnet50_linf8": 8, "cifar10_resnet20": 1},
         "options": {"densenet121": {"alexnet": "vgg11"}}},
    ]
    assert standins.required_standins(params) == (
        ["alexnet", "resnet50", "vgg16", "resnet50_linf8", "densenet121", "vgg11"],
        ["deepsim-fc6", "biggan-deep-256"])


def test_challenge_standins_are_read_from_the_cache_through_the_challenge_loaders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from signseg import cache
    from signseg.data import challenges, cueconflict

    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SIGNSEG_DATA", raising=False)

    def offline(url, dst, progress=True):
        raise AssertionError(f"no download expected: {url}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    params = [{"cue_conflict": {"source": "geirhos", "images": 4}},
              {"background_challenge": {"source": "xiao"}, "other": [{"source": "tiny-imagenet"}]}]
    sources = standins.required_challenges(params)
    assert sources == ["geirhos", "xiao"]
    written = standins.write_challenges(cache.cache_dir("data"), sources, seed=2)
    assert [p.relative_to(tmp_path / "cache" / "data").as_posix() for p in written] == [
        "cue-conflict/cue-conflict.tar.gz", "bg-challenge/backgrounds_challenge_data.tar.gz",
        "bg-challenge/in_to_in9.json"]

    cues = challenges.cue_conflict_set("geirhos", options={"progress": False})
    assert cues.description.startswith("Geirhos et al.'s 17 cue-conflict images")
    names = standins.cue_conflict_stimuli(1)
    for index, name in enumerate(sorted(names, key=lambda n: (cueconflict.parse_name(n)[0], n))):
        shape, _, texture, _ = cueconflict.parse_name(name)
        assert cues.stimuli.classes[cues.stimuli.targets[index]] == shape
        assert cues.stimuli.classes[cues.stimuli.meta["texture"][index]] == texture
        assert int(cues.stimuli.images[index, 1, 7, 7]) == names[name]  # PNG: exact

    backgrounds = challenges.background_sets(
        "xiao", options={"variants": ["original", "mixed_rand"], "progress": False})
    assert backgrounds.description == "Xiao et al.'s backgrounds challenge (IN-9, 2 variants)"
    for variant, value in (("original", 20), ("mixed_rand", 140)):  # 6th of the 8 variants
        images = backgrounds.stimuli[variant]
        assert images.targets.tolist() == list(range(9))
        grey = images.images[:, 0, 100, 100].int()
        assert (grey - torch.tensor([value + 2 * label for label in range(9)])).abs().max() <= 1
    mapping = standins.in9_mapping(seed=2)
    assert set(mapping) == {str(i) for i in range(1000)} and set(mapping.values()) == set(range(-1, 9))
    logits = torch.zeros(3, 1000)
    logits[[0, 1, 2], [0, 500, 999]] = 1.0
    assert backgrounds.rule(logits).tolist() == [mapping["0"], mapping["500"], mapping["999"]]

    again = standins.write_challenges(tmp_path / "again", ["xiao", "geirhos"], seed=2)
    assert [p.read_bytes() for p in again] == [written[i].read_bytes() for i in (1, 2, 0)]
    with pytest.raises(InvalidInputError, match="never over real weights"):
        standins.write_challenges(cache.cache_dir("data"), ["geirhos"])
    with pytest.raises(InvalidInputError, match="'tiny-imagenet'"):
        standins.write_challenges(tmp_path / "other", ["tiny-imagenet"])
