"""An embedded data set of shapes on textured backgrounds, with ground-truth masks.

Every image shows one foreground object, whose *shape* is the class, on a textured
background. Each class has its own background texture family; with probability
``p_agree`` an image's background comes from its class's family, otherwise from the
family of a uniformly drawn *other* class. So the background is a controllable shortcut:
``p_agree = 1`` makes it as predictive as the shape, ``p_agree = 0.1`` makes it carry no
information (every family equally likely), ``p_agree = 0`` makes it misleading.

Scenes
    * 10 shapes (the classes, :data:`CLASSES`), drawn with hard edges (no anti-aliasing),
      so the boolean mask is exactly the set of object pixels; random centre, size
      (radius 22-32 % of the image side) and rotation (+-15 degrees) keep the object inside
      the image. The object has one flat colour with every RGB channel either dark
      (0-0.12) or bright (0.88-1), so it stands out from the backgrounds and from grey.
    * 10 texture families (:data:`TEXTURES`), each mixing two colours of mid brightness
      (channels in 0.14-0.86) with random phase, frequency (+-25 %), orientation and colours.
    * Labels are balanced: ``n // 10`` or ``n // 10 + 1`` images per class, in random order.

Variants (after Xiao et al. 2020, "Noise or Signal: the role of image backgrounds in
object recognition"), all rendered from the *same* scenes for the same arguments:
    * ``original``: the object on its own background.
    * ``only_fg``: the object on blank mid-grey (``uint8`` value :data:`BLANK`).
    * ``only_bg``: the background alone (the texture continues where the object was);
      the mask is all ``False``; the label is still the object's class.
    * ``mixed_rand``: the object on the whole background of an image of a uniformly
      drawn class (a random image of that class, not the image itself when possible).
    * ``mixed_same``: the object on the background of another random image of its class.

Determinism: :func:`load` seeds ``numpy.random.default_rng`` from ``(seed, split)``, so
the same arguments always give identical bytes and the train and test splits differ.
Default sizes: 5,000 training and 1,000 test images (:data:`DEFAULT_N`). Generation is
vectorised: 10,000 images of 32 x 32 take 1-2 seconds on one CPU core.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from ..errors import InvalidInputError
from .dataset import ImageDataset
from .pairing import random_members

__all__ = [
    "CLASSES",
    "TEXTURES",
    "VARIANTS",
    "BLANK",
    "DEFAULT_N",
    "ProceduralBatch",
    "generate_batch",
    "load",
]

CLASSES = (
    "disk",
    "square",
    "triangle",
    "diamond",
    "cross",
    "ring",
    "horizontal-bar",
    "vertical-bar",
    "L-shape",
    "star",
)
"""Class names: the shape of the foreground object."""

TEXTURES = (
    "horizontal-stripes",
    "vertical-stripes",
    "diagonal-stripes",
    "checkerboard",
    "dots",
    "blobs",
    "noise",
    "rings",
    "grid",
    "gradient",
)
"""Background texture families; family ``k`` is the background of class ``k`` when they agree."""

VARIANTS = ("original", "only_fg", "only_bg", "mixed_rand", "mixed_same")
"""Background-challenge variants (Xiao et al. 2020)."""

BLANK = 128
"""``uint8`` grey value of the blank background of the ``only_fg`` variant."""

DEFAULT_N = {"train": 5000, "test": 1000}
"""Number of images per split when ``n`` is not given."""

_SPLIT_STREAM = {"train": 0, "test": 1}
_SEED_SALT = 0x5EED5E6  # separates these random streams from other uses of the same seed
_MIN_SIZE = 8


@dataclass(frozen=True)
class ProceduralBatch:
    """A batch of generated images.

    Attributes
    ----------
    images:
        ``uint8`` ``[n, 3, size, size]``.
    masks:
        ``bool`` ``[n, size, size]``: ``True`` on the object's pixels.
    labels:
        ``int64`` ``[n]``: the object's class (index into :data:`CLASSES`).
    textures:
        ``int64`` ``[n]``: texture family of the background shown (index into
        :data:`TEXTURES`), ``-1`` for ``only_fg``.
    background_source:
        ``int64`` ``[n]``: the image of the batch whose background is shown (the image
        itself for ``original`` and ``only_bg``, another one for ``mixed_*``), ``-1`` for
        ``only_fg``.
    """

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    textures: np.ndarray
    background_source: np.ndarray


@dataclass(frozen=True)
class _Scenes:
    """Everything drawn for a batch before a variant is composed."""

    labels: np.ndarray  # int64 [n]
    textures: np.ndarray  # int64 [n]
    masks: np.ndarray  # bool [n, H, W]
    colours: np.ndarray  # uint8 [n, 3]
    backgrounds: np.ndarray  # uint8 [n, 3, H, W]


def load(
    split: str = "train",
    *,
    n: int | None = None,
    size: int = 32,
    p_agree: float = 0.8,
    variant: str = "original",
    seed: int = 0,
) -> ImageDataset:
    """Generate one split of the procedural data set.

    Parameters
    ----------
    split:
        ``"train"`` or ``"test"``; the two splits use different random streams.
    n:
        Number of images (default :data:`DEFAULT_N` of the split).
    size:
        Image side length in pixels (at least 8).
    p_agree:
        Probability that an image's background texture is its class's family.
    variant:
        One of :data:`VARIANTS`.
    seed:
        Seed; with ``split`` it fixes every random choice.

    Returns
    -------
    ImageDataset
        With ``masks`` and ``meta = {"texture": ..., "background_source": ...}`` (see
        :class:`ProceduralBatch`).
    """
    if split not in _SPLIT_STREAM:
        raise InvalidInputError(f"split must be one of {sorted(_SPLIT_STREAM)}, got {split!r}.")
    count = DEFAULT_N[split] if n is None else n
    rng = np.random.default_rng([int(seed), _SPLIT_STREAM[split], _SEED_SALT])
    batch = generate_batch(rng, count, size=size, p_agree=p_agree, variant=variant)
    return ImageDataset(
        "procedural",
        split,
        torch.from_numpy(batch.images),
        torch.from_numpy(batch.labels),
        CLASSES,
        torch.from_numpy(batch.masks),
        {"texture": torch.from_numpy(batch.textures), "background_source": torch.from_numpy(batch.background_source)},
    )


def generate_batch(
    rng: np.random.Generator,
    n: int,
    *,
    size: int = 32,
    p_agree: float = 0.8,
    variant: str = "original",
) -> ProceduralBatch:
    """Generate ``n`` images with the random generator ``rng``.

    The scenes (labels, objects, backgrounds) are drawn first and do not depend on
    ``variant``; the variant's own draws (which image lends its background) come last.
    So two calls with equally seeded generators and different variants show the same
    objects and backgrounds, composed differently.

    Parameters
    ----------
    rng:
        Source of randomness (consumed).
    n:
        Number of images (at least 1).
    size:
        Image side length in pixels (at least 8).
    p_agree:
        Probability in ``[0, 1]`` that a background is from the class's texture family.
    variant:
        One of :data:`VARIANTS`.

    Returns
    -------
    ProceduralBatch
    """
    _check_arguments(n, size, p_agree, variant)
    scenes = _draw_scenes(rng, n, size, p_agree)
    return _compose(scenes, variant, rng)


def _check_arguments(n: int, size: int, p_agree: float, variant: str) -> None:
    """Raise :class:`InvalidInputError` for out-of-range generation arguments."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"n must be a positive integer, got {n!r}.")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < _MIN_SIZE:
        raise InvalidInputError(f"size must be an integer of at least {_MIN_SIZE} pixels, got {size!r}.")
    if not 0.0 <= float(p_agree) <= 1.0:
        raise InvalidInputError(f"p_agree must be a probability in [0, 1], got {p_agree!r}.")
    if variant not in VARIANTS:
        raise InvalidInputError(f"variant must be one of {list(VARIANTS)}, got {variant!r}.")


