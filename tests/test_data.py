"""Tests of signseg.data: local trees and archives, the decoded cache, limits and errors."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from signseg import data
from signseg.data import imagefolder, natural
from signseg.data.dataset import ImageDataset, balanced_indices
from signseg.errors import DataNotFoundError, InvalidInputError, UnknownNameError

REAL_DATA = os.environ.get("SIGNSEG_DATA")
"""The shared data folder when the environment names one (read before fixtures clear it)."""

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
"""Images per digit in the MNIST test split (LeCun et al. 1998)."""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Write the cache under tmp_path and hide any real data folder."""
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SIGNSEG_DATA", raising=False)


CIFAR10 = list(natural.SPECS["cifar10"].classes)
DIGITS = [str(digit) for digit in range(10)]


def pixel_value(label: int, index: int) -> int:
    """The grey value of image ``index`` of class ``label`` in the test trees."""
    return 15 * label + 3 * index + 1


def build_tree(
    tree: Path,
    classes: list[str],
    per_class: int,
    *,
    mode: str = "RGB",
    size: int = 32,
    suffix: str = ".png",
    splits: tuple[str, ...] = ("train", "test"),
) -> None:
    """Write ``tree/<split>/<class>/<image>`` with constant images of known value.

    Image ``i`` of the ``k``-th class in sorted order has every pixel (and channel) equal
    to ``pixel_value(k, i)``; in the test split the value is shifted by 50.
    """
    for split in splits:
        shift = 0 if split == "train" else 50
        for label, class_name in enumerate(sorted(classes)):
            folder = tree / split / class_name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                value = pixel_value(label, index) + shift
                Image.new(mode, (size, size), value if mode == "L" else (value,) * 3).save(
                    folder / f"{index:04d}{suffix}"
                )


def build_archive(tree_parent: Path, top: str, archive: Path, *, with_sums: bool = True) -> str:
    """Pack ``tree_parent/top`` into ``archive`` (below the folder ``top``); return its SHA-256."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree_parent / top, arcname=top)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if with_sums:
        (archive.parent / "SHA256SUMS").write_text(f"{digest}  {archive.name}\n")
    return digest


def test_names_lists_the_six_sets() -> None:
    assert data.names() == ["bg-challenge", "cifar10", "cue-conflict", "mnist", "procedural",
                            "tiny-imagenet"]


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(UnknownNameError, match="cifar10, cue-conflict, mnist, procedural"):
        data.load("imagenet")


def test_bad_split_and_bad_option_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"\['train', 'test'\].*'val'"):
        data.load("cifar10", "val")
    with pytest.raises(InvalidInputError, match="p_agree"):
        data.load("cifar10", "train", p_agree=0.5)


def test_tree_load_orders_classes_and_images(tmp_path: Path) -> None:
    classes = CIFAR10[::-1]  # created unsorted on purpose
    build_tree(tmp_path / "data" / "cifar10-jpg", classes, per_class=3)

    train = data.load("cifar10", "train", root=tmp_path / "data", progress=False)

    assert train.name == "cifar10" and train.split == "train"
    assert train.classes == CIFAR10
    assert train.images.dtype == torch.uint8 and train.images.shape == (30, 3, 32, 32)
    assert train.targets.dtype == torch.int64 and train.targets.tolist() == [k // 3 for k in range(30)]
    assert train.masks is None
    expected = [pixel_value(label, index) for label in range(10) for index in range(3)]
    assert train.images[:, :, 5, 7].tolist() == [[value] * 3 for value in expected]
    assert bool((train.images == torch.tensor(expected, dtype=torch.uint8)[:, None, None, None]).all())

    image, label = train[4]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    assert label == 1 and isinstance(label, int)
    assert torch.allclose(image, torch.full((3, 32, 32), pixel_value(1, 1) / 255.0))
    floats = train.float_images([4, 0])
    assert floats.shape == (2, 3, 32, 32) and torch.equal(floats[0], image)
    assert float(floats[1, 0, 0, 0]) == pytest.approx(pixel_value(0, 0) / 255.0)

    test = data.load("cifar10", "test", root=tmp_path / "data", progress=False)
    assert int(test.images[0, 0, 0, 0]) == pixel_value(0, 0) + 50


def test_root_may_be_the_tree_itself_for_grey_mnist(tmp_path: Path) -> None:
    build_tree(tmp_path / "digits", DIGITS[::-1], per_class=2, mode="L", size=28, splits=("test",))

    test = data.load("mnist", "test", root=tmp_path / "digits", progress=False)

    assert test.classes == DIGITS
    assert test.images.shape == (20, 1, 28, 28)
    expected = [50 + pixel_value(label, index) for label in range(10) for index in range(2)]
    assert test.images[:, 0, 0, 0].tolist() == expected


def test_jpeg_tree_named_cifar10_is_read(tmp_path: Path) -> None:
    build_tree(tmp_path / "cifar10", CIFAR10, per_class=2, suffix=".jpg", splits=("train",))

    train = data.load("cifar10", root=tmp_path, progress=False)

    assert train.classes == CIFAR10
    expected = torch.tensor([pixel_value(label, index) for label in range(10) for index in range(2)])
    assert (train.images.float().mean(dim=(1, 2, 3)) - expected).abs().max() <= 2  # JPEG is lossy


def test_archive_matches_tree_and_is_verified(tmp_path: Path) -> None:
    build_tree(tmp_path / "src" / "cifar10-jpg", CIFAR10, per_class=1)
    build_archive(tmp_path / "src", "cifar10-jpg", tmp_path / "shared" / "cifar10-jpg.tar.gz")

    from_archive = data.load("cifar10", "test", root=tmp_path / "shared", progress=False)
    from_tree = data.load("cifar10", "test", root=tmp_path / "src", progress=False)

    assert from_archive.classes == from_tree.classes == CIFAR10
    assert torch.equal(from_archive.images, from_tree.images)
    assert torch.equal(from_archive.targets, from_tree.targets)

    (tmp_path / "shared" / "SHA256SUMS").write_text(f"{'0' * 64}  cifar10-jpg.tar.gz\n")
    with pytest.raises(DataNotFoundError, match="does not match its checksum"):
        data.load("cifar10", "train", root=tmp_path / "shared", progress=False)


def count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the decoder so each call appends the number of images it decoded."""
    calls: list[int] = []
    original = imagefolder._decode_all

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        decoded = original(*args, **kwargs)
        calls.append(len(decoded))
        return decoded

    monkeypatch.setattr(imagefolder, "_decode_all", counting)
    return calls


