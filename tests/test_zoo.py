"""The model zoo: registry, architectures, features, seeding, pretrained loading, errors."""

from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from signseg import architectures, hub, zoo
from signseg.errors import InvalidInputError, UnknownNameError, WeightsNotFoundError

TORCHVISION_NAMES = [
    "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
    "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "densenet121",
    "densenet169", "densenet201", "inception_v3",
]
PUBLISHED_NAMES = [
    "resnet50_linf0.5", "resnet50_linf1", "resnet50_linf2", "resnet50_linf4", "resnet50_linf8",
    "resnet50_simsiam",
]
PROJECT_ARCHS = [
    "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
    "resnet8", "resnet14", "resnet20",
]
EI_ARCHS = [
    "fcnn", "lccnn_loop1", "lccnn_loop3", "lccnn_loop5", "lceicnn_none", "lceicnn_abs",
    "lceicnn_sat_abs", "lceicnn_exp_sat", "lceicnn_sat_exp", "eirnn_standard",
    "eirnn_standard_ei", "eirnn_inhpn", "eirnn_noconstraint",
]
DATASET_SHAPES = {"procedural": (3, 32), "cifar10": (3, 32), "mnist": (1, 28)}
PAPER_TABLES = Path(__file__).resolve().parents[1] / "signseg" / "reference" / "paper_tables.yaml"


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_model_once():
    regimes = ("_linf0.5", "_linf1", "_linf2", "_linf4", "_linf8", "_simsiam")
    expected_project = [
        f"{dataset}_{arch}{suffix}"
        for dataset in ("procedural", "cifar10", "mnist", "tinyimagenet")
        for arch in PROJECT_ARCHS
        for suffix in ("", "_tanh", *(regimes if arch.startswith("resnet") else ()))
    ]
    expected_project += [f"{dataset}_{arch}" for dataset in ("procedural", "cifar10", "mnist", "tinyimagenet")
                         for arch in EI_ARCHS]
    assert zoo.names(source="torchvision") == TORCHVISION_NAMES
    assert zoo.names(source="project") == expected_project
    assert zoo.names(source="published") == PUBLISHED_NAMES
    assert zoo.names() == TORCHVISION_NAMES + PUBLISHED_NAMES + expected_project
    assert zoo.names(dataset="imagenet") == TORCHVISION_NAMES + PUBLISHED_NAMES
    assert zoo.names(source="project", dataset="mnist") == [
        n for n in expected_project if n.startswith("mnist_")
    ]
    assert zoo.names(source="torchvision", dataset="cifar10") == []
    with pytest.raises(UnknownNameError, match="source"):
        zoo.names(source="timm")


def test_torchvision_metadata_matches_paper_table3():
    table = {row["model"]: row["top1"] for row in yaml.safe_load(PAPER_TABLES.read_text())["table3"]["rows"]}
    assert sorted(table) == sorted(TORCHVISION_NAMES)
    for name in TORCHVISION_NAMES:
        entry = zoo.info(name)
        assert (entry.source, entry.dataset, entry.activation) == ("torchvision", "imagenet", "relu")
        assert entry.num_classes == 1000
        # the paper's Table 3 rounds torchvision's published top-1 to two decimals
        assert entry.top1 == pytest.approx(table[name], abs=0.006), name
    assert [zoo.info(f"resnet{d}").weights for d in (18, 50, 101, 152)] == [
        "IMAGENET1K_V1", "IMAGENET1K_V2", "IMAGENET1K_V2", "IMAGENET1K_V2"]
    assert zoo.info("vgg16_bn").batch_norm and not zoo.info("vgg16").batch_norm
    assert zoo.info("vgg19").depth == 19 and zoo.info("densenet201").depth == 201
    inception = zoo.info("inception_v3").preprocessing
    assert (inception.size, inception.resize_size) == (299, 342)
    resnet = zoo.info("resnet50").preprocessing
    assert (resnet.size, resnet.resize_size, resnet.mean) == (224, 232, (0.485, 0.456, 0.406))


def test_every_torchvision_readout_is_the_1000_way_linear_output():
    # meta-device modules have shapes but no storage: all 18 architectures build in seconds
    from torchvision.models import get_model

    for name in TORCHVISION_NAMES:
        entry = zoo.info(name)
        with torch.device("meta"):
            model = get_model(entry.arch, weights=None, **zoo._TORCHVISION_KWARGS.get(name, {}))
        readout = model.get_submodule(entry.readout)
        assert isinstance(readout, nn.Linear) and readout.out_features == 1000, name
        last_linear = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        assert readout is last_linear, name


