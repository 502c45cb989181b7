"""Background-challenge variants from object boxes: every pixel of tiny hand-made images,
the partners' classes, determinism, and accuracy under ablation on the variants."""

import numpy as np
import pytest
import torch

from signseg import analysis, zoo
from signseg.ablation import ablated
from signseg.data import box_backgrounds as bb
from signseg.data.dataset import ImageDataset
from signseg.data.pairing import random_members, random_other_classes
from signseg.errors import InvalidInputError

H, W = 4, 6


def _hand_set() -> ImageDataset:
    """Four 1-channel 4 x 6 images with distinct pixel values; image 3's box is the whole image.

    Boxes (x0, y0, x1, y1), worked by hand (strip = the largest background rectangle):
    0: (1, 0, 2, 1) -> below (rows 2-3, 12 px) ties right (cols 3-5, 12 px): below wins.
    1: (3, 1, 5, 3) -> left (cols 0-2, 12 px) beats above (row 0, 6 px).
    2: (0, 0, 1, 3) -> right (cols 2-5, 16 px).
    3: (0, 0, 5, 3) -> no background: left out.
    """
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    images = np.stack([50 * k + 6 * rows + cols + 1 for k in range(4)])[:, None].astype(np.uint8)
    boxes = torch.tensor([[1, 0, 2, 1], [3, 1, 5, 3], [0, 0, 1, 3], [0, 0, 5, 3]])
    return ImageDataset("hand", "val", torch.from_numpy(images), torch.tensor([0, 0, 1, 1]),
                        ["a", "b"], meta={"boxes": boxes})


def _expected_tiled(images: np.ndarray) -> np.ndarray:
    """only_bg_t of images 0-2 of the hand set, written out pixel by pixel."""
    out = images[:3, 0].copy()
    out[0, 0, 1:3] = images[0, 0, 2, 1:3]  # rows 0, 1 of the box repeat rows 2, 3 below it
    out[0, 1, 1:3] = images[0, 0, 3, 1:3]
    out[1, 1:4, 3:6] = images[1, 0, 1:4, 0:3]  # cols 3, 4, 5 repeat cols 0, 1, 2 to the left
    out[2, :, 0] = images[2, 0, :, 4]  # cols 0, 1 continue the tiling of cols 2-5: 4, 5
    out[2, :, 1] = images[2, 0, :, 5]
    return out[:, None]


def test_strips_and_tiling_by_hand():
    dataset = _hand_set()
    strips = bb.background_strips(dataset.meta["boxes"], H, W)
    assert strips.tolist() == [[2, 4, 0, 6], [0, 4, 0, 3], [0, 4, 2, 6], [0, 0, 0, 6]]
    assert bb.usable_boxes(dataset.meta["boxes"], H, W).tolist() == [True, True, True, False]
    images = dataset.images.numpy()
    tiled = bb.tiled_backgrounds(dataset.images[:3], dataset.meta["boxes"][:3])
    assert np.array_equal(tiled.numpy(), _expected_tiled(images))
    with pytest.raises(InvalidInputError, match="no background beside their box"):
        bb.tiled_backgrounds(dataset.images, dataset.meta["boxes"])


def test_every_variant_pixel_by_pixel():
    dataset = _hand_set()
    images = dataset.images.numpy()[:3]
    variants = bb.background_challenge(dataset, seed=0)
    assert list(variants) == list(bb.VARIANTS)
    inside = np.zeros((3, 1, H, W), dtype=bool)
    inside[0, :, 0:2, 1:3] = inside[1, :, 1:4, 3:6] = inside[2, :, :, 0:2] = True
    tiled = _expected_tiled(dataset.images.numpy())
    expected = {
        "original": images,
        "only_fg": np.where(inside, images, 0),
        "no_fg": np.where(inside, 0, images),
        "only_bg_b": np.where(inside, 0, images),
        "only_bg_t": tiled,
    }
    for name, pixels in expected.items():
        assert np.array_equal(variants[name].images.numpy(), pixels), name
    # mixed_same: 0 <-> 1 (the only other image of class 0); 2 is alone in class 1 -> itself
    same = variants["mixed_same"]
    assert same.meta["background_source"].tolist() == [1, 0, 2]
    assert np.array_equal(same.images.numpy(), np.where(inside, images, tiled[[1, 0, 2]]))
    # mixed_rand: the other class; image 2's partner is image 0 or 1 (seeded)
    rand = variants["mixed_rand"]
    partner = rand.meta["background_source"].tolist()
    assert partner[:2] == [2, 2] and partner[2] in (0, 1)
    assert np.array_equal(rand.images.numpy(), np.where(inside, images, tiled[partner]))
    assert rand.meta["background_class"].tolist() == [1, 1, 0]
    for name, variant in variants.items():
        assert isinstance(variant, ImageDataset) and variant.targets.tolist() == [0, 0, 1]
        assert variant.meta["source"].tolist() == [0, 1, 2]
        shows_object = name in ("original", "only_fg", "mixed_same", "mixed_rand")
        assert np.array_equal(variant.masks.numpy(), inside[:, 0] & shows_object), name
    assert variants["only_fg"].meta["background_source"].tolist() == [-1, -1, -1]
    assert variants["only_bg_t"].meta["background_source"].tolist() == [0, 1, 2]


