"""Training: configuration, schedule, augmentation, determinism, resume and the cache."""

import json
import math

import pytest
import torch
from torch import nn

from signseg import train, zoo
from signseg.errors import InvalidInputError, WeightsNotFoundError
from signseg.preprocessing import Preprocessing

#: A tiny run: 40 procedural training images, 2 epochs of batches of 10, a 2-channel ResNet-8.
TINY = {
    "epochs": 2,
    "batch_size": 10,
    "lr": 0.05,
    "width": 2,
    "n_train": None,
    "n_test": 20,
    "data": {"n": 40},
}
NAME = "procedural_resnet8"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- configuration


def test_config_from_dict_rejects_unknown_keys_with_a_suggestion():
    with pytest.raises(InvalidInputError) as error:
        train.TrainConfig.from_dict({"epochs": 2, "lerning_rate": 0.1, "widht": 4})
    message = str(error.value)
    assert "'widht' (did you mean 'width'?)" in message
    assert "'lerning_rate'" in message and "valid fields" in message


def test_config_validates_values_and_round_trips():
    with pytest.raises(InvalidInputError, match="epochs must be >= 1"):
        train.TrainConfig(epochs=0)
    with pytest.raises(InvalidInputError, match="schedule"):
        train.TrainConfig(schedule="step")
    with pytest.raises(InvalidInputError, match="augment"):
        train.TrainConfig(augment="rotate")
    assert train.TrainConfig(augment=True).augment == "crop_flip"
    assert train.TrainConfig(augment=False).augment == "none"
    config = train.TrainConfig.from_dict(TINY)
    assert train.TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert train.TrainConfig.from_dict(None) == train.TrainConfig()


def test_resolve_fills_dataset_defaults():
    mnist = train.resolve_config("mnist_vgg11", {"epochs": 1})
    assert (mnist.augment, mnist.width) == ("none", zoo.DEFAULT_WIDTH["mnist"])
    cifar = train.resolve_config("cifar10_vgg11", {"augment": "flip", "width": 3}, seed=5)
    assert (cifar.augment, cifar.width, cifar.seed) == ("flip", 3, 5)
    with pytest.raises(InvalidInputError, match="published weights"):
        train.resolve_config("resnet18")


def test_cache_folder_depends_on_name_and_config(cache):
    a = train.result_dir(NAME, TINY)
    assert a.parent == cache / "models" and a.name.startswith(f"{NAME}-")
    assert train.result_dir(NAME, dict(TINY)) == a
    # an explicit default is the same configuration as an implicit one
    assert train.result_dir(NAME, {**TINY, "augment": "crop_flip"}) == a
    assert train.result_dir(NAME, {**TINY, "lr": 0.1}) != a
    assert train.result_dir("procedural_resnet14", TINY) != a


# --------------------------------------------------------------------------- pieces


def test_lr_factor_by_hand():
    # 10 steps, warm-up 0.2 -> 2 warm-up steps: 1/2, 2/2, then decay over the remaining 8
    onecycle = [train.lr_factor(s, 10, "onecycle", 0.2) for s in range(10)]
    assert onecycle == pytest.approx([0.5, 1.0, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125])
    cosine = [train.lr_factor(s, 10, "cosine", 0.2) for s in (2, 6)]
    assert cosine == pytest.approx([1.0, 0.5])
    assert train.lr_factor(4, 10, "cosine", 0.2) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert [train.lr_factor(s, 10, "constant", 0.0) for s in (0, 9)] == [1.0, 1.0]


