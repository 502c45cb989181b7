"""Objectness: the highest box confidence an object detector gives an image (Fig. 2E).

Definition (paper 4.2 and A.1): objectness of an image is the maximum bounding-box score of
an object detector on it; it is averaged over a unit's visualizations, over units per
network, then over networks (use :func:`signseg.metrics.stats.summarize` with
``nested=("network", "unit")``).

**Detector** (a substitution): the paper used YOLOv7, which has no maintained pip package.
The book uses Ultralytics YOLO (``pip install ultralytics``, in the ``paper`` extra), by
default **YOLO11n** (``yolo11n.pt``, COCO-trained, 2.6 M parameters, fast on a CPU);
``yolo11x.pt`` or ``yolov8x.pt`` are closer to YOLOv7's capacity. The score of an image is
the largest confidence (class probability of the best class) among the detector's boxes
after its own non-maximum suppression, run with a confidence threshold of 0 so that every
image gets a score in ``[0, 1]``; non-maximum suppression never removes the highest-scoring
box, so this equals the maximum over all raw candidate boxes.

**Weights** are fetched with :func:`signseg.hub.fetch_checkpoint` from the Ultralytics
assets release into the torch hub cache (``$TORCH_HOME/hub/checkpoints/yolo11n.pt``), like
every other pretrained file of the project -- not into Ultralytics' own ``weights_dir``.
Offline without the file a :class:`~signseg.errors.WeightsNotFoundError` names it and the
folder; no value is ever invented. Notebooks check :func:`objectness_available` first and
state when the metric was skipped.

Images are resized (antialiased bilinear) so that their longer side is ``imgsz`` (default
640, the detector's training resolution) and padded to a square with grey ``114/255``, as
Ultralytics' own letterboxing does.
"""

from __future__ import annotations

from types import ModuleType
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..optional import import_optional
from ..errors import InvalidInputError
from ..hub import checkpoint_path, fetch_checkpoint
from ._images import check_images

__all__ = [
    "DEFAULT_DETECTOR",
    "detector_url",
    "detector_weights_path",
    "objectness_available",
    "load_detector",
    "letterbox",
    "objectness",
]

#: Default detector weights file (Ultralytics YOLO11 nano, COCO).
DEFAULT_DETECTOR = "yolo11n.pt"

_ASSETS = "https://github.com/ultralytics/assets/releases/download/v8.3.0/"
_KNOWN = {f"yolo11{s}.pt" for s in "nsmlx"} | {f"yolov8{s}.pt" for s in "nsmlx"}
_PAD = 114.0 / 255.0


def detector_url(name: str = DEFAULT_DETECTOR) -> str:
    """Published address of a supported Ultralytics detector (``yolo11?.pt``, ``yolov8?.pt``)."""
    if name not in _KNOWN:
        raise InvalidInputError(
            f"unknown detector {name!r}; supported: {sorted(_KNOWN)}. A local weights file can "
            "be used by passing YOLO(path) to objectness(detector=...)."
        )
    return _ASSETS + name


def detector_weights_path(name: str = DEFAULT_DETECTOR) -> Path:
    """Where the detector's weights are expected (torch hub checkpoint folder)."""
    return checkpoint_path(detector_url(name))


def _import_ultralytics() -> ModuleType:
    return import_optional("ultralytics", "the objectness metric")


def objectness_available(name: str = DEFAULT_DETECTOR) -> tuple[bool, str]:
    """Whether :func:`objectness` can run offline now, and why not.

    Checks that ``ultralytics`` imports and that the weights file is cached; downloads
    nothing.

    Returns
    -------
    (available, reason)
        ``reason`` names the missing package or the missing file and its folder, or the
        weights path when available.
    """
    try:
        _import_ultralytics()
    except ImportError as exc:
        return False, str(exc)
    path = detector_weights_path(name)
    if not path.is_file():
        return False, (
            f"detector weights {path.name!r} are not in {str(path.parent)!r}; download "
            f"{detector_url(name)} there (or call load_detector(download=True) online)"
        )
    return True, f"{name} weights at {str(path)!r}"


def load_detector(name: str = DEFAULT_DETECTOR, download: bool = True) -> Any:
    """Load an Ultralytics detector from the torch hub cache, downloading it if allowed.

    Raises
    ------
    WeightsNotFoundError
        The weights are not cached and cannot be downloaded (names file and folder).
    ImportError
        ``ultralytics`` is not installed.
    """
    ultralytics = _import_ultralytics()
    path = fetch_checkpoint(detector_url(name), download=download, what=f"{name} detector weights")
    return ultralytics.YOLO(str(path))


def letterbox(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[n, 3, H, W]`` so the longer side is ``size``; pad to ``size`` x ``size``.

    Padding is grey ``114/255`` split evenly on both sides (Ultralytics' convention).
    """
    height, width = images.shape[-2:]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    if (new_h, new_w) != (height, width):
        images = F.interpolate(images, size=(new_h, new_w), mode="bilinear", antialias=True,
                               align_corners=False).clamp(0.0, 1.0)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    return F.pad(images, (left, size - new_w - left, top, size - new_h - top), value=_PAD)


def objectness(
    images: torch.Tensor,
    detector: Any = None,
    imgsz: int = 640,
    batch_size: int = 16,
    device: str = "cpu",
    download: bool = True,
) -> np.ndarray:
    """Maximum detection-box confidence of each image (module docstring for the details).

    Parameters
    ----------
    images:
        ``[n, 3, H, W]`` in ``[0, 1]``.
    detector:
        An Ultralytics ``YOLO`` object, a detector file name for :func:`load_detector`, or
        ``None`` for :data:`DEFAULT_DETECTOR`.
    imgsz:
        Detector input side in pixels, a multiple of 32.
    batch_size:
        Images per detector call.
    device:
        Device for the detector (``"cpu"``, ``"cuda:0"``, ...).
    download:
        Allow downloading the weights when ``detector`` is a name or ``None``.

    Returns
    -------
    numpy.ndarray
        ``[n]`` scores in ``[0, 1]``; 0 when the detector returns no box at all.
    """
    images = check_images(images)
    if images.shape[1] != 3:
        raise InvalidInputError(
            f"the detector needs RGB images [n, 3, H, W]; got {images.shape[1]} channels"
        )
    if imgsz < 32 or imgsz % 32:
        raise InvalidInputError(
            f"imgsz must be a positive multiple of 32 (the detector stride); got {imgsz}"
        )
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be positive; got {batch_size}")
    if detector is None or isinstance(detector, str):
        detector = load_detector(detector or DEFAULT_DETECTOR, download=download)
    scores = []
    for start in range(0, images.shape[0], batch_size):
        batch = letterbox(images[start : start + batch_size], imgsz)
        results = detector.predict(batch, conf=0.0, imgsz=imgsz, device=device, verbose=False)
        for result in results:
            confidences = result.boxes.conf
            scores.append(float(confidences.max()) if confidences.numel() else 0.0)
    return np.asarray(scores, dtype=np.float64)
