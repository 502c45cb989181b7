"""Tiny ImageNet-200: the official layout from a tree, a zip or a tar archive, boxes as masks."""

import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from signseg import data
from signseg.data import tinyimagenet
from signseg.errors import DataNotFoundError, InvalidInputError

WNIDS = ["n02", "n01", "n03"]  # deliberately unsorted: classes are ordered by sorted id
WORDS = {"n01": "goldfish, Carassius auratus", "n02": "tabby, tabby cat", "n03": "lemon", "n99": "unused"}


def _jpeg(value: int, mode: str = "RGB") -> bytes:
    array = np.full((64, 64, 3) if mode == "RGB" else (64, 64), value, dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")  # lossless: exact pixel values
    return buffer.getvalue()


def _layout() -> dict[str, bytes]:
    """A 3-class Tiny ImageNet in the official layout (paths below tiny-imagenet-200/)."""
    files = {
        "wnids.txt": "\n".join(WNIDS).encode() + b"\n",
        "words.txt": "".join(f"{k}\t{v}\n" for k, v in WORDS.items()).encode(),
    }
    for c, wnid in enumerate(WNIDS):
        boxes = []
        for i in (10, 2):  # file-name numbers out of order: _2 must come before _10
            name = f"{wnid}_{i}.JPEG"
            files[f"train/{wnid}/images/{name}"] = _jpeg(10 * c + i, "L" if (c, i) == (1, 2) else "RGB")
            boxes.append(f"{name}\t{i}\t{c}\t{i + 3}\t{c + 1}\n")
        files[f"train/{wnid}/{wnid}_boxes.txt"] = "".join(boxes).encode()
    files["train/n77/images/n77_0.JPEG"] = _jpeg(1)  # a folder wnids.txt does not list: ignored
    annotations = ["val_1.JPEG\tn03\t0\t0\t63\t63\n", "val_0.JPEG\tn01\t5\t6\t7\t8\n"]
    files["val/val_annotations.txt"] = "".join(annotations).encode()
    files["val/images/val_0.JPEG"] = _jpeg(200)
    files["val/images/val_1.JPEG"] = _jpeg(100)
    return files


def _write_tree(folder: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        path = folder / "tiny-imagenet-200" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def _write_tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for relative, content in files.items():
            info = tarfile.TarInfo(f"tiny-imagenet-200/{relative}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))


def test_tree_is_read_with_sorted_classes_boxes_masks_and_grey_converted(tmp_path):
    root = _write_tree(tmp_path / "data", _layout())
    train = data.load("tiny-imagenet", "train", root=root, download=False, progress=False)
    assert train.class_ids == ["n01", "n02", "n03"]
    assert train.classes == ["goldfish", "tabby", "lemon"]
    # class n01 (index 0) came second in wnids.txt; within a class _2 precedes _10
    assert train.targets.tolist() == [0, 0, 1, 1, 2, 2]
    assert train.images.shape == (6, 3, 64, 64) and train.images.dtype == torch.uint8
    # n01 is c=1 in WNIDS order: values 10 * 1 + i; n01_2 was saved grey and is now RGB
    assert train.images[0, :, 0, 0].tolist() == [12, 12, 12]
    assert train.images[1, :, 0, 0].tolist() == [20, 20, 20]
    box = train.meta["boxes"][0].tolist()
    assert box == [2, 1, 5, 2]  # x0, y0, x1, y1 of n01_2 (c = 1)
    mask = train.masks[0]
    assert mask.sum() == (5 - 2 + 1) * (2 - 1 + 1)  # inclusive coordinates
    assert mask[1:3, 2:6].all() and not mask[0].any() and not mask[:, 6].any()


def test_val_split_and_its_test_alias(tmp_path):
    root = _write_tree(tmp_path / "data", _layout())
    val = data.load("tiny-imagenet", "val", root=root, download=False, progress=False)
    test = data.load("tiny-imagenet", "test", root=root, download=False, progress=False)
    assert val.split == test.split == "val"
    assert val.targets.tolist() == [0, 2]  # val_0 (n01) then val_1 (n03)
    assert val.images[:, 0, 0, 0].tolist() == [200, 100]
    assert val.meta["boxes"].tolist() == [[5, 6, 7, 8], [0, 0, 63, 63]]
    assert val.masks[1].all() and int(val.masks[0].sum()) == 3 * 3
    assert torch.equal(val.images, test.images)
    with pytest.raises(InvalidInputError, match="splits"):
        tinyimagenet.load_tiny_imagenet("unlabelled", root=root, download=False)


def test_archives_give_the_same_arrays_as_the_tree(tmp_path):
    files = _layout()
    tree = data.load("tiny-imagenet", "train", root=_write_tree(tmp_path / "tree", files),
                     download=False, progress=False)
    tar = _write_tar(tmp_path / "tiny-imagenet-200-300.tar.gz", files)
    from_tar = data.load("tiny-imagenet", "train", root=tar, download=False, progress=False)
    folder = tmp_path / "with-archive"
    folder.mkdir()
    shutil.copy(tar, folder / tar.name)
    from_folder = data.load("tiny-imagenet", "train", root=folder, download=False, progress=False)
    for other in (from_tar, from_folder):
        assert torch.equal(other.images, tree.images) and torch.equal(other.targets, tree.targets)
        assert torch.equal(other.masks, tree.masks)


def test_second_load_reads_the_decoded_cache(tmp_path, monkeypatch):
    root = _write_tree(tmp_path / "data", _layout())
    first = data.load("tiny-imagenet", "train", root=root, download=False, progress=False)
    monkeypatch.setattr(tinyimagenet, "decode_images", lambda *a, **k: pytest.fail("decoded twice"))
    second = data.load("tiny-imagenet", "train", root=root, download=False, progress=False)
    assert torch.equal(first.images, second.images) and second.class_ids == first.class_ids


def test_missing_class_folder_and_box_file_are_named(tmp_path):
    files = {k: v for k, v in _layout().items() if not k.startswith("train/n03/images/")}
    root = _write_tree(tmp_path / "a", files)
    with pytest.raises(DataNotFoundError, match=r"n03 .*wnids.txt.*train/n03/images/"):
        data.load("tiny-imagenet", "train", root=root, download=False, progress=False)
    files = {k: v for k, v in _layout().items() if k != "train/n02/n02_boxes.txt"}
    root = _write_tree(tmp_path / "b", files)
    with pytest.raises(DataNotFoundError, match=r"train/n02/n02_boxes.txt is missing"):
        data.load("tiny-imagenet", "train", root=root, download=False, progress=False)
    files = _layout()
    files["val/val_annotations.txt"] += b"val_9.JPEG\tn01\t1\t2\n"
    root = _write_tree(tmp_path / "c", files)
    with pytest.raises(DataNotFoundError, match=r"val_annotations.txt, line 3: expected 6"):
        data.load("tiny-imagenet", "val", root=root, download=False, progress=False)


def test_nothing_found_names_the_files_to_provide(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"tiny-imagenet-200.zip.*tiny-imagenet-200-300.tar.gz"):
        data.load("tiny-imagenet", "val", root=tmp_path, download=False)


def test_a_damaged_official_zip_fails_its_md5(tmp_path):
    path = tmp_path / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for relative, content in _layout().items():
            archive.writestr(f"tiny-imagenet-200/{relative}", content)
    with pytest.raises(DataNotFoundError, match="published MD5"):
        data.load("tiny-imagenet", "val", root=tmp_path, download=False)


def test_boxes_to_masks_by_hand():
    masks = tinyimagenet.boxes_to_masks(np.array([[0, 0, 0, 0], [1, 2, 3, 2], [5, 5, 4, 9]]), (4, 6))
    assert masks.shape == (3, 4, 6)
    assert masks[0].sum() == 1 and masks[0, 0, 0]
    assert masks[1].nonzero().tolist() == [[2, 1], [2, 2], [2, 3]]
    assert not masks[2].any()  # x1 < x0: empty


@pytest.mark.skipif(not os.environ.get("SIGNSEG_DATA"), reason="needs the shared data (SIGNSEG_DATA)")
def test_shared_subset_has_200_classes_boxes_and_the_published_split_sizes():
    val = data.load("tiny-imagenet", "val", progress=False)
    assert len(val) == 10_000 and len(val.classes) == 200
    assert torch.bincount(val.targets, minlength=200).tolist() == [50] * 200
    assert val.class_ids[0] == "n01443537" and val.classes[0] == "goldfish"
    coverage = float(val.masks.float().mean())
    assert 0.3 < coverage < 0.8  # objects fill about half of a Tiny ImageNet image
