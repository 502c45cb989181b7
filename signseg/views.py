"""Random augmented views of an image batch for self-supervised pretraining (SimSiam).

The SimSiam recipe (Chen & He 2020, appendix A; the MoCo v2 augmentations) without the
Gaussian blur, which the paper drops for 32 px images:

1. random resized crop, area fraction ``U(0.2, 1)``, aspect ratio log-uniform in
   ``[3/4, 4/3]`` (torchvision's ten tries, then the whole image), resized to the output size,
   and a horizontal flip with probability 1/2;
2. colour jitter with probability 0.8: brightness, contrast and saturation factors
   ``U(0.6, 1.4)``, hue shift ``U(-0.1, 0.1)``, applied in a random order per image (as
   torchvision's ``ColorJitter(0.4, 0.4, 0.4, 0.1)``);
3. grayscale with probability 0.2.

Everything is batched (one ``grid_sample`` for every crop and flip) and drawn from a
``torch.Generator``, so views are reproducible by seed. **Differences from torchvision**:
crop boxes are continuous (not rounded to whole pixels) and sampled bilinearly; images larger
than the output size are first resized to it (antialiased), so that a crop never
downsamples without antialiasing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "CROP_SCALE",
    "JITTER",
    "JITTER_PROBABILITY",
    "GRAYSCALE_PROBABILITY",
    "random_resized_crop",
    "color_jitter",
    "random_grayscale",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "simsiam_view",
]

#: Area fraction range of the random crops.
CROP_SCALE = (0.2, 1.0)
#: Aspect ratio range (width / height) of the random crops.
_CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)
#: Tries before falling back to the whole image (torchvision's).
_CROP_TRIES = 10
#: Colour jitter strengths: brightness, contrast, saturation, hue.
JITTER = (0.4, 0.4, 0.4, 0.1)
JITTER_PROBABILITY = 0.8
GRAYSCALE_PROBABILITY = 0.2
#: Luma weights of torchvision's tensor ``rgb_to_grayscale``.
_LUMA = (0.2989, 0.587, 0.114)


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _crop_boxes(batch: int, aspect: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Width and height of each crop as fractions of the image's (``aspect`` = width / height)."""
    area = _uniform((batch, _CROP_TRIES), *CROP_SCALE, generator)
    log_ratio = _uniform((batch, _CROP_TRIES), math.log(_CROP_RATIO[0]), math.log(_CROP_RATIO[1]), generator)
    ratio = torch.exp(log_ratio)
    width = torch.sqrt(area * ratio / aspect)
    height = torch.sqrt(area / ratio * aspect)
    valid = (width <= 1) & (height <= 1)
    first = valid.int().argmax(dim=1)  # the first valid try (0 if there is none)
    found = valid.any(dim=1)
    pick = torch.arange(batch)
    width = torch.where(found, width[pick, first], torch.ones(batch))
    height = torch.where(found, height[pick, first], torch.ones(batch))
    return width, height


def _shrink(images: torch.Tensor, size: int) -> torch.Tensor:
    """Images whose shorter side exceeds ``size`` resized (antialiased) to a shorter side of ``size``."""
    height, width = images.shape[-2:]
    scale = size / min(height, width)
    if scale >= 1:
        return images
    return F.interpolate(images, size=(round(height * scale), round(width * scale)),
                         mode="bilinear", antialias=True, align_corners=False)


