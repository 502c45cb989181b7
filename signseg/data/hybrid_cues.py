"""A style-transfer-free cue-conflict set: one image's shape, another image's texture.

Geirhos et al. (2019) measure shape bias with cue-conflict images rendered by style transfer
(the shape of one class in the texture of another; paper Fig. 16). Offline, without a
style-transfer network, the project builds *hybrid* images (after Oliva, Torralba & Schyns'
hybrid images, 2006) from a data set such as Tiny ImageNet-200's validation split:

* **Shape cue** -- image A's global low-frequency luminance: the coarse layout of light and
  dark that gives the object's silhouette and pose, without its texture or colour.
* **Texture cue** -- image B's texture and colour with its global shape destroyed: B's object
  box is cut into ``patch x patch`` pixel patches, which are shuffled and tiled over the
  whole image (:func:`scramble_patches`). Local texture, colour and patch statistics are
  B's; the arrangement is random.
* **Combination** (:func:`hybrid`) -- in a luminance/colour decomposition, with the ITU-R 601
  luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` (:func:`signseg.metrics.colour.luminance`)
  and a radial frequency weight ``g`` (1 up to ``low`` cycles per image, a raised-cosine
  fall to 0 at ``high``, :func:`low_pass_weights`), the hybrid of shape image ``S`` and
  texture image ``T`` is::

      x_c = T_c + F^-1[ g * (F Y_S - F Y_T) ]        (the same offset in every channel)

  so that, before clipping to ``[0, 1]``, the luminance of ``x`` has exactly S's Fourier
  coefficients where ``g = 1`` and exactly T's where ``g = 0`` (``F Y_x = g F Y_S +
  (1 - g) F Y_T``), and its colour (``x_c - Y_x``) is exactly T's at every pixel.

Cue-only controls, the same operation with one cue made neutral (a uniform grey field of
value ``neutral``, 0.5 by default):

* ``shape_only = hybrid(A, grey)`` -- A's low-passed luminance as a grey image;
* ``texture_only = hybrid(grey, B')`` -- the scrambled texture with its low-frequency
  luminance replaced by flat grey (its high frequencies and colour kept).

Each cue alone should be recognisable: check that the models classify both controls above
chance (:func:`signseg.analysis.accuracy_under_ablation` on :meth:`CueConflictSet.controls`).

Pairs: every image of the input data set is a shape image A once (its class is the shape
class); its texture partner B is a random image of a random *other* class
(:mod:`signseg.data.pairing`, seeded). Choices worth knowing:

* the texture comes from B's **box**, which is loose, so some of B's background texture is in
  it; a box smaller than ``patch`` in a dimension is widened (centred, inside the image);
* the patches of a box fill the image's ``(H // patch) x (W // patch)`` cells in random
  order, cycling through fresh permutations when the image has more cells than the box has
  patches, so every patch is used equally often (up to one); leftover rows and columns of the
  box (its size modulo ``patch``) are not used, and the grid of patches is centred in the box;
* values are clipped to ``[0, 1]`` and rounded to ``uint8`` (the share of clipped values is
  in ``meta["clipped"]``: about 9 % of the values of the hybrids of Tiny ImageNet, where a
  dark or bright region of A meets a contrasted texture);
* the sharp edges between patches are texture of the hybrid too (high frequencies), as in any
  patch-scrambled image.

Defaults (``patch = 8``, ``low = 6``, ``high = 10`` cycles per image; Tiny ImageNet's 64 px
images reach the project's models at 32 px, whose Nyquist frequency is 16 cycles per
image) were chosen so that both controls are above chance for the ``quick`` profile's
3-epoch models. Measured on 2,000 validation images (chance 0.5 %, Wilson 95 % intervals):
``tinyimagenet_resnet8`` shape-only 1.95 % [1.43, 2.65], texture-only 4.65 % [3.81, 5.66],
pairwise shape bias on the hybrids 0.34 [0.32, 0.36]; ``tinyimagenet_vgg11`` 2.35 %
[1.77, 3.11], 3.00 % [2.34, 3.84], 0.41 [0.39, 0.43]. A lower band (``low = 3``,
``high = 6``) leaves the grey, blurred shape cue barely above chance for these models
(1.2 % on 1,000 images).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InvalidInputError
from ..metrics.colour import luminance
from .dataset import ImageDataset
from .pairing import random_members, random_other_classes

__all__ = [
    "PATCH",
    "LOW",
    "HIGH",
    "NEUTRAL",
    "CueConflictSet",
    "low_pass_weights",
    "hybrid",
    "scramble_patches",
    "cue_conflict",
]

PATCH = 8
"""Default patch side (pixels) of the scrambled texture."""
LOW = 6.0
"""Default frequency (cycles per image) up to which the luminance is the shape image's."""
HIGH = 10.0
"""Default frequency (cycles per image) from which the luminance is the texture image's."""
NEUTRAL = 0.5
"""Grey value of the neutral cue in the controls."""

