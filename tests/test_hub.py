"""Checkpoint records and verification: every external file is checked on download and load."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest
import torch

from signseg import hub, zoo
from signseg.errors import DamagedFileError, UnknownNameError
from signseg.metrics.perceptual import TRUNK_WEIGHTS

CONTENT = b"published checkpoint bytes"
URL = "https://example.org/files/tiny.pt"


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("SIGNSEG_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(hub.VERIFY_ENV, raising=False)
    folder = hub.checkpoint_dir()
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def tiny_record(monkeypatch: pytest.MonkeyPatch) -> hub.CheckpointRecord:
    """A record for ``tiny.pt`` whose SHA-256 is that of :data:`CONTENT`."""
    record = hub.CheckpointRecord("tiny", URL, "tiny.pt", hashlib.sha256(CONTENT).hexdigest(),
                                  what="tiny test checkpoint")
    records = {**hub.checkpoint_records(), "tiny.pt": record}
    monkeypatch.setattr(hub, "checkpoint_records", lambda: records)
    return record


def test_every_record_names_its_file_and_a_full_digest_or_none() -> None:
    records = hub.checkpoint_records()
    assert {"upconvGAN_fc6.pt", "biggan-deep-256-pytorch_model.bin", "biggan-deep-256-config.json",
            "yolo11n.pt"} <= set(records)
    for filename, record in records.items():
        # the published name, or (generic names such as SimSiam's model_best.pth.tar) it
        # behind a prefix that keeps it apart from other projects' files in the hub cache
        assert filename.endswith(record.url.rsplit("/", 1)[1]) and record.filename == filename
        assert record.sha256 is None or (len(record.sha256) == 64
                                         and int(record.sha256, 16) >= 0)


@pytest.mark.parametrize("name", zoo.names(source="torchvision"))
def test_torchvision_records_take_the_hash_prefix_from_the_file_name(name: str) -> None:
    from torchvision.models import get_model_weights

    url = get_model_weights(zoo.info(name).arch)[zoo.info(name).weights].url
    record = hub.checkpoint_record(url)
    stem = Path(url).stem
    assert record is not None and len(record.hash_prefix) >= 8
    assert stem.endswith("-" + record.hash_prefix)


def test_lpips_trunks_have_records() -> None:
    assert hub.checkpoint_record(TRUNK_WEIGHTS["alex"]).hash_prefix == "7be5be79"
    assert hub.checkpoint_record(TRUNK_WEIGHTS["vgg"]).hash_prefix == "397923af"


def test_a_stand_in_under_a_published_name_is_refused(torch_home: Path) -> None:
    # issue 11 case 4: any state dict saved as resnet18-f37072fd.pth loaded as pretrained
    path = torch_home / "resnet18-f37072fd.pth"
    torch.save(zoo.build("resnet18", seed=7).state_dict(), path)
    with pytest.raises(DamagedFileError) as info:
        zoo.load("resnet18", download=False, progress=False)
    message = str(info.value)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert str(path) in message and actual in message and "f37072fd" in message
    assert "verify=False" in message and hub.VERIFY_ENV in message


def test_opt_out_per_call_and_per_process(torch_home: Path, monkeypatch) -> None:
    from torchvision.models import ResNet18_Weights

    url = ResNet18_Weights.IMAGENET1K_V1.url
    path = torch_home / "resnet18-f37072fd.pth"
    path.write_bytes(b"my own file")
    assert hub.fetch_checkpoint(url, download=False, verify=False) == path
    monkeypatch.setenv(hub.VERIFY_ENV, "0")
    monkeypatch.setattr(hub, "_warned", set())
    with pytest.warns(UserWarning, match="NOT verified"):
        assert hub.fetch_checkpoint(url, download=False) == path
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert hub.fetch_checkpoint(url, download=False) == path


def test_matching_file_passes_and_its_digest_is_hashed_once(torch_home, tiny_record, monkeypatch):
    path = torch_home / "tiny.pt"
    path.write_bytes(CONTENT)
    assert hub.fetch_checkpoint(URL, download=False) == path

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed again")

    monkeypatch.setattr(hub, "_hash_file", no_hashing)
    assert hub.fetch_checkpoint(URL, download=False) == path  # served from the digest cache
    path.write_bytes(CONTENT[:-1])  # a changed size invalidates the cached digest
    with pytest.raises(AssertionError, match="hashed again"):
        hub.fetch_checkpoint(URL, download=False)


def test_truncated_file_is_refused_on_load(torch_home, tiny_record) -> None:
    path = torch_home / "tiny.pt"
    path.write_bytes(CONTENT[:5])
    with pytest.raises(DamagedFileError, match="tiny test checkpoint") as info:
        hub.fetch_checkpoint(URL, download=False)
    assert str(path) in str(info.value) and tiny_record.sha256 in str(info.value)


def test_downloads_are_verified_before_they_land(torch_home, tiny_record, monkeypatch) -> None:
    served = {"bytes": b"a corrupted download"}

    def fake_download(url: str, dst: str, progress: bool = True) -> None:
        Path(dst).write_bytes(served["bytes"])

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    with pytest.raises(DamagedFileError, match="the download of"):
        hub.fetch_checkpoint(URL)
    assert list(torch_home.iterdir()) == []  # nothing left under the published name
    served["bytes"] = CONTENT
    path = hub.fetch_checkpoint(URL)
    assert path.read_bytes() == CONTENT


def test_a_checkpoint_without_a_record_is_refused_unless_opted_out(torch_home) -> None:
    (torch_home / "mine.pt").write_bytes(b"x")
    with pytest.raises(UnknownNameError, match="checkpoints.yaml"):
        hub.fetch_checkpoint("https://example.org/mine.pt", download=False)
    assert hub.fetch_checkpoint("https://example.org/mine.pt", download=False, verify=False).is_file()


@pytest.mark.parametrize("content, problem", [
    (b"", "is empty"),
    (None, "cannot be read as a checkpoint"),  # truncated zip
    (b"not a checkpoint at all", "cannot be read as a checkpoint"),
])
def test_damaged_checkpoints_name_the_file(tmp_path: Path, content, problem) -> None:
    path = tmp_path / "weights.pth"
    if content is None:
        torch.save({"w": torch.ones(100)}, path)
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(DamagedFileError, match=problem) as info:
        hub.load_state_dict(path)
    assert str(path) in str(info.value) and "Delete it" in str(info.value)


def test_wrong_keyed_checkpoint_names_the_file_and_the_missing_entry(tmp_path: Path) -> None:
    path = tmp_path / "weights.pth"
    torch.save({"model": {"w": torch.ones(1)}}, path)
    with pytest.raises(DamagedFileError, match=r"lacks the entries \['state_dict'\]") as info:
        hub.load_state_dict(path, key="state_dict")
    assert str(path) in str(info.value)
    assert torch.equal(hub.load_state_dict(path, key="model")["w"], torch.ones(1))