def _draw_scenes(rng: np.random.Generator, n: int, size: int, p_agree: float) -> _Scenes:
    """Draw labels, texture families, objects and backgrounds (in this fixed order)."""
    classes = len(CLASSES)
    labels = rng.permutation(np.arange(n) % classes).astype(np.int64)
    agree = rng.random(n) < p_agree
    other = (labels + rng.integers(1, classes, n)) % classes
    textures = np.where(agree, labels, other).astype(np.int64)
    masks = _render_shapes(rng, labels, size)
    colours = _object_colours(rng, n)
    backgrounds = _render_backgrounds(rng, textures, size)
    return _Scenes(labels, textures, masks, colours, backgrounds)


# --------------------------------------------------------------------------- shapes

ShapeFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _star(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Five-pointed star, one point up: the radius limit falls linearly between tips."""
    angle = np.arctan2(v, u) + np.pi / 2  # image y points down, so -pi/2 is "up"
    phase = (angle * 5 / (2 * np.pi)) % 1.0
    tip = 1.0 - np.abs(2.0 * phase - 1.0)  # 0 at the points, 1 between them
    return np.hypot(u, v) <= 1.0 - 0.55 * tip


def _l_shape(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """An upright L: a vertical stroke on the left and a foot to the right at the bottom."""
    stroke = (u >= -0.8) & (u <= -0.2) & (np.abs(v) <= 1.0)
    foot = (u >= -0.8) & (u <= 0.8) & (v >= 0.4) & (v <= 1.0)
    return stroke | foot


_SHAPES: tuple[ShapeFn, ...] = (
    lambda u, v: u * u + v * v <= 0.9**2,  # disk
    lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.78,  # square
    lambda u, v: (v <= 0.75) & (v >= -0.95 + np.sqrt(3.0) * np.abs(u)),  # triangle, apex up
    lambda u, v: np.abs(u) + np.abs(v) <= 1.05,  # diamond
    lambda u, v: (np.minimum(np.abs(u), np.abs(v)) <= 0.3) & (np.maximum(np.abs(u), np.abs(v)) <= 1.0),  # cross
    lambda u, v: (u * u + v * v <= 1.0) & (u * u + v * v >= 0.52**2),  # ring
    lambda u, v: (np.abs(u) <= 1.0) & (np.abs(v) <= 0.38),  # horizontal bar
    lambda u, v: (np.abs(u) <= 0.38) & (np.abs(v) <= 1.0),  # vertical bar
    _l_shape,
    _star,
)
"""Indicator of each class's shape in object coordinates (radius about 1, y down)."""


def _render_shapes(rng: np.random.Generator, labels: np.ndarray, size: int) -> np.ndarray:
    """Boolean object masks ``[n, size, size]`` with random centre, radius and rotation."""
    n = labels.shape[0]
    radius = size * rng.uniform(0.22, 0.32, n)
    centre = radius[:, None] + rng.random((n, 2)) * (size - 2 * radius)[:, None]
    angle = np.deg2rad(rng.uniform(-15.0, 15.0, n))
    masks = np.empty((n, size, size), dtype=bool)
    for label, shape in enumerate(_SHAPES):
        rows = np.flatnonzero(labels == label)
        if rows.size:
            masks[rows] = shape(*_object_coordinates(centre[rows], radius[rows], angle[rows], size))
    return masks


def _object_coordinates(
    centre: np.ndarray, radius: np.ndarray, angle: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(u, v)`` ``[m, size, size]`` in each object's frame.

    The frame is centred on ``centre`` (pixels, ``[m, 2]`` as x, y), rotated by ``angle``
    and scaled so that ``radius`` pixels is 1; ``v`` points down like image rows.
    """
    grid = np.arange(size, dtype=np.float32) + np.float32(0.5)
    dx = grid[None, None, :] - centre[:, 0, None, None].astype(np.float32)
    dy = grid[None, :, None] - centre[:, 1, None, None].astype(np.float32)
    scale = radius.astype(np.float32)[:, None, None]
    cos = np.cos(angle).astype(np.float32)[:, None, None] / scale
    sin = np.sin(angle).astype(np.float32)[:, None, None] / scale
    return cos * dx + sin * dy, cos * dy - sin * dx


def _object_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """``uint8`` ``[n, 3]`` object colours: each channel dark (0-0.12) or bright (0.88-1)."""
    bright = rng.random((n, 3)) < 0.5
    level = rng.uniform(0.0, 0.12, (n, 3))
    return _to_uint8(np.where(bright, 1.0 - level, level))


# --------------------------------------------------------------------------- textures


@dataclass(frozen=True)
class _TextureParams:
    """Per-image random parameters shared by all texture families (one row per image)."""

    x: np.ndarray  # pixel-centre coordinates [1, 1, size] (in units of the image side)
    y: np.ndarray  # [1, size, 1]
    jitter: np.ndarray  # frequency factor [m, 1, 1]
    phase: np.ndarray  # [m, 1, 1] in [0, 1)
    phase2: np.ndarray  # [m, 1, 1] in [0, 1)
    tilt: np.ndarray  # orientation jitter (radians) [m, 1, 1]
    direction: np.ndarray  # uniform direction (radians) [m, 1, 1]
    point: np.ndarray  # a random point of the image [m, 2, 1, 1]
    noise: np.ndarray  # per-cell uniform values [m, cells, cells], cells = ceil(size / (size // 32))
    size: int


def _rotated(params: _TextureParams, angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates rotated by ``angle``: (along, across)."""
    cos, sin = np.cos(angle), np.sin(angle)
    return cos * params.x + sin * params.y, cos * params.y - sin * params.x


def _stripes(params: _TextureParams, base_angle: float) -> np.ndarray:
    """Sinusoidal stripes whose wave runs along ``base_angle`` (+ tilt), period 18 % of the side."""
    along, _ = _rotated(params, base_angle + params.tilt)
    return 0.5 + 0.5 * np.sin(2 * np.pi * (along * params.jitter / 0.18 + params.phase))


def _checkerboard(params: _TextureParams) -> np.ndarray:
    """Checkerboard with squares of 12.5 % of the side."""
    along, across = _rotated(params, params.tilt)
    cells = params.jitter / 0.125
    return ((np.floor(along * cells + params.phase) + np.floor(across * cells + params.phase2)) % 2).astype(np.float64)


def _dots(params: _TextureParams) -> np.ndarray:
    """Lattice of round dots (spacing 22 % of the side, radius 30 % of the spacing)."""
    along, across = _rotated(params, params.tilt)
    cells = params.jitter / 0.22
    fu = (along * cells + params.phase) % 1.0 - 0.5
    fv = (across * cells + params.phase2) % 1.0 - 0.5
    return (fu * fu + fv * fv <= 0.3**2).astype(np.float64)


def _blobs(params: _TextureParams) -> np.ndarray:
    """Smooth low-frequency blobs: three plane waves of about 1-1.6 cycles per image."""
    total = 0.0
    for wave in range(3):
        angle = params.direction + wave * 2 * np.pi / 3
        along, _ = _rotated(params, angle)
        total = total + np.sin(2 * np.pi * (along * 1.3 * params.jitter + params.phase + wave * params.phase2))
    return 0.5 + 0.5 * np.tanh(1.5 * total / np.sqrt(1.5))


def _noise(params: _TextureParams) -> np.ndarray:
    """Independent uniform values per pixel (per cell of ``size // 32`` pixels when larger)."""
    cell = -(-params.size // params.noise.shape[1])
    return params.noise.repeat(cell, axis=1).repeat(cell, axis=2)[:, : params.size, : params.size]


def _rings(params: _TextureParams) -> np.ndarray:
    """Concentric sinusoidal rings around a random point (period 18 % of the side)."""
    radius = np.hypot(params.x - params.point[:, 0], params.y - params.point[:, 1])
    return 0.5 + 0.5 * np.sin(2 * np.pi * (radius * params.jitter / 0.18 + params.phase))


def _grid(params: _TextureParams) -> np.ndarray:
    """Thin grid lines (spacing 25 % of the side, width 16 % of the spacing)."""
    along, across = _rotated(params, params.tilt)
    cells = params.jitter / 0.25
    on_u = (along * cells + params.phase) % 1.0 < 0.16
    on_v = (across * cells + params.phase2) % 1.0 < 0.16
    return (on_u | on_v).astype(np.float64)


def _gradient(params: _TextureParams) -> np.ndarray:
    """A linear ramp in a uniformly random direction, centred on a random point."""
    along, _ = _rotated(params, params.direction)
    cos, sin = np.cos(params.direction), np.sin(params.direction)
    offset = cos * params.point[:, 0] + sin * params.point[:, 1]
    return np.clip(0.5 + (along - offset) / 0.9, 0.0, 1.0)


_TEXTURE_FNS: tuple[Callable[[_TextureParams], np.ndarray], ...] = (
    lambda params: _stripes(params, np.pi / 2),  # horizontal stripes: the wave runs down
    lambda params: _stripes(params, 0.0),  # vertical stripes: the wave runs across
    lambda params: _stripes(params, np.pi / 4),  # diagonal stripes
    _checkerboard,
    _dots,
    _blobs,
    _noise,
    _rings,
    _grid,
    _gradient,
)
"""Pattern of each texture family, values in ``[0, 1]``, indexed like :data:`TEXTURES`."""

def _texture_params(rng: np.random.Generator, m: int, size: int) -> _TextureParams:
    """Draw the random parameters of ``m`` textures."""
    grid = (np.arange(size, dtype=np.float64) + 0.5) / size
    cells = -(-size // max(1, size // 32))
    return _TextureParams(
        x=grid[None, None, :],
        y=grid[None, :, None],
        jitter=rng.uniform(0.8, 1.25, m)[:, None, None],
        phase=rng.random(m)[:, None, None],
        phase2=rng.random(m)[:, None, None],
        tilt=np.deg2rad(rng.uniform(-10.0, 10.0, m))[:, None, None],
        direction=rng.uniform(0.0, 2 * np.pi, m)[:, None, None],
        point=rng.random((m, 2))[:, :, None, None],
        noise=rng.random((m, cells, cells), dtype=np.float32),
        size=size,
    )


def _take(params: _TextureParams, rows: np.ndarray) -> _TextureParams:
    """The parameters of the textures at ``rows``."""
    return replace(
        params,
        jitter=params.jitter[rows],
        phase=params.phase[rows],
        phase2=params.phase2[rows],
        tilt=params.tilt[rows],
        direction=params.direction[rows],
        point=params.point[rows],
        noise=params.noise[rows],
    )


def _texture_patterns(rng: np.random.Generator, textures: np.ndarray, size: int) -> np.ndarray:
    """Pattern values ``[n, size, size]`` in ``[0, 1]`` of each image's texture family."""
    params = _texture_params(rng, textures.shape[0], size)
    patterns = np.empty((textures.shape[0], size, size), dtype=np.float32)
    for family, pattern in enumerate(_TEXTURE_FNS):
        rows = np.flatnonzero(textures == family)
        if rows.size:
            patterns[rows] = pattern(_take(params, rows))
    return patterns


def _render_backgrounds(rng: np.random.Generator, textures: np.ndarray, size: int) -> np.ndarray:
    """``uint8`` backgrounds ``[n, 3, size, size]``: each pattern mixes two jittered colours.

    The two colours are ``mean -+ contrast`` with ``mean`` in ``[0.38, 0.62]`` per channel
    and a mostly achromatic ``contrast`` of 0.06-0.24 per channel.
    """
    n = textures.shape[0]
    patterns = _texture_patterns(rng, textures, size)
    mean = rng.uniform(0.38, 0.62, (n, 3))
    contrast = rng.uniform(0.1, 0.2, (n, 1)) + rng.uniform(-0.04, 0.04, (n, 3))
    mean32 = mean.astype(np.float32)[:, :, None, None]
    contrast32 = contrast.astype(np.float32)[:, :, None, None]
    return _to_uint8(mean32 + contrast32 * (2.0 * patterns[:, None] - 1.0))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Map values in ``[0, 1]`` to ``uint8``: ``255 * value`` rounded half up."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- variants


def _compose(scenes: _Scenes, variant: str, rng: np.random.Generator) -> ProceduralBatch:
    """Put each object on the background the variant asks for."""
    n = scenes.labels.shape[0]
    own = np.arange(n, dtype=np.int64)
    masks = scenes.masks
    if variant == "original":
        source = own
    elif variant == "only_bg":
        source, masks = own, np.zeros_like(scenes.masks)
    elif variant == "mixed_rand":
        present = np.unique(scenes.labels)
        source = random_members(rng, scenes.labels, present[rng.integers(0, present.size, n)])
    elif variant == "mixed_same":
        source = random_members(rng, scenes.labels, scenes.labels)
    else:  # only_fg
        blank = np.full_like(scenes.backgrounds, BLANK)
        images = np.where(masks[:, None], scenes.colours[:, :, None, None], blank)
        missing = np.full(n, -1, dtype=np.int64)
        return ProceduralBatch(images, masks, scenes.labels, missing, missing.copy())
    images = np.where(masks[:, None], scenes.colours[:, :, None, None], scenes.backgrounds[source])
    return ProceduralBatch(images, masks, scenes.labels, scenes.textures[source], source)
