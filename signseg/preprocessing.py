"""What a classifier expects at its input, and the one place images are converted to it.

Generators, data sets and visualizations all produce RGB (or grey) images in ``[0, 1]``;
every model in the zoo carries a :class:`Preprocessing` that says how to turn such an
image into the network's input (resize, channel count, mean/std normalisation).
Natural images get the network's evaluation transform (resize and centre crop); generated
images are resized whole (``crop=False``) so that no pixel lies outside the objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .errors import InvalidInputError

__all__ = ["Preprocessing", "IMAGENET"]


@dataclass(frozen=True)
class Preprocessing:
    """Input specification of a classifier.

    Attributes
    ----------
    size:
        Side length (pixels) of the square input the network was trained on.
    mean, std:
        Per-channel normalisation applied after resizing; one value per input channel.
    channels:
        Number of input channels (3 for RGB, 1 for grey).
    resize_size:
        For evaluation on natural images (torchvision style): resize the shorter side to
        this and centre-crop ``size``. ``None`` means resize directly to ``size``. Generated
        images are never cropped (``crop=False`` in :meth:`__call__`).
    """

    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int = 3
    resize_size: int | None = None
    interpolation: str = field(default="bilinear")

    def __post_init__(self) -> None:
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise InvalidInputError(
                f"Preprocessing needs one mean and one std per channel: got {len(self.mean)} "
                f"means and {len(self.std)} stds for {self.channels} channels."
            )
        if self.resize_size is not None and self.resize_size < self.size:
            raise InvalidInputError(
                f"Preprocessing resize_size ({self.resize_size}) must be at least size "
                f"({self.size}): the shorter side is resized to resize_size and a size x size "
                "centre crop taken from it. Use resize_size=None to resize directly to size."
            )

    def __call__(self, images: torch.Tensor, crop: bool = True) -> torch.Tensor:
        """Convert images in ``[0, 1]`` (``[B, C, H, W]`` or ``[C, H, W]``) to network input.

        Converts RGB to grey or grey to RGB when the channel count differs, resizes
        (antialiased bilinear) to ``size`` x ``size`` and normalises by ``mean`` and ``std``.

        Parameters
        ----------
        images:
            Float images in ``[0, 1]``.
        crop:
            ``True`` (natural images): torchvision's evaluation transform -- resize the
            shorter side to ``resize_size`` (keeping the aspect ratio) and centre-crop
            ``size``; images whose shorter side is below ``resize_size`` (e.g. 32 px CIFAR-10
            shown to an ImageNet network), and models without ``resize_size``, are resized
            whole instead. ``False`` (generated images): always resize the *whole* image to
            ``size`` x ``size``, so that every pixel reaches the network -- what the Ponce
            lab's scorer does with a generator's 256 px image (``TorchScorer.preprocess`` in
            ``core/CNN_scorers.py`` of https://github.com/Animadversio/ActMax-Optimizer-Dev:
            ``F.interpolate(img, (227, 227), mode="bilinear")``, no crop). With AlexNet's or
            VGG's crop (224 of 256) a 256 px DeePSiM image would lose a 16 px frame, 23% of
            its pixels, that the optimizer could never change.
        """
        squeeze = images.dim() == 3
        if squeeze:
            images = images.unsqueeze(0)
        if images.dim() != 4:
            raise InvalidInputError(
                f"expected images of shape [B, C, H, W] or [C, H, W], got {tuple(images.shape)}"
            )
        images = images.float()
        if torch.isnan(images).any():
            raise InvalidInputError("images contain NaN values; expected finite values in [0, 1]")
        images = self._match_channels(images)
        if images.shape[-2:] != (self.size, self.size):
            height, width = images.shape[-2:]
            if crop and self.resize_size is not None and min(height, width) >= self.resize_size:
                images = self._center_crop(self._resize_shorter_side(images))
            else:
                images = self._resize(images, (self.size, self.size))
        mean = images.new_tensor(self.mean).view(1, -1, 1, 1)
        std = images.new_tensor(self.std).view(1, -1, 1, 1)
        out = (images - mean) / std
        return out[0] if squeeze else out

    def _resize(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(
            images, size=size, mode=self.interpolation, antialias=True, align_corners=False
        )

    def _resize_shorter_side(self, images: torch.Tensor) -> torch.Tensor:
        """Resize so the shorter side is ``resize_size``, keeping the aspect ratio (the long
        side is truncated to an integer, as torchvision's ``Resize(int)``)."""
        height, width = images.shape[-2:]
        short, long = (height, width) if height <= width else (width, height)
        new_long = int(self.resize_size * long / short)
        size = (self.resize_size, new_long) if height <= width else (new_long, self.resize_size)
        return self._resize(images, size)

    def _center_crop(self, images: torch.Tensor) -> torch.Tensor:
        """The central ``size`` x ``size`` window (offsets rounded as torchvision's)."""
        top = int(round((images.shape[-2] - self.size) / 2.0))
        left = int(round((images.shape[-1] - self.size) / 2.0))
        return images[..., top : top + self.size, left : left + self.size]

    def _match_channels(self, images: torch.Tensor) -> torch.Tensor:
        have = images.shape[1]
        if have == self.channels:
            return images
        if have == 3 and self.channels == 1:
            weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
            return (images * weights).sum(1, keepdim=True)
        if have == 1 and self.channels == 3:
            return images.expand(-1, 3, -1, -1)
        raise InvalidInputError(
            f"cannot convert {have}-channel images to the {self.channels} channels this "
            "model expects"
        )


#: torchvision's ImageNet evaluation preprocessing (224 px crop of a 256 px resize).
IMAGENET = Preprocessing(
    size=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), resize_size=256
)
