"""Training regimes: adversarial training, SimSiam pretraining and their zoo names.

The cache-key test below was written before the regimes existed: configurations that do not
use the new fields must keep the folders (hashes) they had, so cached runs stay valid.
"""

import json

import pytest
import torch

from signseg import adversarial, data, runs, simsiam, train, views, zoo
from signseg.data.dataset import balanced_indices
from signseg.errors import InvalidInputError, UnknownNameError

#: (name, configuration, run folder) recorded with the code before adversarial training and
#: SimSiam existed (commit 15bcdcd).
RECORDED_RUN_FOLDERS = [
    ("tinyimagenet_resnet8", None, "tinyimagenet_resnet8-e9b9db5727cbf1d9"),
    ("tinyimagenet_resnet8", {"epochs": 3, "width": 16, "n_train": None, "n_test": None},
     "tinyimagenet_resnet8-a48fede1305c3feb"),
    ("procedural_resnet8", {"epochs": 2, "batch_size": 10, "lr": 0.05, "width": 2,
                            "n_train": None, "n_test": 20, "data": {"n": 40}},
     "procedural_resnet8-0ea403f8ec240b98"),
    ("tinyimagenet_resnet8_tanh", {"epochs": 3, "seed": 2}, "tinyimagenet_resnet8_tanh-4a6beb6427f49455"),
    ("cifar10_vgg11_bn", {"optimizer": "adamw", "schedule": "cosine"},
     "cifar10_vgg11_bn-cc3cd5b84ce98740"),
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("name, config, folder", RECORDED_RUN_FOLDERS)
def test_configurations_without_regimes_keep_their_run_folders(cache, name, config, folder):
    assert train.result_dir(name, config).name == folder


# --------------------------------------------------------------------------- configuration

#: A tiny run: 40 procedural images, batches of 10, a 4-channel ResNet-8.
TINY = {"epochs": 2, "batch_size": 10, "lr": 0.05, "width": 4, "n_train": None, "n_test": 20,
        "data": {"n": 40}}
#: Its SimSiam settings: 2 pretraining epochs of 4 steps, a 16-d projector.
SIMSIAM = {**TINY, "pretrain_epochs": 2, "pretrain_batch_size": 10, "projector_dim": 16}


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_regime_fields_are_validated_and_left_out_of_the_dict_at_their_defaults():
    assert "attack" not in train.TrainConfig().to_dict()
    config = train.TrainConfig(attack="pgd", epsilon=4, attack_steps=3, pretrain_epochs=2)
    values = config.to_dict()
    assert values["epsilon"] == 4.0 and isinstance(values["epsilon"], float)
    assert {"attack", "attack_steps", "pretrain_epochs"} <= set(values)
    assert "pretrain_lr" not in values and "robust_n_test" not in values
    assert train.TrainConfig.from_dict(json.loads(json.dumps(values))) == config
    for bad, match in [({"attack": "cw"}, "attack must be"), ({"epsilon": -1}, "epsilon"),
                       ({"epsilon": float("nan")}, "epsilon"),
                       ({"attack_step_size": 0}, "attack_step_size"),
                       ({"attack": "fgsm_rs", "attack_steps": 3}, "one step"),
                       ({"pretrain": "byol"}, "pretrain must"),
                       ({"pretrain_batch_size": 1}, "pretrain_batch_size"),
                       ({"projector_dim": 2}, "projector_dim"), ({"robust_n_test": 0}, "robust_n_test")]:
        with pytest.raises(InvalidInputError, match=match):
            train.TrainConfig.from_dict(bad)


def test_names_carry_their_regime_into_the_resolved_configuration(cache):
    robust = train.resolve_config("tinyimagenet_resnet8_linf4", {"epochs": 3})
    assert (robust.attack, robust.epsilon, robust.attack_steps) == ("fgsm_rs", 4.0, 1)
    pgd = train.resolve_config("tinyimagenet_resnet8_linf0.5", {"attack": "pgd"})
    assert (pgd.attack, pgd.epsilon, pgd.attack_steps) == ("pgd", 0.5, 7)
    # the sweep's configuration trains the plain name exactly as without adversarial settings
    sweep = {"epochs": 3, "attack": "pgd", "attack_steps": 3, "robust_n_test": 500,
             "pretrain_epochs": 7}
    plain = train.result_dir("tinyimagenet_resnet8", {"epochs": 3})
    assert train.result_dir("tinyimagenet_resnet8", sweep) == plain
    assert train.result_dir("tinyimagenet_resnet8_linf2", sweep) not in (
        plain, train.result_dir("tinyimagenet_resnet8_linf4", sweep))
    simsiam = train.resolve_config("tinyimagenet_resnet14_simsiam", {"pretrain_epochs": 7})
    assert (simsiam.pretrain, simsiam.pretrain_epochs, simsiam.attack) == ("simsiam", 7, "none")
    with pytest.raises(InvalidInputError, match="tinyimagenet_resnet8_linf4"):
        train.resolve_config("tinyimagenet_resnet8", {"epsilon": 4})
    with pytest.raises(InvalidInputError, match="fixes epsilon=2"):
        train.resolve_config("tinyimagenet_resnet8_linf2", {"epsilon": 4})
    with pytest.raises(InvalidInputError, match="_simsiam"):
        train.resolve_config("cifar10_resnet8", {"pretrain": "simsiam"})


def test_zoo_exposes_the_regime_of_every_name():
    entry = zoo.info("tinyimagenet_resnet8_linf0.5")
    assert (entry.regime, entry.epsilon, entry.arch, entry.activation) == (
        "adversarial", 0.5, "resnet8", "relu")
    assert zoo.info("tinyimagenet_resnet14_simsiam").regime == "simsiam"
    plain = zoo.info("tinyimagenet_resnet8")
    assert (plain.regime, plain.epsilon) == ("standard", 0.0)
    assert zoo.info("resnet50").regime == "standard"
    sweep = [zoo.robust_name("tinyimagenet_resnet8", e) for e in (0, *zoo.ROBUST_EPSILONS)]
    assert sweep == ["tinyimagenet_resnet8"] + [
        f"tinyimagenet_resnet8_linf{e}" for e in ("0.5", "1", "2", "4", "8")]
    for name, epsilon in [("tinyimagenet_vgg11", 4), ("tinyimagenet_resnet8", 3),
                          ("tinyimagenet_resnet8_tanh", 4)]:
        with pytest.raises(UnknownNameError, match="robust variants"):
            zoo.robust_name(name, epsilon)
    # the same architecture as the plain model
    plain, robust = zoo.build("procedural_resnet8", width=2), zoo.build("procedural_resnet8_linf8", width=2)
    assert _states_equal(plain.state_dict(), robust.state_dict())


# --------------------------------------------------------------------------- adversarial training


def test_the_training_attack_uses_batch_statistics_and_keeps_the_running_ones():
    model = zoo.build("procedural_resnet8", width=4).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    images = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    targets = torch.arange(6)
    spec = zoo.info("procedural_resnet8").preprocessing
    config = train.resolve_config("procedural_resnet8_linf8", {"attack": "pgd", "attack_steps": 2})
    adv = train._adversarial_batch(model, images, targets, spec, config, torch.Generator().manual_seed(1),
                                   torch.contiguous_format)
    assert _states_equal(model.state_dict(), before)  # running means, variances, counters
    # the reference: the same PGD on a copy in train mode, whose statistics it does change
    copy = zoo.build("procedural_resnet8", width=4).train()
    reference = adversarial.pgd(copy, images, targets, 8.0, steps=2, preprocessing=spec,
                                seed=torch.Generator().manual_seed(1))
    assert torch.equal(adv, reference)
    assert not _states_equal(copy.state_dict(), before)


def test_adversarial_training_records_robust_accuracy_and_loads(cache):
    config = {**TINY, "attack": "pgd", "attack_steps": 2, "robust_n_test": 10}
    result = train.train("procedural_resnet8_linf8", config, progress=False)
    robust = result.robust
    assert (robust["attack"], robust["steps"], robust["epsilon"], robust["n_images"]) == ("pgd", 10, 8.0, 10)
    assert 0 <= robust["robust_acc"] <= robust["clean_acc"] <= 100
    assert result.robust_acc == robust["robust_acc"]
    meta = json.loads((result.directory / "meta.json").read_text())
    assert meta["robust"] == robust and meta["config"]["attack"] == "pgd"
    model = zoo.load("procedural_resnet8_linf8", train_config=config)
    assert model.robust_accuracy == robust["robust_acc"] and model.entry.regime == "adversarial"
    # recomputing the robust accuracy of the loaded weights gives the recorded value
    test = data.load("procedural", "test", limit=20, n=40)
    index = balanced_indices(test.targets, 10, 0)
    again = adversarial.robust_accuracy(model, test.images[index], test.targets[index], 8.0,
                                        progress=False)
    assert again == robust["robust_acc"]
    # adversarial examples changed the training: other weights than clean training's
    clean = train.train("procedural_resnet8", TINY, progress=False)
    assert not _states_equal(train.checkpoint_state_dict(clean.checkpoints[-1]),
                             train.checkpoint_state_dict(result.checkpoints[-1]))
    assert clean.robust is None and zoo.load("procedural_resnet8", train_config=TINY).robust_accuracy is None


# --------------------------------------------------------------------------- SimSiam


def test_negative_cosine_on_hand_worked_vectors():
    e1, e2 = torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[0.0, 1.0, 0.0]])
    assert float(simsiam.negative_cosine(e1, e1)) == pytest.approx(-1.0)
    assert float(simsiam.negative_cosine(3 * e1, 0.5 * e1)) == pytest.approx(-1.0)  # scale-free
    assert float(simsiam.negative_cosine(e1, e2)) == pytest.approx(0.0)
    assert float(simsiam.negative_cosine(e1, -e1)) == pytest.approx(1.0)
    # cos 45 degrees, averaged with an identical pair: -(1 + 1/sqrt(2)) / 2
    p = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    z = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert float(simsiam.negative_cosine(p, z)) == pytest.approx(-(1 + 2 ** -0.5) / 2)
    # symmetric loss: D(p1, z2) = -1 and D(p2, z1) = 0
    assert float(simsiam.simsiam_loss(e1, e1, e2, e1)) == pytest.approx(-0.5)