def test_project_entries_describe_their_architecture():
    entry = zoo.info("cifar10_vgg13_bn_tanh")
    assert (entry.source, entry.dataset, entry.family, entry.arch) == (
        "project", "cifar10", "vgg", "vgg13_bn")
    assert (entry.activation, entry.batch_norm, entry.depth) == ("tanh", True, 13)
    assert entry.readout == "classifier.readout" and entry.num_classes == 10
    assert entry.weights is None and entry.top1 is None
    assert zoo.info("mnist_resnet8").preprocessing.channels == 1
    assert zoo.info("procedural_alexnet").family == "alexnet"


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError) as error:
        zoo.info("resnet5")
    message = str(error.value)
    assert "'resnet50'" in message and "signseg.zoo.names()" in message
    with pytest.raises(UnknownNameError, match="cifar10_vgg11_bn"):
        zoo.load("cifar10_vgg11bn", pretrained=False)


# --------------------------------------------------------------------------- architectures


@pytest.mark.parametrize("dataset", sorted(DATASET_SHAPES))
def test_project_families_build_for_every_dataset(dataset):
    channels, size = DATASET_SHAPES[dataset]
    images = torch.rand(2, channels, size, size)
    for arch in PROJECT_ARCHS:
        for suffix in ("", "_tanh"):
            name = f"{dataset}_{arch}{suffix}"
            model = zoo.build(name, width=2).eval()
            entry = zoo.info(name)
            with torch.no_grad():
                out = model(entry.preprocessing(images))
            assert out.shape == (2, 10), name
            layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
            projections = 2 if entry.family == "resnet" else 0  # 1x1 shortcut convs
            assert len(layers) == entry.depth + projections, name
            activations = {type(m) for m in model.modules() if isinstance(m, (nn.ReLU, nn.Tanh))}
            assert activations == ({nn.Tanh} if suffix else {nn.ReLU}), name
            assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == entry.batch_norm


def test_width_scales_channels():
    small = zoo.build("cifar10_vgg11", width=2)
    large = zoo.build("cifar10_vgg11", width=4)
    assert small.features[0].out_channels == 2 and large.features[0].out_channels == 4
    # the last conv stage has 8 width channels; hidden fc layers 16 width units
    assert small.classifier.readout.in_features == 32
    resnet = zoo.build("mnist_resnet14", width=3)
    assert resnet.classifier.readout.in_features == 12  # 4 width
    with pytest.raises(InvalidInputError, match="width"):
        architectures.build("resnet8", 10, width=0)
    with pytest.raises(InvalidInputError, match="only applies to project"):
        zoo.build("resnet18", width=4)


def test_he_initialisation_of_hidden_layers():
    model = zoo.build("cifar10_vgg16", seed=0, width=8)
    conv = model.features[-3]  # last conv: 64 -> 64 channels, 3x3
    fan_in = conv.in_channels * 9
    assert conv.weight.std().item() == pytest.approx((2.0 / fan_in) ** 0.5, rel=0.05)
    assert torch.all(conv.bias == 0)
    readout = model.classifier.readout
    bound = 1.0 / readout.in_features**0.5
    assert readout.weight.abs().max().item() <= bound


# --------------------------------------------------------------------------- ZooModel


def test_features_are_the_readout_input():
    loaded = zoo.load("cifar10_resnet8", pretrained=False, train_config={"width": 4})
    images = torch.rand(5, 3, 32, 32)
    features = loaded.features(images, batch_size=2)
    logits = loaded.logits(images, batch_size=3)
    layer = loaded.readout_layer()
    assert features.shape == (5, 16)
    assert torch.allclose(logits, features @ loaded.readout_weight().T + layer.bias, atol=1e-5)
    assert loaded.readout_weight().shape == (10, 16)


def test_features_work_for_torchvision_models_too():
    loaded = zoo.load("resnet18", pretrained=False)
    images = torch.rand(2, 3, 64, 48)  # resized to 224 x 224 by the preprocessing
    features = loaded.features(images)
    assert features.shape == (2, 512)
    logits = loaded.logits(images)
    assert torch.allclose(logits, features @ loaded.readout_weight().T + loaded.readout_layer().bias,
                          atol=1e-4)
    assert loaded.accuracy is None and loaded.classes[0] == "tench" and len(loaded.classes) == 1000