def test_decoded_cache_is_reused_until_the_source_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_tree(tmp_path / "src" / "mnist-png", DIGITS, per_class=1, mode="L", size=28)
    build_archive(tmp_path / "src", "mnist-png", tmp_path / "shared" / "mnist-png.tar.gz")
    calls = count_decodes(monkeypatch)

    first = data.load("mnist", "train", root=tmp_path / "shared", progress=False)
    second = data.load("mnist", "train", root=tmp_path / "shared", progress=False)
    assert calls == [10]
    assert torch.equal(first.images, second.images) and second.classes == DIGITS
    cached = list((tmp_path / "cache" / "data" / "decoded").glob("mnist-train-*.npz"))
    assert len(cached) == 1

    data.load("mnist", "test", root=tmp_path / "shared", progress=False)
    assert calls == [10, 10]  # another split is another entry

    tree = tmp_path / "src" / "mnist-png"
    data.load("mnist", "train", root=tmp_path / "src", progress=False)
    data.load("mnist", "train", root=tmp_path / "src", progress=False)
    Image.new("L", (28, 28), 7).save(tree / "train" / "1" / "9999.png")
    changed = data.load("mnist", "train", root=tmp_path / "src", progress=False)
    assert calls == [10, 10, 10, 11]
    assert len(changed) == 11 and int(changed.images[2, 0, 0, 0]) == 7  # 1/9999.png


def test_env_var_names_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_tree(tmp_path / "mnist", DIGITS, per_class=1, mode="L", size=28, splits=("train",))
    monkeypatch.setenv("SIGNSEG_DATA", str(tmp_path))

    train = data.load("mnist", progress=False)

    assert train.classes == DIGITS and int(train.images[3, 0, 0, 0]) == pixel_value(3, 0)


def test_limit_is_seeded_balanced_and_ordered(tmp_path: Path) -> None:
    build_tree(tmp_path / "cifar10", CIFAR10, per_class=3, splits=("train",))
    full = data.load("cifar10", root=tmp_path, progress=False)

    picked = data.load("cifar10", root=tmp_path, limit=20, seed=3, progress=False)
    again = data.load("cifar10", root=tmp_path, limit=20, seed=3, progress=False)

    assert torch.equal(picked.images, again.images)
    assert torch.bincount(picked.targets).tolist() == [2] * 10
    indices = balanced_indices(full.targets, 20, seed=3)
    assert bool((indices[1:] > indices[:-1]).all())
    assert torch.equal(picked.images, full.images[indices])
    subsets = {tuple(balanced_indices(full.targets, 20, seed=seed).tolist()) for seed in range(8)}
    assert len(subsets) > 1
    assert len(data.load("cifar10", root=tmp_path, limit=100, progress=False)) == 30
    with pytest.raises(InvalidInputError, match="limit"):
        data.load("cifar10", root=tmp_path, limit=0, progress=False)


def test_balanced_indices_round_robin_on_imbalanced_labels() -> None:
    targets = torch.tensor([0, 0, 0, 0, 0, 1, 2, 2])
    for seed in range(5):
        chosen = balanced_indices(targets, 4, seed=seed)
        # one of each class first, then a second image of class 0 or 2 (class 1 has run out)
        counts = torch.bincount(targets[chosen], minlength=3).tolist()
        assert counts in ([2, 1, 1], [1, 1, 2])
        assert 5 in chosen.tolist()