def test_stop_gradient_keeps_the_target_branch_out_of_the_gradient():
    p = torch.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    z = torch.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    simsiam.negative_cosine(p, z).backward()
    assert z.grad is None and p.grad is not None and p.grad.abs().sum() > 0
    # through the network: D(p1, stopgrad(z2)) sends no gradient to the second view
    backbone = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8))
    model = simsiam.SimSiam(backbone, 8, 8)
    x1 = torch.randn(4, 3, 2, 2, requires_grad=True)
    x2 = torch.randn(4, 3, 2, 2, requires_grad=True)
    p1, p2, z1, z2 = model(x1, x2)
    simsiam.negative_cosine(p1, z2).backward()
    assert x2.grad is None and x1.grad.abs().sum() > 0


def test_collapse_check_by_hand():
    d = 16
    assert simsiam.collapse_std(torch.eye(d)) == pytest.approx(d ** -0.5)  # one-hot rows, exactly
    assert simsiam.collapse_std(torch.ones(32, d) * 3) == 0.0  # collapsed: one direction
    spread = torch.randn(4000, d, generator=torch.Generator().manual_seed(0))
    assert simsiam.collapse_std(spread) == pytest.approx(d ** -0.5, rel=0.05)


def test_views_are_seeded_valid_images_and_match_torchvision():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, 64, 64, generator=generator)
    a = views.simsiam_view(images, 32, torch.Generator().manual_seed(1))
    b = views.simsiam_view(images, 32, torch.Generator().manual_seed(1))
    assert a.shape == (8, 3, 32, 32) and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    # a horizontal ramp stays a ramp: crops are affine, flips reverse it, width >= sqrt(0.2 * 3/4)
    # (the outermost output columns may sample the half pixel outside the first pixel centre)
    ramp = torch.linspace(0, 1, 32).expand(64, 3, 32, 32)
    crops = views.random_resized_crop(ramp, 32, generator)
    slopes = crops[:, 0, 16, 20] - crops[:, 0, 16, 10]
    assert torch.allclose(crops[:, :, :, 2:31] - crops[:, :, :, 1:30],
                          (slopes / 10)[:, None, None, None].expand(64, 3, 32, 29), atol=1e-5)
    widths = slopes.abs() * 31 / 10
    assert (widths >= (0.2 * 0.75) ** 0.5 - 1e-4).all() and (widths <= 1 + 1e-4).all()
    assert (slopes > 0).any() and (slopes < 0).any()
    # hue, saturation and grayscale against torchvision's functional transforms
    from torchvision.transforms.v2 import functional as TF

    x = images[:, :, :8, :8]
    hsv = views.rgb_to_hsv(x)
    shifted = torch.cat([torch.remainder(hsv[:, :1] + 0.07, 1.0), hsv[:, 1:]], dim=1)
    assert torch.allclose(views.hsv_to_rgb(shifted), TF.adjust_hue(x, 0.07), atol=1e-5)
    assert torch.allclose(views.random_grayscale(x, generator, 1.0), TF.rgb_to_grayscale(x, 3), atol=1e-6)
    assert torch.equal(views.color_jitter(x, generator, 0.0), x)


