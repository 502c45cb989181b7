"""Geirhos et al.'s cue-conflict stimuli and Xiao et al.'s backgrounds challenge: readers and scoring.

The published sets are written here as small fakes (:mod:`signseg.standins`) in exactly their
published layouts (texture-vs-shape's
``stimuli/style-transfer-preprocessed-512/<shape>/<shape><i>-<texture><j>.png``, model-vs-human's
``cue-conflict.tar.gz``, the challenge's ``bg_challenge/<variant>/val/<NN_class>/<image>`` tree
and archive, ``in_to_in9.json``); the decision rules are checked on hand-worked logits.
"""

import json
import math
import re
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from signseg import data, standins
from signseg.data import bgchallenge, cueconflict
from signseg.errors import DamagedFileError, DataNotFoundError, InvalidInputError

CATEGORIES = ["airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat", "chair",
              "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck"]
IN9_FOLDERS = ["00_dog", "01_bird", "02_wheeled vehicle", "03_reptile", "04_carnivore",
               "05_insect", "06_musical instrument", "07_primate", "08_fish"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh signseg cache, no SIGNSEG_DATA, and no network for downloads."""
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SIGNSEG_DATA", raising=False)

    def offline(url, dst, progress=True):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)


# file name -> grey value; shape folder is the name's first category; "dog10-dog3.png" has no conflict
STIMULI = standins.cue_conflict_stimuli(1)


def shape_folder(name: str) -> str:
    return re.match(r"[a-z]+", name).group()


def write_stimuli(folder: Path, names: dict = STIMULI) -> Path:
    return standins.write_tree(folder, standins.cue_conflict_files(names))


def test_texture_vs_shape_tree_is_read_with_shape_targets_and_texture_meta(tmp_path, monkeypatch):
    write_stimuli(tmp_path / "copy" / "texture-vs-shape" / "stimuli" / "style-transfer-preprocessed-512")
    monkeypatch.setenv("SIGNSEG_DATA", str(tmp_path / "copy"))
    stimuli = data.load("cue-conflict", "test", progress=False)
    assert (stimuli.name, stimuli.split, stimuli.classes) == ("cue-conflict", "test", CATEGORIES)
    assert stimuli.images.shape == (17, 3, 224, 224) and stimuli.images.dtype == torch.uint8
    # ImageFolder order: by shape folder, then file name ("dog1-..." before "dog10-...")
    names = sorted(STIMULI, key=lambda n: (shape_folder(n), n))
    for index, name in enumerate(names):
        shape, i, texture, j = cueconflict.parse_name(name)
        assert stimuli.targets[index] == CATEGORIES.index(shape), name
        assert stimuli.meta["texture"][index] == CATEGORIES.index(texture), name
        assert (stimuli.meta["shape_instance"][index], stimuli.meta["texture_instance"][index]) == (i, j)
        assert int(stimuli.images[index, 0, 5, 5]) == STIMULI[name]  # PNG: exact pixels
    assert cueconflict.parse_name("0001_s5n_dnn_0_airplane_00_airplane10-bicycle2.png") == (
        "airplane", 10, "bicycle", 2)


def test_model_vs_human_archive_and_its_download_give_the_same_set(tmp_path, monkeypatch):
    tree = write_stimuli(tmp_path / "tree" / "style-transfer-preprocessed-512")
    reference = data.load("cue-conflict", "test", root=tmp_path / "tree", progress=False)
    # cue-conflict/<category>/<file>.png
    archive = standins.write_archive(tmp_path / "release" / "cue-conflict.tar.gz",
                                     standins.cue_conflict_files(STIMULI), "cue-conflict")
    with tarfile.open(archive) as tar:
        assert "cue-conflict/airplane/airplane1-bear2.png" in tar.getnames()
    from_archive = data.load("cue-conflict", "test", root=archive.parent, progress=False)
    assert torch.equal(from_archive.images, reference.images)
    assert torch.equal(from_archive.targets, reference.targets)
    assert torch.equal(from_archive.meta["texture"], reference.meta["texture"])

    fetched = []

    def download(url, dst, progress=True):
        fetched.append(url)
        Path(dst).write_bytes(archive.read_bytes())

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    downloaded = data.load("cue-conflict", "test", progress=False)
    assert fetched == ["https://github.com/bethgelab/model-vs-human/releases/download/v0.1/cue-conflict.tar.gz"]
    assert torch.equal(downloaded.meta["texture"], reference.meta["texture"])
    assert (tmp_path / "cache" / "data" / "cue-conflict" / "cue-conflict.tar.gz").is_file()


def test_cue_conflict_offline_and_damaged_copies_say_what_to_do(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        data.load("cue-conflict", "test", root=tmp_path / "empty", progress=False)
    message = str(error.value)
    assert "no network in tests" in message and "cue-conflict.tar.gz" in message
    assert "github.com/rgeirhos/texture-vs-shape" in message and str(tmp_path / "cache") in message
    with pytest.raises(DataNotFoundError, match="download=False"):
        data.load("cue-conflict", "test", download=False)
    partial = {k: v for k, v in STIMULI.items() if not k.startswith("oven")}
    write_stimuli(tmp_path / "partial" / "cue-conflict", partial)
    with pytest.raises(DataNotFoundError, match=r"missing \['oven'\]"):
        data.load("cue-conflict", "test", root=tmp_path / "partial", progress=False)
    mixed = write_stimuli(tmp_path / "mixed" / "cue-conflict")
    misplaced = standins.cue_conflict_files({"dog2-cat1.png": 7})["dog/dog2-cat1.png"]
    standins.write_tree(mixed, {"cat/dog2-cat1.png": misplaced})
    with pytest.raises(DataNotFoundError, match=r"cat/dog2-cat1\.png names the shape 'dog'"):
        data.load("cue-conflict", "test", root=tmp_path / "mixed", progress=False)
    with pytest.raises(InvalidInputError, match="'test'"):
        data.load("cue-conflict", "train")
    with pytest.raises(InvalidInputError, match="not a cue-conflict stimulus name"):
        cueconflict.parse_name("airplane1-zebra2.png")


def probabilities_to_logits(p: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.log(p))


def test_sixteen_class_decisions_average_probabilities_over_each_category():
    rest = 995
    p1 = np.full(1000, 0.2 / rest)  # airplane one class at 0.2, bear four classes at 0.15
    p1[404] = 0.2
    p1[[294, 295, 296, 297]] = 0.15
    p2 = np.full(1000, 0.2 / 998)  # knife (499) and oven (766) tie at 0.4: the first wins
    p2[[499, 766]] = 0.4
    logits = probabilities_to_logits(np.stack([p1, p2]))
    means = cueconflict.category_probabilities(logits)
    assert means[0, CATEGORIES.index("airplane")] == pytest.approx(0.2)
    assert means[0, CATEGORIES.index("bear")] == pytest.approx(0.15)  # 0.6 in total, 0.15 on average
    assert means[0, CATEGORIES.index("dog")] == pytest.approx(0.2 / rest)
    # the mean rule picks airplane although bear holds three times its probability mass
    assert cueconflict.category_decisions(logits).tolist() == [CATEGORIES.index("airplane"),
                                                                CATEGORIES.index("knife")]
    assert len(cueconflict.IMAGENET_INDICES["dog"]) == 109 and len(cueconflict.IMAGENET_INDICES["bird"]) == 49
    with pytest.raises(InvalidInputError, match=r"\[N, 1000\]"):
        cueconflict.category_decisions(torch.zeros(2, 200))


def test_shape_bias_counts_shape_and_texture_decisions_on_conflicting_images():
    shape = [0, 0, 1, 2, 3, 4, 5]
    texture = [1, 1, 2, 3, 4, 5, 5]  # the last image has no conflict and is left out
    decisions = [0, 1, 1, 0, 3, 9, 5]  # shape, texture, shape, neither, shape, neither, (excluded)
    result = cueconflict.shape_bias(torch.tensor(decisions), torch.tensor(shape), torch.tensor(texture))
    assert (result.n, result.shape_hits, result.texture_hits) == (6, 3, 1)
    assert result.shape_bias == 0.75
    assert math.isnan(cueconflict.shape_bias([7], [0], [1]).shape_bias)


# --------------------------------------------------------------------------- backgrounds challenge


def write_bg(folder: Path, variants: dict) -> Path:
    """``bg_challenge/<variant>/val/<class>/<image>.JPEG``; two images per class, grey ``value``."""
    standins.write_tree(folder / "bg_challenge", standins.bg_challenge_files(variants, per_class=2))
    return folder


def test_challenge_tree_and_archive_give_each_variant_with_in9_labels(tmp_path):
    variants = {"original": 40, "mixed_rand": 140}
    write_bg(tmp_path / "copy", variants)
    archive_only = tmp_path / "archive"
    standins.write_archive(archive_only / "backgrounds_challenge_data.tar.gz",
                           standins.bg_challenge_files(variants, per_class=2), "bg_challenge")
    for root in (tmp_path / "copy", tmp_path / "copy" / "bg_challenge", archive_only):
        for variant, value in (("original", 40), ("mixed_rand", 140)):
            images = data.load("bg-challenge", "val", variant=variant, root=root, progress=False)
            assert images.classes == ["dog", "bird", "wheeled vehicle", "reptile", "carnivore",
                                      "insect", "musical instrument", "primate", "fish"]
            assert images.class_ids == IN9_FOLDERS
            assert images.targets.tolist() == [label for label in range(9) for _ in range(2)]
            # JPEG of a flat grey: within one level; the other variant is 100 levels away
            expected = torch.tensor([value + 2 * label for label in range(9) for _ in range(2)])
            assert (images.images[:, 0, 100, 100].int() - expected).abs().max() <= 1, (root, variant)
    with pytest.raises(DataNotFoundError, match="only_fg"):
        data.load("bg-challenge", "val", variant="only_fg", root=tmp_path / "copy", download=False)
    with pytest.raises(InvalidInputError, match="variant must be one of"):
        data.load("bg-challenge", "val", variant="mixed-rand")


def test_challenge_offline_and_partial_copies_say_what_to_do(tmp_path):
    with pytest.raises(DataNotFoundError) as error:
        data.load("bg-challenge", "val", progress=False)
    message = str(error.value)
    assert "backgrounds_challenge_data.tar.gz" in message and "no network in tests" in message
    assert "github.com/MadryLab/backgrounds_challenge/releases/download/data/" in message
    folder = write_bg(tmp_path / "partial", {"original": 40})
    for image in (folder / "bg_challenge" / "original" / "val" / "08_fish").iterdir():
        image.unlink()
    (folder / "bg_challenge" / "original" / "val" / "08_fish").rmdir()
    with pytest.raises(DataNotFoundError, match="not the 9 of IN-9"):
        data.load("bg-challenge", "val", root=folder, progress=False)


def write_mapping(path: Path, mapping: dict) -> None:
    standins.write_tree(path.parent, {path.name: json.dumps(mapping).encode()})


def test_in9_label_map_is_read_and_checked(tmp_path, monkeypatch):
    mapping = {str(i): -1 for i in range(1000)}
    mapping |= {"151": 0, "268": 0, "7": 1, "407": 2, "33": 3, "389": 8}
    write_mapping(tmp_path / "data" / "in_to_in9.json", mapping)
    labels = bgchallenge.in9_label_map(tmp_path / "data")
    assert labels.dtype == torch.int64 and labels.shape == (1000,)
    assert labels[[151, 268, 7, 407, 33, 389, 0, 999]].tolist() == [0, 0, 1, 2, 3, 8, -1, -1]
    monkeypatch.setenv("SIGNSEG_DATA", str(tmp_path / "data"))
    assert torch.equal(bgchallenge.in9_label_map(), labels)

    write_mapping(tmp_path / "bad" / "in_to_in9.json", {**mapping, "5": 9})
    with pytest.raises(DamagedFileError, match=r"in_to_in9\.json.*labels in -1\.\.8.*\(5, 9\)"):
        bgchallenge.in9_label_map(tmp_path / "bad")
    write_mapping(tmp_path / "short" / "in_to_in9.json", {str(i): -1 for i in range(999)})
    with pytest.raises(DamagedFileError, match=r"lacks the entries \['999'\]"):
        bgchallenge.in9_label_map(tmp_path / "short")
    with pytest.raises(DataNotFoundError, match="raw.githubusercontent.com/MadryLab/backgrounds_challenge"):
        bgchallenge.in9_label_map(tmp_path / "nowhere")


def test_in9_decisions_map_the_top1_imagenet_class():
    label_map = torch.full((1000,), -1, dtype=torch.int64)
    label_map[[151, 7, 407]] = torch.tensor([0, 1, 2])
    logits = torch.zeros(4, 1000)
    logits[0, 151] = 5.0  # a dog class -> 0
    logits[1, 7] = 1.0  # a bird class -> 1
    logits[2, 500] = 3.0  # outside IN-9 -> -1 (always wrong), even with dog second
    logits[2, 151] = 2.9
    logits[3, 407] = 0.1  # a wheeled vehicle, barely -> 2
    assert bgchallenge.in9_decisions(logits, label_map).tolist() == [0, 1, -1, 2]
    with pytest.raises(InvalidInputError, match=r"\[N, 1000\]"):
        bgchallenge.in9_decisions(torch.zeros(2, 9), label_map)


def test_challenge_sets_score_only_the_models_with_their_outputs():
    from types import SimpleNamespace

    from signseg.data.challenges import ChallengeSet

    imagenet = SimpleNamespace(classes=[f"c{i}" for i in range(1000)])
    tiny = SimpleNamespace(classes=[f"t{i}" for i in range(200)])
    models = {"resnet50": imagenet, "relu": tiny, "tanh": tiny, "robust": imagenet}
    published = ChallengeSet(None, cueconflict.category_probabilities, "Geirhos", outputs=1000)
    assert list(published.scorable(models)) == ["resnet50", "robust"]
    assert published.left_out(models) == ("Not scored: relu, tanh (these stimuli are scored from "
                                          "1000 output classes; they have others).")
    assert published.left_out({"relu": tiny}).endswith("classes; it has others).")
    offline = ChallengeSet(None, None, "hybrids", outputs=200)
    assert list(offline.scorable(models)) == ["relu", "tanh"]
    assert published.left_out({"resnet50": imagenet}) == ""
    assert list(ChallengeSet(None, None, "any").scorable(models)) == list(models)
