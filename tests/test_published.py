"""Published ResNet-50s (robust, SimSiam): files in the published formats load through the zoo.

Every checkpoint here is written by the test with seeded random weights in exactly the key
layout the authors' code saves (robustness library: ``DataParallel(AttackerModel)``;
SimSiam: ``DistributedDataParallel(SimSiam)`` and ``DistributedDataParallel(resnet50)``),
into a temporary torch hub cache, and read back with ``zoo.load``.
"""

from pathlib import Path

import pytest
import torch
from torchvision.models import resnet50

from signseg import published, standins, zoo
from signseg.errors import DamagedFileError, InvalidInputError, WeightsNotFoundError

# no digest is on record for these files: the loader says so once per file, expectedly here
pytestmark = pytest.mark.filterwarnings("ignore:.*no SHA-256 is on record:UserWarning")

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub checkpoint folder (no digests are on record for these files)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def seeded_resnet50(seed: int) -> torch.nn.Module:
    """A torchvision ResNet-50 with random weights and random batch-norm statistics."""
    torch.manual_seed(seed)
    model = resnet50(weights=None)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.running_mean.normal_(0, 0.1)
                layer.running_var.uniform_(0.5, 1.5)
                layer.weight.uniform_(0.5, 1.5)
    return model.eval()


