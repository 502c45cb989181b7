"""Objectness with an Ultralytics detector (signseg.metrics.objectness).

Nothing is downloaded: the score pipeline runs on a detector built from its yaml config
with random weights, and the pretrained-weights path is tested offline for its error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from signseg.errors import InvalidInputError, WeightsNotFoundError
from signseg.metrics.objectness import (
    DEFAULT_DETECTOR,
    detector_url,
    letterbox,
    load_detector,
    objectness,
    objectness_available,
)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No network checks from ultralytics; an empty torch hub cache."""
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")  # random-weight stand-ins
    return tmp_path


@pytest.fixture(scope="module")
def random_detector(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a YOLO
    with pytest.MonkeyPatch.context() as patch:
        # ultralytics writes its settings file on first import: keep it out of ~/.config
        patch.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("ultralytics_config")))
        patch.setenv("YOLO_OFFLINE", "1")
        from ultralytics import YOLO

    torch.manual_seed(0)
    detector = YOLO("yolov8n.yaml")  # built from the config: random weights, no download
    # Ultralytics' default init shrinks activations to ~0 through the depth, so every image
    # would get the class-bias prior; a variance-preserving init makes scores image-dependent.
    with torch.no_grad():
        for module in detector.model.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        for branch in detector.model.model[-1].cv3:  # class-score convolutions
            branch[-1].bias.fill_(-3.0)
    return detector


def test_scores_are_per_image_in_unit_interval_and_equal_the_raw_maximum(
    random_detector,  # noqa: ANN001
) -> None:
    images = torch.rand(3, 3, 40, 56, generator=torch.Generator().manual_seed(0))
    scores = objectness(images, detector=random_detector, imgsz=64, batch_size=2)
    assert scores.shape == (3,) and scores.dtype == np.float64
    assert ((scores >= 0) & (scores <= 1)).all()
    # NMS keeps the best box: the score is the maximum class confidence over all candidates
    model = random_detector.model.eval()
    with torch.no_grad():
        raw = model(letterbox(images, 64))
    raw = raw[0] if isinstance(raw, (tuple, list)) else raw  # [n, 4 + classes, anchors]
    assert np.allclose(scores, raw[:, 4:].amax(dim=(1, 2)).numpy(), atol=1e-6)
    # different images, different scores; same images, same scores
    assert len(set(scores.round(12))) == 3
    assert np.array_equal(scores, objectness(images, detector=random_detector, imgsz=64))


def test_letterbox_keeps_aspect_ratio_and_pads_with_grey() -> None:
    images = torch.ones(1, 3, 20, 40)
    boxed = letterbox(images, 64)
    assert boxed.shape == (1, 3, 64, 64)
    assert torch.allclose(boxed[..., 16:48, :], torch.ones(1, 3, 32, 64))
    assert torch.allclose(boxed[..., :16, :], torch.full((1, 3, 16, 64), 114 / 255))
    assert torch.allclose(boxed[..., 48:, :], torch.full((1, 3, 16, 64), 114 / 255))
    square = torch.rand(2, 3, 64, 64)
    assert torch.equal(letterbox(square, 64), square)


def test_missing_weights_are_reported_not_invented(offline: Path) -> None:
    available, reason = objectness_available()
    assert available is False
    assert DEFAULT_DETECTOR in reason and str(offline / "hub" / "checkpoints") in reason
    with pytest.raises(WeightsNotFoundError) as info:
        load_detector(download=False)
    message = str(info.value)
    assert "yolo11n.pt" in message and str(offline / "hub" / "checkpoints") in message
    assert detector_url() in str(info.value)
    with pytest.raises(WeightsNotFoundError):
        objectness(torch.rand(1, 3, 32, 32), detector=None, download=False)


def test_cached_weights_are_found(offline: Path, random_detector) -> None:  # noqa: ANN001
    folder = offline / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    random_detector.save(folder / "yolov8n.pt")
    available, reason = objectness_available("yolov8n.pt")
    assert available and str(folder / "yolov8n.pt") in reason
    detector = load_detector("yolov8n.pt", download=False)
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    assert np.allclose(objectness(images, detector=detector, imgsz=64),
                       objectness(images, detector=random_detector, imgsz=64), atol=1e-6)


def test_invalid_arguments(random_detector) -> None:  # noqa: ANN001
    images = torch.rand(1, 3, 32, 32)
    with pytest.raises(InvalidInputError, match="multiple of 32"):
        objectness(images, detector=random_detector, imgsz=50)
    with pytest.raises(InvalidInputError, match="RGB"):
        objectness(torch.rand(1, 1, 32, 32), detector=random_detector, imgsz=64)
    with pytest.raises(InvalidInputError, match="unknown detector"):
        detector_url("yolov7.pt")