def test_augment_batch_crops_and_flips():
    images = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    out = train.augment_batch(images, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == images.shape
    padded = nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(2):
        windows = [padded[i, :, y : y + 5, x : x + 5] for y in range(5) for x in range(5)]
        candidates = windows + [w.flip(-1) for w in windows]
        assert any(torch.equal(out[i], c) for c in candidates)
    again = train.augment_batch(images, torch.Generator().manual_seed(0), padding=2)
    assert torch.equal(out, again)
    flips = train.augment_batch(images, torch.Generator().manual_seed(1), padding=0)
    for i in range(2):
        assert torch.equal(flips[i], images[i]) or torch.equal(flips[i], images[i].flip(-1))


def test_evaluate_counts_correct_predictions():
    class Fixed(nn.Module):
        def forward(self, x):  # predicts class 1 when the mean pixel is positive, else 0
            positive = (x.mean(dim=(1, 2, 3)) > 0).float()
            return torch.stack([1 - positive, positive], dim=1)

    images = torch.tensor([0, 255, 255, 0, 255], dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 1, 2, 2)
    targets = torch.tensor([0, 1, 0, 0, 1])
    spec = Preprocessing(size=2, mean=(0.5,), std=(0.5,), channels=1)
    assert train.evaluate(Fixed(), images, targets, spec, batch_size=2) == pytest.approx(80.0)


# --------------------------------------------------------------------------- training


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    results = []
    for folder in ("a", "b"):
        monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / folder))
        results.append(train.train(NAME, TINY, progress=False))
    a, b = results
    assert not a.cached and [p.name for p in a.checkpoints] == [
        "epoch_000.pt", "epoch_001.pt", "epoch_002.pt"]
    for path_a, path_b in zip(a.checkpoints, b.checkpoints):
        assert _states_equal(train.checkpoint_state_dict(path_a), train.checkpoint_state_dict(path_b))
    history = a.history
    assert list(history.columns) == ["epoch", "train_loss", "train_acc", "test_acc", "seconds"]
    assert history["epoch"].tolist() == [0, 1, 2]
    assert math.isnan(history["train_loss"][0]) and history["train_loss"][1:].notna().all()
    assert a.history.drop(columns="seconds").equals(b.history.drop(columns="seconds"))
    assert a.test_acc == history["test_acc"].iloc[-1]
    assert a.classes == list(zoo.dataset_classes("procedural"))
    # epoch 0 is the seeded initialisation; training changed the weights
    initial = zoo.build(NAME, seed=0, width=2).state_dict()
    assert _states_equal(train.checkpoint_state_dict(a.checkpoints[0]), initial)
    assert not _states_equal(train.checkpoint_state_dict(a.checkpoints[2]), initial)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run must be reused, not retrained")

    monkeypatch.setattr(train, "_train_epoch", no_training)
    again = train.train(NAME, TINY, progress=False)
    assert again.cached and again.checkpoints == b.checkpoints


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "full"))
    config = {**TINY, "epochs": 3}
    full = train.train(NAME, config, progress=False)

    class Interrupt(Exception):
        pass

    def stop_after_first_epoch(epoch, row):
        if epoch == 1:
            raise Interrupt

    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "resumed"))
    with pytest.raises(Interrupt):
        train.train(NAME, config, progress=False, callback=stop_after_first_epoch)
    directory = train.result_dir(NAME, config)
    assert sorted(p.name for p in directory.iterdir()) == ["epoch_000.pt", "epoch_001.pt"]
    assert train.load_result(NAME, config) is None
    seen = []
    resumed = train.train(NAME, config, progress=False, callback=lambda e, row: seen.append(e))
    assert seen == [2, 3]  # only the missing epochs were trained
    for path_a, path_b in zip(full.checkpoints, resumed.checkpoints):
        assert _states_equal(train.checkpoint_state_dict(path_a), train.checkpoint_state_dict(path_b))
    assert full.history.drop(columns="seconds").equals(resumed.history.drop(columns="seconds"))


def test_zoo_never_trains_and_train_load_trains_once_and_says_so(cache, capsys):
    with pytest.raises(WeightsNotFoundError, match=r"signseg.train.load\('procedural_resnet8'"):
        zoo.load(NAME, train_config=TINY)
    assert train.load_result(NAME, TINY) is None  # zoo.load trained nothing
    loaded = train.load(NAME, TINY, progress=False)
    assert "signseg: training procedural_resnet8 (not in the cache; 2 epochs" in capsys.readouterr().out
    result = train.load_result(NAME, TINY)
    assert loaded.pretrained and loaded.checkpoints == result.checkpoints
    assert loaded.accuracy == pytest.approx(result.test_acc)
    assert loaded.history["epoch"].tolist() == [0, 1, 2]
    assert _states_equal(loaded.model.state_dict(), train.checkpoint_state_dict(result.checkpoints[-1]))
    again = train.load(NAME, TINY, progress=False)  # cached: no message, same weights
    assert capsys.readouterr().out == ""
    assert _states_equal(again.model.state_dict(), loaded.model.state_dict())
    # epoch 0 of the trained model is the untrained model of the same seed
    first = zoo.load(NAME, epoch=0, train_config=TINY)
    untrained = zoo.load(NAME, pretrained=False, train_config=TINY)
    assert _states_equal(first.model.state_dict(), untrained.model.state_dict())
    assert first.accuracy == pytest.approx(result.history["test_acc"][0])
    assert len(loaded.epoch_state_dicts()) == 3
    with pytest.raises(InvalidInputError, match="between 0"):
        zoo.load(NAME, epoch=3, train_config=TINY)
    with pytest.raises(InvalidInputError, match="published weights"):
        train.load("resnet18", {"epochs": 1})


def test_zoo_and_runs_do_not_import_the_training_loop():
    import subprocess
    import sys

    code = ("import sys, signseg.zoo, signseg.runs; "
            "print('signseg.train' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_narrow_convolutions_keep_the_contiguous_layout():
    # oneDNN's channels-last 1x1 weight-gradient kernel hangs on 2-channel convolutions
    assert train._memory_format(zoo.build(NAME, seed=0, width=2)) == torch.contiguous_format
    # and the ResNets' channels-last backward pass crashes the process with 3 to 7 channels
    for width in (4, 7):
        assert train._memory_format(zoo.build(NAME, seed=0, width=width)) == torch.contiguous_format
    assert train._memory_format(zoo.build(NAME, seed=0, width=8)) == torch.channels_last
    assert train._memory_format(nn.Linear(3, 2)) == torch.contiguous_format
