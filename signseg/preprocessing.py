"""What a classifier expects at its input, and the one place images are converted to it.

Generators, data sets and visualizations all produce RGB (or grey) images in ``[0, 1]``;
every model in the zoo carries a :class:`Preprocessing` that says how to turn such an
image into the network's input (resize, channel count, mean/std normalisation).
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
        this and centre-crop ``size``. ``None`` means resize directly to ``size``.
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

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Convert images in ``[0, 1]`` (``[B, C, H, W]`` or ``[C, H, W]``) to network input.

        Resizes (antialiased bilinear) to ``size`` x ``size``, converts RGB to grey or grey to
        RGB when the channel count differs, and normalises by ``mean`` and ``std``.
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
            if self.resize_size is not None and images.shape[-1] >= self.resize_size:
                images = F.interpolate(
                    images, size=self.resize_size, mode=self.interpolation, antialias=True,
                    align_corners=False,
                )
                top = (images.shape[-2] - self.size) // 2
                left = (images.shape[-1] - self.size) // 2
                images = images[..., top : top + self.size, left : left + self.size]
            else:
                images = F.interpolate(
                    images, size=(self.size, self.size), mode=self.interpolation,
                    antialias=True, align_corners=False,
                )
        mean = images.new_tensor(self.mean).view(1, -1, 1, 1)
        std = images.new_tensor(self.std).view(1, -1, 1, 1)
        out = (images - mean) / std
        return out[0] if squeeze else out

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