def _random_set(n=40, classes=4, size=16, seed=0) -> ImageDataset:
    rng = np.random.default_rng(seed)
    images = torch.from_numpy(rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8))
    x0, y0 = rng.integers(0, size // 2, (2, n))
    x1, y1 = x0 + rng.integers(1, size // 2, n), y0 + rng.integers(1, size // 2, n)
    boxes = torch.from_numpy(np.stack([x0, y0, x1, y1], 1))
    return ImageDataset("random", "val", images, torch.from_numpy(np.arange(n) % classes),
                        [f"c{i}" for i in range(classes)], meta={"boxes": boxes})


def test_partners_are_seeded_and_do_not_depend_on_the_variants_asked_for():
    dataset = _random_set()
    first = bb.background_challenge(dataset, seed=1)
    again = bb.background_challenge(dataset, ["mixed_rand"], seed=1)
    other = bb.background_challenge(dataset, seed=2)
    assert torch.equal(first["mixed_rand"].images, again["mixed_rand"].images)
    assert not torch.equal(first["mixed_same"].meta["background_source"],
                           other["mixed_same"].meta["background_source"])
    same, rand = first["mixed_same"].meta, first["mixed_rand"].meta
    assert torch.equal(same["background_class"], first["original"].targets)
    assert (same["background_source"] != same["source"]).all()
    assert (rand["background_class"] != first["original"].targets).all()


def test_pairing_helpers_by_hand():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 2, 2, 2])
    members = random_members(rng, labels, labels)
    assert members[:3].tolist() == [1, 0, 2] and all(m in (3, 4, 5) and m != i for i, m in
                                                       zip(range(3, 6), members[3:]))
    others = random_other_classes(np.random.default_rng(1), np.repeat(labels, 50))
    assert (others != np.repeat(labels, 50)).all() and set(others.tolist()) == {0, 1, 2}
    with pytest.raises(InvalidInputError, match="at least two classes"):
        random_other_classes(rng, np.zeros(3, dtype=np.int64))
    with pytest.raises(InvalidInputError, match="wanted class"):
        random_members(rng, labels, np.array([0, 0, 1, 2, 2, 7]))


def test_errors_name_the_argument():
    dataset = _hand_set()
    with pytest.raises(InvalidInputError, match="variants must be names"):
        bb.background_challenge(dataset, ["only_bg"])
    with pytest.raises(InvalidInputError, match="min_strip"):
        bb.background_challenge(dataset, min_strip=0.0)
    with pytest.raises(InvalidInputError, match="lower min_strip"):
        bb.background_challenge(dataset, min_strip=1.0)
    no_boxes = ImageDataset("x", "val", dataset.images, dataset.targets, dataset.classes)
    with pytest.raises(InvalidInputError, match="meta\\['boxes'\\]"):
        bb.background_challenge(no_boxes)


def test_accuracy_under_ablation_takes_the_variants_as_they_are():
    model = zoo.load("procedural_resnet8", pretrained=False, seed=0)
    dataset = _random_set(n=12, classes=10, size=32, seed=3)
    variants = bb.background_challenge(dataset, ["only_fg", "mixed_rand"], seed=0)
    table = analysis.accuracy_under_ablation(model, variants, ["negative"], [1.0])
    assert len(table) == 2 * 2
    for variant, split in variants.items():
        for alpha in (0.0, 1.0):
            with ablated(model.model, model.entry.readout, None, "negative", alpha), torch.no_grad():
                predicted = model.model(model.entry.preprocessing(split.float_images())).argmax(1)
            row = table[(table["variant"] == variant) & (table["alpha"] == alpha)].iloc[0]
            assert row["accuracy"] == pytest.approx(float((predicted == split.targets).float().mean()))
            assert row["n"] == len(split)


def test_accuracy_under_ablation_with_a_decision_rule():
    model = zoo.load("procedural_resnet8", pretrained=False, seed=0)
    dataset = _random_set(n=12, classes=5, size=32, seed=4)
    variants = bb.background_challenge(dataset, ["original"], seed=0)
    table = analysis.accuracy_under_ablation(model, variants, ["positive"], [],
                                             decide=lambda z: z.view(len(z), 5, 2).sum(2).argmax(1))
    with torch.no_grad():
        logits = model.model(model.entry.preprocessing(variants["original"].float_images()))
    expected = (logits.view(-1, 5, 2).sum(2).argmax(1) == variants["original"].targets).float().mean()
    assert table.iloc[0]["accuracy"] == pytest.approx(float(expected))