def test_simsiam_run_pretrains_freezes_the_backbone_and_loads_as_a_zoo_model(cache):
    name = "procedural_resnet8_simsiam"
    model = train.load(name, SIMSIAM, progress=False)
    readout = model.readout_layer()
    assert isinstance(readout, torch.nn.Linear) and readout.weight.dim() == 2
    assert readout.weight.shape == (10, 16) and model.entry.readout == "classifier.readout"
    result = train.load_result(name, SIMSIAM)
    record = result.pretraining
    assert [row["epoch"] for row in record["history"]] == [1, 2]
    assert record["z_std_reference"] == pytest.approx(16 ** -0.5)
    assert record["collapsed"] == (record["z_std"] < 0.1 * 16 ** -0.5)
    assert model.accuracy == result.test_acc  # the linear probe's top-1
    # the backbone (and its batch-norm statistics) is the pretrained one, bit for bit, at every
    # epoch of the probe; only the readout is trained
    pretrained = runs.read_checkpoint(result.directory / "pretrain_002.pt")["model"]
    backbone = {k.removeprefix("backbone."): v for k, v in pretrained.items() if k.startswith("backbone.")}
    head = ("classifier.readout.weight", "classifier.readout.bias")
    initial = zoo.build(name, width=4).state_dict()
    assert not _states_equal(backbone, {k: v for k, v in initial.items() if k not in head})
    for path in result.checkpoints:
        state = train.checkpoint_state_dict(path)
        assert _states_equal({k: v for k, v in state.items() if k not in head}, backbone)
    first, last = (train.checkpoint_state_dict(p) for p in (result.checkpoints[0], result.checkpoints[-1]))
    assert torch.equal(first[head[0]], initial[head[0]]) and not torch.equal(last[head[0]], first[head[0]])
    # an interrupted pretraining resumes to the same weights
    full = train.checkpoint_state_dict(result.checkpoints[-1])
    for path in [*result.checkpoints, result.directory / "meta.json", result.directory / "pretrain_002.pt"]:
        path.unlink()
    again = train.train(name, SIMSIAM, progress=False)
    assert _states_equal(train.checkpoint_state_dict(again.checkpoints[-1]), full)
    assert again.pretraining["history"][1]["loss"] == record["history"][1]["loss"]