def robustness_checkpoint(state: dict, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> dict:
    """The robustness library's file, key by key (robustness/attacker.py, train.py)."""
    model = {"module.normalizer.new_mean": mean, "module.normalizer.new_std": std}
    model |= {"module.model." + key: value for key, value in state.items()}
    model |= {"module.attacker.normalize.new_mean": mean, "module.attacker.normalize.new_std": std}
    model |= {"module.attacker.model." + key: value for key, value in state.items()}
    return {"model": model, "optimizer": {"state": {}, "param_groups": []},
            "schedule": {"step_size": 30, "gamma": 0.1}, "epoch": 90}


def test_registry_exposes_regime_epsilon_and_published_top1() -> None:
    assert zoo.names(source="published") == [
        "resnet50_linf0.5", "resnet50_linf1", "resnet50_linf2", "resnet50_linf4",
        "resnet50_linf8", "resnet50_simsiam"]
    # README of microsoft/robust-models-transfer, "Standard Accuracy of Linf-Robust ImageNet Models"
    expected = {0.5: 73.73, 1.0: 72.05, 2.0: 69.10, 4.0: 63.86, 8.0: 54.53}
    for epsilon, top1 in expected.items():
        entry = zoo.info(published.robust_name(epsilon))
        assert (entry.regime, entry.epsilon, entry.top1) == ("adversarial", epsilon, top1)
        assert entry.weights == f"resnet50_linf_eps{epsilon:.1f}.ckpt"
        assert (entry.arch, entry.readout, entry.num_classes) == ("resnet50", "fc", 1000)
        assert (entry.preprocessing.size, entry.preprocessing.resize_size) == (224, 256)
    simsiam = zoo.info("resnet50_simsiam")
    assert (simsiam.regime, simsiam.epsilon, simsiam.top1) == ("simsiam", 0.0, 68.1)
    assert (zoo.info("resnet50").regime, zoo.info("resnet50").epsilon) == ("standard", 0.0)
    assert published.PUBLISHED["resnet50_linf0.5"].files[0][0] == (
        "https://huggingface.co/madrylab/robust-imagenet-models/resolve/main/resnet50_linf_eps0.5.ckpt")


def test_robust_checkpoint_loads_as_the_torchvision_resnet50_it_holds(hub: Path) -> None:
    reference = seeded_resnet50(seed=5)
    # as in files older than batch norm's num_batches_tracked: the loader sets them to 0
    state = {k: v for k, v in reference.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(robustness_checkpoint(state), hub / "resnet50_linf_eps2.0.ckpt")
    loaded = zoo.load("resnet50_linf2", download=False, progress=False)
    assert loaded.pretrained and loaded.accuracy == 69.10 and loaded.classes[1] == "goldfish"
    for key, value in reference.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    # through the zoo's preprocessing: the reference network on the image normalised by hand
    # with ImageNet's statistics (which the checkpoint's own normaliser holds)
    image = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        expected = reference((image - IMAGENET_MEAN) / IMAGENET_STD)
    assert torch.allclose(loaded.logits(image), expected, atol=1e-5)


def test_simsiam_model_is_the_pretrained_backbone_with_the_linear_probe(hub: Path) -> None:
    pretrain, linear = standins.write_standins(hub, ["resnet50_simsiam"], lpips=False,
                                               detector=False, seed=2)
    assert (pretrain.name, linear.name) == (published.SIMSIAM_PRETRAIN_FILENAME,
                                            published.SIMSIAM_LINEAR_FILENAME)
    saved = torch.load(pretrain, weights_only=True, mmap=True)
    probe = torch.load(linear, weights_only=True, mmap=True)
    assert {"epoch", "arch", "state_dict", "optimizer"} <= set(saved)
    assert {"epoch", "arch", "state_dict", "best_acc1", "optimizer"} <= set(probe)
    # simsiam/builder.py: the projector replaces encoder.fc, the predictor sits beside it
    backbone_keys = {k for k in resnet50().state_dict() if not k.startswith("fc.")}
    head = {f"fc.{i}.{p}" for i in (1, 4) for p in ("weight", "bias", "running_mean", "running_var",
                                                     "num_batches_tracked")}
    head |= {"fc.0.weight", "fc.3.weight", "fc.6.weight", "fc.6.bias",
             "fc.7.running_mean", "fc.7.running_var", "fc.7.num_batches_tracked"}
    predictor = {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                 "1.num_batches_tracked", "3.weight", "3.bias"}
    assert set(saved["state_dict"]) == ({"module.encoder." + k for k in backbone_keys | head}
                                        | {"module.predictor." + k for k in predictor})
    assert saved["state_dict"]["module.encoder.fc.6.weight"].shape == (2048, 2048)
    assert set(probe["state_dict"]) == {"module." + k for k in resnet50().state_dict()}

    loaded = zoo.load("resnet50_simsiam", download=False, progress=False)
    reference = resnet50(weights=None).eval()
    reference.load_state_dict(
        {**{k[len("module.encoder."):]: v for k, v in saved["state_dict"].items()
            if k[len("module.encoder."):] in backbone_keys},
         "fc.weight": probe["state_dict"]["module.fc.weight"],
         "fc.bias": probe["state_dict"]["module.fc.bias"]})
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.model(image), reference(image))
    assert torch.equal(loaded.readout_weight(), probe["state_dict"]["module.fc.weight"])
    assert all(not t.is_meta for t in loaded.model.state_dict().values())


def test_robust_standin_has_the_published_key_layout(hub: Path) -> None:
    path = standins.write_robust(hub, "resnet50_linf0.5", seed=0)
    assert path.name == "resnet50_linf_eps0.5.ckpt"
    saved = torch.load(path, weights_only=True)
    expected = robustness_checkpoint(resnet50().state_dict())
    assert set(saved) == set(expected)
    assert list(saved["model"]) == list(expected["model"])  # the library's key order as well
    assert torch.equal(saved["model"]["module.attacker.normalize.new_std"], IMAGENET_STD)
    assert zoo.load("resnet50_linf0.5", download=False, progress=False).accuracy == 73.73
    with pytest.raises(InvalidInputError, match="not a robust"):
        standins.write_robust(hub, "resnet50_simsiam")


def test_required_standins_include_published_models(hub: Path) -> None:
    params = [{"models": ["resnet50", "resnet50_linf8", "tinyimagenet_resnet8"],
               "ssl": "resnet50_simsiam"}]
    models, _ = standins.required_standins(params)
    assert models == ["resnet50", "resnet50_linf8", "resnet50_simsiam"]
    written = standins.write_standins(hub, models[1:2], lpips=False, detector=False)
    assert [p.name for p in written] == ["resnet50_linf_eps8.0.ckpt"]


# --------------------------------------------------------------------------- errors


def small_robust(**changes) -> dict:
    """A robustness-library file whose classifier is one tensor (enough for the checks)."""
    state = {"conv1.weight": torch.zeros(64, 3, 7, 7)}
    checkpoint = robustness_checkpoint(state)
    checkpoint["model"].update(changes)
    return checkpoint


def test_missing_robust_file_names_the_file_folder_and_address(hub: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as error:
        zoo.load("resnet50_linf4", download=False)
    message = str(error.value)
    assert "resnet50_linf_eps4.0.ckpt" in message and str(hub) in message
    assert "https://huggingface.co/madrylab/robust-imagenet-models/resolve/main/" in message


def test_missing_simsiam_files_are_named_together(hub: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as error:
        zoo.load("resnet50_simsiam", download=False)
    message = str(error.value)
    assert published.SIMSIAM_PRETRAIN_FILENAME in message and published.SIMSIAM_LINEAR_FILENAME in message
    assert published.SIMSIAM_PRETRAIN_URL in message and published.SIMSIAM_LINEAR_URL in message


def test_wrong_normaliser_is_refused(hub: Path) -> None:
    cifar = torch.tensor([0.4914, 0.4822, 0.4465])[:, None, None]
    torch.save(small_robust(**{"module.normalizer.new_mean": cifar}), hub / "resnet50_linf_eps1.0.ckpt")
    with pytest.raises(DamagedFileError, match=r"resnet50_linf_eps1\.0\.ckpt.*normalises its input "
                       r"with mean \[0\.49.*download the published file again"):
        zoo.load("resnet50_linf1", download=False)
    torch.save(small_robust(**{"module.attacker.normalize.new_std": torch.ones(3, 1, 1)}),
               hub / "resnet50_linf_eps2.0.ckpt")
    with pytest.raises(DamagedFileError, match="module.attacker.normalize.new_mean / new_std"):
        zoo.load("resnet50_linf2", download=False)


def test_wrong_keys_and_formats_are_refused(hub: Path) -> None:
    path = hub / "resnet50_linf_eps4.0.ckpt"
    torch.save(small_robust(), path)  # a classifier with one tensor: not a ResNet-50
    with pytest.raises(DamagedFileError, match=r"does not hold a torchvision ResNet-50.*missing \['bn1"):
        zoo.load("resnet50_linf4", download=False)
    torch.save(resnet50().state_dict(), path)  # a plain state dict under the published name
    with pytest.raises(DamagedFileError, match=r"lacks the entries \['model'\]"):
        zoo.load("resnet50_linf4", download=False)
    checkpoint = small_robust()
    checkpoint["model"]["module.attacker.model.conv1.weight"] = torch.ones(64, 3, 7, 7)
    torch.save(checkpoint, path)
    with pytest.raises(DamagedFileError, match="attacker copy"):
        zoo.load("resnet50_linf4", download=False)
    checkpoint = small_robust()
    del checkpoint["model"]["module.normalizer.new_std"]
    torch.save(checkpoint, path)
    with pytest.raises(DamagedFileError, match="lacks.*module.normalizer.new_std"):
        zoo.load("resnet50_linf4", download=False)


def test_truncated_file_is_named(hub: Path) -> None:
    path = hub / "resnet50_linf_eps8.0.ckpt"
    torch.save(small_robust(), path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DamagedFileError, match=r"resnet50_linf_eps8\.0\.ckpt.*truncated"):
        zoo.load("resnet50_linf8", download=False)
    path.write_bytes(b"")
    with pytest.raises(DamagedFileError, match="empty"):
        zoo.load("resnet50_linf8", download=False)


def test_simsiam_files_from_different_runs_or_without_a_probe_are_refused(hub: Path) -> None:
    pretrain = hub / published.SIMSIAM_PRETRAIN_FILENAME
    linear = hub / published.SIMSIAM_LINEAR_FILENAME
    weight = torch.randn(64, 3, 7, 7)
    torch.save({"epoch": 100, "state_dict": {"module.encoder.conv1.weight": weight,
                                             "module.encoder.fc.0.weight": torch.zeros(4, 4)}}, pretrain)
    fc = {"module.fc.weight": torch.zeros(1000, 2048), "module.fc.bias": torch.zeros(1000)}
    torch.save({"epoch": 90, "state_dict": {"module.conv1.weight": weight + 1, **fc}}, linear)
    with pytest.raises(DamagedFileError, match="not from the same run"):
        zoo.load("resnet50_simsiam", download=False)
    torch.save({"epoch": 90, "state_dict": {"module.conv1.weight": weight}}, linear)
    with pytest.raises(DamagedFileError, match="lacks a 1000-way 'module.fc.weight'"):
        zoo.load("resnet50_simsiam", download=False)
    torch.save({"epoch": 90, "state_dict": {"module.conv1.weight": weight, **fc}}, linear)
    with pytest.raises(DamagedFileError, match=r"simsiam_100ep_checkpoint_0099.*missing \['bn1"):
        zoo.load("resnet50_simsiam", download=False)