_SEED_SALT = 0xC0E5  # separates these random streams from other uses of the same seed
_CHUNK = 256  # images composed at a time


@dataclass(frozen=True)
class CueConflictSet:
    """Cue-conflict images and their cue-only controls.

    Attributes
    ----------
    conflict:
        Hybrid images; ``targets`` are the shape classes, ``meta["texture"]`` the
        texture classes, ``meta["shape_source"]`` / ``meta["texture_source"]`` the positions
        of images A and B in the input data set, ``meta["clipped"]`` the share of values
        clipped to ``[0, 1]``.
    shape_only:
        The shape cue alone (``targets``: shape classes).
    texture_only:
        The texture cue alone (``targets``: texture classes).
    """

    conflict: ImageDataset
    shape_only: ImageDataset
    texture_only: ImageDataset

    @property
    def shape_targets(self) -> torch.Tensor:
        """``int64`` ``[n]``: the class of each hybrid's shape image."""
        return self.conflict.targets

    @property
    def texture_targets(self) -> torch.Tensor:
        """``int64`` ``[n]``: the class of each hybrid's texture image."""
        return self.conflict.meta["texture"]

    def controls(self) -> dict[str, ImageDataset]:
        """``{"shape_only": ..., "texture_only": ...}`` for
        :func:`signseg.analysis.accuracy_under_ablation`."""
        return {"shape_only": self.shape_only, "texture_only": self.texture_only}

    def __len__(self) -> int:
        return len(self.conflict)