def test_missing_data_names_both_ways_to_provide_it(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError) as caught:
        data.load("cifar10", "train", root=tmp_path / "empty", download=False)
    message = str(caught.value)
    assert "SIGNSEG_DATA" in message and "root=" in message
    assert "cifar10-jpg.tar.gz" in message and "cifar10-jpg/{train,test}/<class>/<image>" in message
    assert "download=True" in message and str(tmp_path / "empty") in message

    with pytest.raises(DataNotFoundError, match=r"SIGNSEG_DATA is not set.*'mnist-png\.tar\.gz'"):
        data.load("mnist", "test", download=False)


def test_images_of_the_wrong_size_are_reported(tmp_path: Path) -> None:
    build_tree(tmp_path / "mnist", ["0"], per_class=1, mode="L", size=32, splits=("train",))
    with pytest.raises(InvalidInputError, match="32x32 pixels, expected 28x28"):
        data.load("mnist", root=tmp_path, progress=False)


def test_torchvision_fallback_converts_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    rng = np.random.default_rng(0)
    seen: dict[str, object] = {}

    class FakeCIFAR10:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            seen.update(root=root, train=train, download=download)
            self.data = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
            seen["data"] = self.data
            self.targets = [3, 1, 4, 1, 5]

    class FakeMNIST:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            self.data = torch.arange(2 * 28 * 28, dtype=torch.int64).reshape(2, 28, 28).remainder(256).to(torch.uint8)
            self.targets = torch.tensor([7, 2])

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", FakeCIFAR10)
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)

    cifar = data.load("cifar10", "test", download=False)
    raw = seen.pop("data")
    assert seen == {"root": str(tmp_path / "cache" / "data" / "torchvision"), "train": False, "download": False}
    assert cifar.images.shape == (5, 3, 32, 32) and cifar.images.is_contiguous()
    assert int(cifar.images[2, 1, 4, 6]) == int(raw[2, 4, 6, 1])  # type: ignore[index]
    assert cifar.targets.tolist() == [3, 1, 4, 1, 5]
    assert cifar.classes == list(natural.SPECS["cifar10"].classes) and cifar.classes[0] == "airplane"

    mnist = data.load("mnist", "train")
    assert mnist.images.shape == (2, 1, 28, 28) and int(mnist.images[1, 0, 0, 5]) == (28 * 28 + 5) % 256
    assert mnist.classes == [str(digit) for digit in range(10)] and mnist.targets.tolist() == [7, 2]


def test_shared_archive_or_a_tiny_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads the real MNIST test split when SIGNSEG_DATA is set, else a tiny archive like it."""
    if REAL_DATA:
        folder, counts = Path(REAL_DATA), MNIST_TEST_COUNTS
    else:
        folder, counts = tmp_path / "shared", [2] * 10
        build_tree(tmp_path / "src" / "mnist-png", [str(d) for d in range(10)], 2, mode="L", size=28, splits=("test",))
        build_archive(tmp_path / "src", "mnist-png", folder / "mnist-png.tar.gz")
    monkeypatch.setenv("SIGNSEG_DATA", str(folder))

    test = data.load("mnist", "test", download=False, progress=False)

    assert test.classes == [str(digit) for digit in range(10)]
    assert test.images.shape == (sum(counts), 1, 28, 28) and test.images.dtype == torch.uint8
    assert torch.bincount(test.targets, minlength=10).tolist() == counts
    assert int(test.images.max()) > 0


def test_dataset_indexing_and_validation() -> None:
    images = torch.arange(4, dtype=torch.uint8).reshape(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    masks = torch.zeros(4, 2, 2, dtype=torch.bool)
    masks[2, 0, 1] = True
    targets = torch.tensor([0, 1, 0, 1])
    dataset = ImageDataset("toy", "train", images, targets, ["a", "b"], masks, {"extra": torch.arange(4)})

    part = dataset.subset(torch.tensor([False, True, True, False]))
    assert part.images[:, 0, 0, 0].tolist() == [1, 2] and part.targets.tolist() == [1, 0]
    assert part.masks is not None and bool(part.masks[1, 0, 1]) and part.meta["extra"].tolist() == [1, 2]
    assert dataset.subset([-1, 0]).images[:, 0, 0, 0].tolist() == [3, 0]
    assert len(dataset) == 4 and "n=4" in repr(dataset)
    with pytest.raises(InvalidInputError, match="indices must lie in"):
        dataset.subset([4])
    with pytest.raises(InvalidInputError, match="one entry per image"):
        dataset.subset(torch.tensor([True, False]))
    with pytest.raises(InvalidInputError, match="integers or a boolean mask"):
        dataset.float_images(torch.tensor([0.5]))
    with pytest.raises(InvalidInputError, match="images must be a torch.uint8"):
        ImageDataset("toy", "train", images.float(), torch.tensor([0, 1, 0, 1]), ["a", "b"])
    with pytest.raises(InvalidInputError, match="targets must index the 2 classes"):
        ImageDataset("toy", "train", images, torch.tensor([0, 1, 0, 2]), ["a", "b"])
