"""Training regimes: adversarial training, SimSiam pretraining and their zoo names.

The cache-key test below was written before the regimes existed: configurations that do not
use the new fields must keep the folders (hashes) they had, so cached runs stay valid.
"""

import pytest

from signseg import train

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