def low_pass_weights(height: int, width: int, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """Radial weight ``g`` ``[H, W]`` on the FFT grid (``torch.fft.fft2`` order).

    ``g = 1`` at radii ``r <= low``, ``g = 0`` at ``r >= high`` and
    ``g = (1 + cos(pi (r - low) / (high - low))) / 2`` between, where
    ``r = sqrt((f_y H)^2 + (f_x W)^2)`` is the frequency in cycles per image
    (``f`` from ``torch.fft.fftfreq``). ``low == high`` is a sharp cut (``g = 1`` for
    ``r <= low``). ``g`` is symmetric (``g(f) = g(-f)``), so filtering a real image stays real.
    """
    if not 0.0 <= float(low) <= float(high):
        raise InvalidInputError(
            f"low and high must satisfy 0 <= low <= high (cycles per image); got low={low}, high={high}.")
    fy = torch.fft.fftfreq(height, dtype=torch.float64) * height
    fx = torch.fft.fftfreq(width, dtype=torch.float64) * width
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    if high == low:
        return (radius <= low).double()
    ramp = 0.5 * (1.0 + torch.cos(torch.pi * (radius - low) / (high - low)))
    return torch.where(radius <= low, 1.0, torch.where(radius >= high, 0.0, ramp))


def _low_luminance(images: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """``F^-1[g F Y]``: the low-passed luminance ``[n, H, W]`` of float RGB images (same dtype)."""
    weights = low_pass_weights(*images.shape[-2:], low, high).to(images.dtype)
    return torch.fft.ifft2(weights * torch.fft.fft2(luminance(images))).real


def _combine(texture: torch.Tensor, low_shape: torch.Tensor | float,
             low_texture: torch.Tensor | float) -> torch.Tensor:
    """``texture`` with its low-passed luminance ``low_texture`` replaced by ``low_shape``."""
    offset = low_shape - low_texture
    return texture + (offset[:, None] if isinstance(offset, torch.Tensor) else offset)


def hybrid(shape: torch.Tensor, texture: torch.Tensor, low: float = LOW, high: float = HIGH) -> torch.Tensor:
    """Hybrid images: ``shape``'s low-frequency luminance, ``texture``'s rest (module docstring).

    Parameters
    ----------
    shape, texture:
        RGB images ``[n, 3, H, W]`` (float, any range); broadcastable against each other.
    low, high:
        Frequency band (cycles per image) of :func:`low_pass_weights`.

    Returns
    -------
    torch.Tensor
        ``[n, 3, H, W]`` in the inputs' floating dtype (float64 for integer inputs),
        **not** clipped: ``F Y_x = g F Y_shape + (1 - g) F Y_texture`` and
        ``x_c - Y_x = texture_c - Y_texture`` hold exactly (to rounding).
    """
    dtype = torch.promote_types(shape.dtype, texture.dtype)
    dtype = dtype if dtype.is_floating_point else torch.float64
    shape, texture = torch.broadcast_tensors(shape.to(dtype), texture.to(dtype))
    return _combine(texture, _low_luminance(shape, low, high), _low_luminance(texture, low, high))


def _patch_grid(box: torch.Tensor, patch: int, height: int, width: int) -> tuple[int, int, int, int]:
    """``(row0, col0, rows, cols)``: the patch grid centred in a box widened to ``patch``."""
    x0, y0, x1, y1 = (int(v) for v in box)
    spans = []
    for start, end, side in ((y0, y1, height), (x0, x1, width)):
        start, end = max(0, min(start, side - 1)), max(0, min(end, side - 1))
        length = end - start + 1
        if length < patch:  # widen around the centre, kept inside the image
            start = min(max(0, start - (patch - length) // 2), side - patch)
            length = patch
        count = length // patch
        spans.append((start + (length - count * patch) // 2, count))
    (row0, rows), (col0, cols) = spans
    return row0, col0, rows, cols


def scramble_patches(
    images: torch.Tensor,
    boxes: torch.Tensor | np.ndarray,
    patch: int = PATCH,
    rng: np.random.Generator | None = None,
) -> torch.Tensor:
    """Texture images: each image's box cut into patches, shuffled and tiled over the image.

    Parameters
    ----------
    images:
        ``[n, C, H, W]`` (any dtype) with ``H`` and ``W`` at least ``patch``.
    boxes:
        ``[n, 4]`` inclusive ``(x0, y0, x1, y1)``: where the texture is cut from.
    patch:
        Patch side in pixels.
    rng:
        Source of the shuffles (default ``numpy.random.default_rng(0)``).

    Returns
    -------
    torch.Tensor
        Same dtype, ``[n, C, H, W]``: cell ``(i, j)`` (pixels ``i * patch ...``) holds one of
        the box's patches; cells beyond the last whole one (``H`` or ``W`` not a multiple of
        ``patch``) hold the start of a patch. Patches are drawn as concatenated random
        permutations of the box's patches.
    """
    if isinstance(patch, bool) or not isinstance(patch, (int, np.integer)) or patch < 1:
        raise InvalidInputError(f"patch must be a positive integer (pixels), got {patch!r}.")
    if images.dim() != 4 or len(boxes) != images.shape[0]:
        raise InvalidInputError(
            f"images must be [n, C, H, W] with one box per image; got {tuple(images.shape)} and "
            f"{len(boxes)} boxes.")
    n, channels, height, width = images.shape
    if min(height, width) < patch:
        raise InvalidInputError(f"images of {height} x {width} pixels are smaller than patch={patch}.")
    rng = np.random.default_rng(0) if rng is None else rng
    boxes = torch.as_tensor(np.asarray(boxes), dtype=torch.int64)
    cells_y, cells_x = -(-height // patch), -(-width // patch)
    out = torch.empty((n, channels, cells_y * patch, cells_x * patch), dtype=images.dtype)
    for i in range(n):
        row0, col0, rows, cols = _patch_grid(boxes[i], patch, height, width)
        region = images[i, :, row0 : row0 + rows * patch, col0 : col0 + cols * patch]
        patches = region.reshape(channels, rows, patch, cols, patch).permute(1, 3, 0, 2, 4).reshape(
            rows * cols, channels, patch, patch)
        cells = cells_y * cells_x
        order = np.concatenate([rng.permutation(len(patches)) for _ in range(-(-cells // len(patches)))])
        tiles = patches[torch.from_numpy(order[:cells])]
        out[i] = tiles.reshape(cells_y, cells_x, channels, patch, patch).permute(2, 0, 3, 1, 4).reshape(
            channels, cells_y * patch, cells_x * patch)
    return out[..., :height, :width].contiguous()


def _to_uint8(images01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip to [0, 1] and round to uint8; also each image's share of clipped values."""
    clipped = ((images01 < 0) | (images01 > 1)).double().flatten(1).mean(dim=1)
    return (images01.clamp(0.0, 1.0) * 255.0 + 0.5).floor().to(torch.uint8), clipped


def _as_dataset(base: ImageDataset, parts: list[tuple[torch.Tensor, torch.Tensor]], targets: torch.Tensor,
                meta: dict[str, torch.Tensor]) -> ImageDataset:
    """Wrap chunks of ``(uint8 images, clipped share)``; ``meta["clipped"]`` holds the shares."""
    images, clipped = (torch.cat(column) for column in zip(*parts))
    return ImageDataset(base.name, base.split, images, targets, base.classes,
                        meta={**meta, "clipped": clipped}, class_ids=base.class_ids)


def cue_conflict(
    dataset: ImageDataset,
    *,
    seed: int = 0,
    patch: int = PATCH,
    low: float = LOW,
    high: float = HIGH,
    neutral: float = NEUTRAL,
) -> CueConflictSet:
    """Build hybrid cue-conflict images and their cue-only controls from a data set.

    Parameters
    ----------
    dataset:
        RGB images of at least two classes; ``meta["boxes"]`` names where each image's texture
        is cut from (without boxes the whole image is used).
    seed:
        Seed of the texture partners and of the patch shuffles.
    patch, low, high:
        Patch side (pixels) and frequency band (cycles per image), module docstring.
    neutral:
        Grey value in ``[0, 1]`` of the neutral cue of the controls.

    Returns
    -------
    CueConflictSet
        One hybrid per image of ``dataset`` (which is its shape image), in its order.
    """
    if dataset.images.shape[1] != 3:
        raise InvalidInputError(
            f"cue-conflict images need RGB images; {dataset.name} has {dataset.images.shape[1]} channel(s).")
    if not 0.0 <= float(neutral) <= 1.0:
        raise InvalidInputError(f"neutral must be a grey value in [0, 1], got {neutral!r}.")
    n, _, height, width = dataset.images.shape
    boxes = dataset.meta.get("boxes")
    if boxes is None:
        boxes = torch.tensor([[0, 0, width - 1, height - 1]]).expand(n, 4)
    labels = dataset.targets.numpy()
    rng = np.random.default_rng([int(seed), _SEED_SALT])
    partner = torch.from_numpy(random_members(rng, labels, random_other_classes(rng, labels)))
    parts: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"conflict": [], "shape": [], "texture": []}
    for start in range(0, n, _CHUNK):  # chunks bound the memory; the results do not depend on them
        chunk = slice(start, start + _CHUNK)
        texture = scramble_patches(dataset.images[partner[chunk]], boxes[partner[chunk]], patch, rng)
        texture = texture.float() / 255.0
        shape = dataset.images[chunk].float() / 255.0
        low_shape, low_texture = _low_luminance(shape, low, high), _low_luminance(texture, low, high)
        grey = torch.full_like(shape, float(neutral))
        parts["conflict"].append(_to_uint8(_combine(texture, low_shape, low_texture)))
        parts["shape"].append(_to_uint8(_combine(grey, low_shape, float(neutral))))
        parts["texture"].append(_to_uint8(_combine(texture, float(neutral), low_texture)))
    texture_target = dataset.targets[partner]
    meta = {"texture": texture_target, "shape_source": torch.arange(n), "texture_source": partner}
    conflict = _as_dataset(dataset, parts["conflict"], dataset.targets, meta)
    shape_only = _as_dataset(dataset, parts["shape"], dataset.targets, {"shape_source": torch.arange(n)})
    texture_only = _as_dataset(dataset, parts["texture"], texture_target, {"texture_source": partner})
    return CueConflictSet(conflict, shape_only, texture_only)