def random_resized_crop(images: torch.Tensor, size: int, generator: torch.Generator,
                        flip: bool = True) -> torch.Tensor:
    """Random resized crops (and horizontal flips) of ``[B, C, H, W]`` images, ``size`` px out.

    Draws, in this order: the crops' ``_CROP_TRIES`` areas and ratios, the left and top
    offsets, then the flips.
    """
    images = _shrink(images, size)
    batch, _, height, width = images.shape
    crop_w, crop_h = _crop_boxes(batch, width / height, generator)
    left = torch.rand(batch, generator=generator) * (1 - crop_w)
    top = torch.rand(batch, generator=generator) * (1 - crop_h)
    mirror = torch.ones(batch)
    if flip:
        mirror = torch.where(torch.rand(batch, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = crop_w * mirror
    theta[:, 0, 2] = 2 * left + crop_w - 1  # the crop's centre in [-1, 1] coordinates
    theta[:, 1, 1] = crop_h
    theta[:, 1, 2] = 2 * top + crop_h - 1
    grid = F.affine_grid(theta.to(images.dtype), [batch, images.shape[1], size, size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _gray(images: torch.Tensor) -> torch.Tensor:
    """Luma ``[B, 1, H, W]`` of RGB images."""
    weights = images.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def rgb_to_hsv(images: torch.Tensor) -> torch.Tensor:
    """Hue, saturation and value in ``[0, 1]`` of RGB images ``[B, 3, H, W]`` (torchvision's formulas)."""
    r, g, b = images.unbind(dim=1)
    high = images.amax(dim=1)
    low = images.amin(dim=1)
    spread = high - low
    grey = spread == 0
    saturation = spread / torch.where(grey, torch.ones_like(high), high)
    divisor = torch.where(grey, torch.ones_like(spread), spread)
    rc, gc, bc = (high - r) / divisor, (high - g) / divisor, (high - b) / divisor
    hue = torch.where(high == r, bc - gc, torch.where(high == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(grey, torch.zeros_like(hue), hue)
    hue = torch.remainder(hue / 6.0, 1.0)
    return torch.stack([hue, saturation, high], dim=1)


def hsv_to_rgb(images: torch.Tensor) -> torch.Tensor:
    """RGB images from hue, saturation and value in ``[0, 1]`` (the inverse of :func:`rgb_to_hsv`)."""
    hue, saturation, value = images.unbind(dim=1)
    sector = torch.floor(hue * 6.0)
    fraction = hue * 6.0 - sector
    sector = sector.long() % 6
    p = value * (1 - saturation)
    q = value * (1 - saturation * fraction)
    t = value * (1 - saturation * (1 - fraction))
    # (r, g, b) of the six hue sectors
    table = torch.stack([
        torch.stack([value, t, p]), torch.stack([q, value, p]), torch.stack([p, value, t]),
        torch.stack([p, q, value]), torch.stack([t, p, value]), torch.stack([value, p, q]),
    ])  # [6, 3, B, H, W]
    index = sector.unsqueeze(0).unsqueeze(0).expand(1, 3, *sector.shape)
    return table.gather(0, index)[0].permute(1, 0, 2, 3).clamp(0, 1)


def _per_image(factor: torch.Tensor) -> torch.Tensor:
    return factor.view(-1, 1, 1, 1)


def _adjust(images: torch.Tensor, operation: int, factor: torch.Tensor) -> torch.Tensor:
    """Brightness (0), contrast (1), saturation (2) or hue (3) adjustment by per-image factors."""
    if operation == 0:
        return (images * _per_image(factor)).clamp(0, 1)
    if operation == 1:
        mean = _gray(images).mean(dim=(1, 2, 3), keepdim=True)
        return (_per_image(factor) * images + (1 - _per_image(factor)) * mean).clamp(0, 1)
    if operation == 2:
        return (_per_image(factor) * images + (1 - _per_image(factor)) * _gray(images)).clamp(0, 1)
    hsv = rgb_to_hsv(images)
    hue = torch.remainder(hsv[:, :1] + _per_image(factor), 1.0)
    return hsv_to_rgb(torch.cat([hue, hsv[:, 1:]], dim=1))


def color_jitter(images: torch.Tensor, generator: torch.Generator,
                 probability: float = JITTER_PROBABILITY) -> torch.Tensor:
    """torchvision's ``RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p)`` on RGB images in ``[0, 1]``.

    Each image gets its own factors and its own random order of the four adjustments.
    Draws, in this order: which images are jittered, the four factors, the orders.
    """
    batch = images.shape[0]
    apply = torch.rand(batch, generator=generator) < probability
    brightness, contrast, saturation, hue = JITTER
    factors = [
        _uniform((batch,), 1 - brightness, 1 + brightness, generator),
        _uniform((batch,), 1 - contrast, 1 + contrast, generator),
        _uniform((batch,), 1 - saturation, 1 + saturation, generator),
        _uniform((batch,), -hue, hue, generator),
    ]
    order = torch.argsort(torch.rand(batch, 4, generator=generator), dim=1)
    out = images
    for position in range(4):
        for operation in range(4):
            chosen = apply & (order[:, position] == operation)
            if chosen.any():
                adjusted = _adjust(out[chosen], operation, factors[operation][chosen])
                out = out.index_put((chosen.nonzero()[:, 0],), adjusted)
    return out


def random_grayscale(images: torch.Tensor, generator: torch.Generator,
                     probability: float = GRAYSCALE_PROBABILITY) -> torch.Tensor:
    """Replace each RGB image by its luma (three equal channels) with ``probability``."""
    chosen = torch.rand(images.shape[0], generator=generator) < probability
    return torch.where(_per_image(chosen), _gray(images).expand_as(images), images)


def simsiam_view(images01: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One augmented view (``[B, C, size, size]`` in ``[0, 1]``) of a batch of images in ``[0, 1]``.

    Crop and flip, then (RGB only) colour jitter and grayscale; see the module docstring.
    """
    view = random_resized_crop(images01, size, generator)
    if view.shape[1] == 3:
        view = random_grayscale(color_jitter(view, generator), generator)
    return view
