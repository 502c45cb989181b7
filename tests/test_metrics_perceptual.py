"""1 - LPIPS through the lpips package, trunk weights from the torch hub cache.

The trunk checkpoint is built locally: an untrained torchvision AlexNet's state_dict saved
under the published file name in a temporary TORCH_HOME, so nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import lpips
import pytest
import torch
import torchvision

from signseg.errors import InvalidInputError, WeightsNotFoundError
from signseg.metrics.perceptual import TRUNK_WEIGHTS, PerceptualSimilarity


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TORCH_HOME whose hub cache holds a random AlexNet under the published name."""
    home = tmp_path_factory.mktemp("torch_home")
    folder = home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    state = torchvision.models.alexnet(weights=None).state_dict()
    torch.save(state, folder / "alexnet-owt-7be5be79.pth")
    return home


@pytest.fixture(scope="module")
def metric(torch_home: Path) -> PerceptualSimilarity:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(torch_home))
        patch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")  # a random-weight stand-in
        return PerceptualSimilarity(net="alex", download=False)


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    first = torch.rand(3, 3, 48, 48, generator=generator)
    return first, torch.rand(2, 3, 48, 48, generator=generator)


def test_trunk_holds_the_cached_checkpoint(metric: PerceptualSimilarity, torch_home: Path) -> None:
    saved = torch.load(torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth")
    assert torch.equal(getattr(metric.model.net.slice1, "0").weight, saved["features.0.weight"])
    assert torch.equal(getattr(metric.model.net.slice5, "10").bias, saved["features.10.bias"])
    # the learned LPIPS linear layers come from the package, not from a random init
    shipped_path = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    shipped = torch.load(shipped_path, map_location="cpu")
    assert torch.equal(metric.model.lin0.model[-1].weight, shipped["lin0.model.1.weight"])


def test_distances_agree_with_the_lpips_forward(metric: PerceptualSimilarity,
                                                images: tuple[torch.Tensor, torch.Tensor]) -> None:
    a, b = images
    matrix = metric.distance_matrix(a, b)
    with torch.no_grad():
        reference = torch.tensor([[float(metric.model(a[i : i + 1], b[j : j + 1], normalize=True))
                                   for j in range(b.shape[0])] for i in range(a.shape[0])])
    assert matrix.shape == (3, 2)
    assert torch.allclose(matrix, reference.double(), atol=1e-6)
    assert (matrix > 0).all()


def test_lpips_is_zero_on_identical_images_and_symmetric(
    metric: PerceptualSimilarity, images: tuple[torch.Tensor, torch.Tensor]
) -> None:
    a, b = images
    within = metric.distance_matrix(a)
    assert torch.allclose(within.diagonal(), torch.zeros(3, dtype=torch.float64), atol=1e-7)
    assert torch.allclose(within, within.T, atol=1e-7)
    assert torch.allclose(metric.distance_matrix(a, b), metric.distance_matrix(b, a).T, atol=1e-7)


def test_similarity_and_ceiling_are_means_of_one_minus_lpips(
    metric: PerceptualSimilarity, images: tuple[torch.Tensor, torch.Tensor]
) -> None:
    a, b = images
    expected = float((1 - metric.distance_matrix(a, b)).mean())
    assert metric.similarity(a, b) == pytest.approx(expected)
    within = metric.distance_matrix(a)
    off_diagonal = (within.sum() - within.diagonal().sum()) / 6.0
    assert metric.ceiling(a) == pytest.approx(1.0 - float(off_diagonal))
    assert metric.similarity(a[:1], a[:1]) == pytest.approx(1.0, abs=1e-7)


def test_missing_trunk_weights_offline_name_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError) as info:
        PerceptualSimilarity(net="alex", download=False)
    message = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert TRUNK_WEIGHTS["alex"] in message


def test_a_checkpoint_of_the_wrong_network_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")  # past the digest, to the key check
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"fc.weight": torch.zeros(2, 2)}, folder / "alexnet-owt-7be5be79.pth")
    with pytest.raises(WeightsNotFoundError, match="not a torchvision alex checkpoint"):
        PerceptualSimilarity(net="alex", download=False)


def test_invalid_inputs(metric: PerceptualSimilarity) -> None:
    with pytest.raises(InvalidInputError, match="at least 32"):
        metric.distance_matrix(torch.rand(2, 3, 16, 16))
    with pytest.raises(InvalidInputError, match="equal size"):
        metric.distance_matrix(torch.rand(2, 3, 48, 48), torch.rand(2, 3, 64, 64))
    with pytest.raises(InvalidInputError, match="net must be"):
        PerceptualSimilarity(net="resnet")