def test_weighted_layers_follow_forward_order():
    loaded = zoo.load("procedural_resnet8", pretrained=False, train_config={"width": 2})
    names = [name for name, _ in loaded.weighted_layers()]
    assert names == [
        "stem.0",
        "features.0.0.conv1", "features.0.0.conv2",
        "features.1.0.conv1", "features.1.0.conv2", "features.1.0.shortcut.0",
        "features.2.0.conv1", "features.2.0.conv2", "features.2.0.shortcut.0",
        "classifier.readout",
    ]
    assert loaded.linear_layers() == loaded.weighted_layers()


def test_weighted_layers_skip_layers_outside_the_forward_pass():
    # inception_v3 registers its auxiliary classifier before Mixed_7a; eval never calls it
    loaded = zoo.load("inception_v3", pretrained=False)
    names = [name for name, _ in loaded.weighted_layers()]
    registered = [n for n, m in loaded.model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert names[0] == "Conv2d_1a_3x3.conv" and names[-1] == "fc"
    assert [n for n in registered if n not in names] == [
        "AuxLogits.conv0.conv", "AuxLogits.conv1.conv", "AuxLogits.fc"]
    assert names.index("Mixed_7a.branch3x3_1.conv") > names.index("Mixed_6e.branch_pool.conv")


def test_untrained_models_are_reproducible_by_seed():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = zoo.load("mnist_vgg11_bn", pretrained=False, seed=0).model.state_dict()
    after = torch.rand(1)
    assert torch.equal(before, after)  # the global random state is left alone
    b = zoo.load("mnist_vgg11_bn", pretrained=False, seed=0).model.state_dict()
    c = zoo.load("mnist_vgg11_bn", pretrained=False, seed=1).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["classifier.readout.weight"], c["classifier.readout.weight"])
    loaded = zoo.load("mnist_vgg11_bn", pretrained=False)
    assert not loaded.model.training and loaded.accuracy is None and not loaded.pretrained
    assert loaded.classes == [str(d) for d in range(10)]
    assert zoo.load("procedural_resnet8", pretrained=False).classes[:2] == ["disk", "square"]


def test_torchvision_specific_arguments_are_rejected():
    with pytest.raises(InvalidInputError, match="project models"):
        zoo.load("resnet18", pretrained=False, epoch=1)


# --------------------------------------------------------------------------- pretrained files


def _published_path(name: str) -> Path:
    from torchvision.models import get_model_weights

    weights = get_model_weights(zoo.info(name).arch)[zoo.info(name).weights]
    return hub.checkpoint_path(weights.url)


def test_pretrained_resnet18_loads_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")  # a random-weight stand-in
    saved = zoo.build("resnet18", seed=7).state_dict()
    path = _published_path("resnet18")
    assert path.parent == tmp_path / "hub" / "checkpoints"
    assert path.name == "resnet18-f37072fd.pth"  # the published file name
    path.parent.mkdir(parents=True)
    torch.save(saved, path)
    loaded = zoo.load("resnet18", download=False, progress=False)
    assert loaded.pretrained and loaded.accuracy == pytest.approx(69.758)
    state = loaded.model.state_dict()
    assert all(torch.equal(state[key], saved[key]) for key in saved)


def test_pretrained_densenet_remaps_old_style_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")  # a random-weight stand-in
    saved = zoo.build("densenet121", seed=3).state_dict()
    # the published densenet checkpoints predate torchvision's key names: norm.1, conv.2, ...
    old_style = {}
    for key, value in saved.items():
        for part in ("norm1", "norm2", "relu1", "relu2", "conv1", "conv2"):
            key = key.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        if not key.endswith("num_batches_tracked"):  # absent from the old files
            old_style[key] = value
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_style
    path = _published_path("densenet121")
    path.parent.mkdir(parents=True)
    torch.save(old_style, path)
    state = zoo.load("densenet121", download=False, progress=False).model.state_dict()
    assert all(torch.equal(state[key], saved[key]) for key in saved)


def test_missing_weights_name_the_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as error:
        zoo.load("resnet50", download=False)
    message = str(error.value)
    assert "resnet50-11ad3fa6.pth" in message  # IMAGENET1K_V2
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "resnet50 ImageNet weights" in message
