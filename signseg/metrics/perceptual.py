"""Perceptual similarity ``1 - LPIPS`` between image sets (paper Fig. 13).

LPIPS (Zhang et al. 2018) through the ``lpips`` package (``pip install lpips``; in the
``paper`` extra), version 0.1 with its learned linear layers, which ship inside the package.
Its backbone ("trunk") is a torchvision ImageNet network whose weights are *not* in the
package: they are fetched through :func:`signseg.hub.fetch_checkpoint` into the torch hub
cache (``$TORCH_HOME/hub/checkpoints``), and offline without the file a
:class:`~signseg.errors.WeightsNotFoundError` names the file and the folder.

Pairing as for the representational similarity: the similarity of two sets is the mean of
``1 - LPIPS(x_i, y_j)`` over all pairs of a control image ``i`` and an ablated image ``j``;
the ceiling is the control set against itself over pairs ``i != j``.

Each image's normalised trunk activations are computed once and reused for every pair, so
``n x m`` distances cost ``n + m`` forward passes and, per layer, one matrix product with the
package's learned channel weights; the result equals ``lpips.LPIPS.forward`` on every pair
(checked in the tests).
"""

from __future__ import annotations

from types import ModuleType
import warnings
from pathlib import Path
from typing import Literal

import torch

from ..optional import import_optional
from ..errors import InvalidInputError, WeightsNotFoundError
from ..hub import fetch_checkpoint, load_state_dict
from ._images import check_images
from .similarity import mean_pairwise

__all__ = ["TRUNK_WEIGHTS", "MIN_SIZE", "PerceptualSimilarity"]

#: torchvision ImageNet weights of the LPIPS trunks (``lpips`` builds them with
#: ``torchvision.models.<net>(pretrained=True)``, i.e. these files).
TRUNK_WEIGHTS: dict[str, str] = {
    "alex": "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    "vgg": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "squeeze": "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth",
}

#: Smallest image side each trunk accepts (the deepest LPIPS layer must keep >= 1 pixel).
MIN_SIZE = 32

Net = Literal["alex", "vgg", "squeeze"]


def _import_lpips() -> ModuleType:
    return import_optional("lpips", "the LPIPS metric")


def _trunk_state_dict(net: str, trunk: torch.nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """Map torchvision ``features.<i>.<param>`` keys onto the LPIPS ``slice<k>.<i>.<param>``."""
    features = {k[len("features."):]: v for k, v in load_state_dict(path).items()
                if k.startswith("features.")}
    mapped: dict[str, torch.Tensor] = {}
    for key in trunk.state_dict():
        source = key.split(".", 1)[1]  # drop "slice<k>."
        if source not in features:
            raise WeightsNotFoundError(
                f"the file {str(path)!r} is not a torchvision {net} checkpoint: it has no "
                f"entry 'features.{source}'. Delete it and fetch {TRUNK_WEIGHTS[net]} again."
            )
        mapped[key] = features[source]
    return mapped


class PerceptualSimilarity:
    """``1 - LPIPS`` between image sets.

    Parameters
    ----------
    net:
        LPIPS trunk: ``"alex"`` (the LPIPS authors' recommended default), ``"vgg"`` or
        ``"squeeze"``.
    download:
        Try to download the trunk weights when they are not cached.
    device:
        Where to run the network.
    batch_size:
        Images per trunk forward pass and per block of the distance computation.

    Raises
    ------
    WeightsNotFoundError
        The trunk weights are neither cached nor downloadable.
    ImportError
        The ``lpips`` package is not installed.
    """

    def __init__(
        self,
        net: Net = "alex",
        download: bool = True,
        device: str | torch.device = "cpu",
        batch_size: int = 32,
    ) -> None:
        if net not in TRUNK_WEIGHTS:
            raise InvalidInputError(f"net must be one of {sorted(TRUNK_WEIGHTS)}; got {net!r}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be positive; got {batch_size}")
        lpips = _import_lpips()
        path = fetch_checkpoint(
            TRUNK_WEIGHTS[net], download=download, what=f"LPIPS {net} trunk (torchvision weights)"
        )
        with warnings.catch_warnings():  # lpips builds its random trunk with `pretrained=False`
            warnings.filterwarnings(
                "ignore", message=".*(pretrained|weights).*", category=UserWarning
            )
            model = lpips.LPIPS(net=net, version="0.1", pnet_rand=True, verbose=False)
        model.net.load_state_dict(_trunk_state_dict(net, model.net, path))
        self.net = net
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.model = model.eval().to(self.device)
        self._normalize = lpips.normalize_tensor

    def _features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Unit-normalised trunk activations per LPIPS layer, for images in ``[0, 1]``."""
        if min(images.shape[-2:]) < MIN_SIZE:
            raise InvalidInputError(
                f"LPIPS needs images of at least {MIN_SIZE} x {MIN_SIZE} pixels; got "
                f"{tuple(images.shape[-2:])}. Upsample them first (e.g. "
                "torch.nn.functional.interpolate(x, size=64, mode='bilinear'))."
            )
        if images.shape[1] != 3:
            raise InvalidInputError(
                f"LPIPS needs RGB images [n, 3, H, W]; got {images.shape[1]} channels"
            )
        layers: list[list[torch.Tensor]] = []
        with torch.no_grad():
            for start in range(0, images.shape[0], self.batch_size):
                batch = images[start : start + self.batch_size].to(self.device)
                outs = self.model.net(self.model.scaling_layer(2.0 * batch - 1.0))
                layers.append([self._normalize(o) for o in outs])
        return [torch.cat(per_layer) for per_layer in zip(*layers)]

    def _layer_weights(self) -> list[torch.Tensor]:
        """The learned per-channel weights of each LPIPS layer (1 x 1 convolutions, no bias)."""
        return [lin.model[-1].weight.detach().reshape(-1).double() for lin in self.model.lins]

    def _distances(self, fa: list[torch.Tensor], fb: list[torch.Tensor]) -> torch.Tensor:
        """LPIPS distance ``[n, m]`` between every image of ``fa`` and every image of ``fb``.

        Per layer, ``mean_s sum_c w_c (a_cs - b_cs)^2`` is expanded into
        ``A_i + B_j - 2 <w a_i, b_j> / S`` so that all pairs come from one matrix product
        (float64, so the cancellation costs nothing measurable).
        """
        n, m = fa[0].shape[0], fb[0].shape[0]
        total = torch.zeros(n, m, dtype=torch.float64)
        for w, a_all, b_all in zip(self._layer_weights(), fa, fb):
            w = w.to(a_all.device).view(1, -1, 1, 1)
            spatial = a_all.shape[-2] * a_all.shape[-1]
            b = b_all.double()
            b_sq = (w * b * b).sum(dim=(1, 2, 3)).cpu() / spatial
            b_flat = b.flatten(1)
            for start in range(0, n, self.batch_size):
                a = a_all[start : start + self.batch_size].double()
                a_sq = (w * a * a).sum(dim=(1, 2, 3)).cpu() / spatial
                cross = ((w * a).flatten(1) @ b_flat.T).cpu() / spatial
                total[start : start + a.shape[0]] += a_sq[:, None] + b_sq[None, :] - 2.0 * cross
        return total

    def distance_matrix(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """LPIPS distances ``[n, m]`` between image sets ``a`` and ``b`` (``b=None``: ``a``)."""
        a = check_images(a, "images a")
        fa = self._features(a)
        if b is None:
            return self._distances(fa, fa)
        b = check_images(b, "images b")
        if a.shape[-2:] != b.shape[-2:]:
            raise InvalidInputError(
                f"LPIPS compares images of equal size; got {tuple(a.shape[-2:])} and "
                f"{tuple(b.shape[-2:])}. Resize one set first."
            )
        return self._distances(fa, self._features(b))

    def similarity(self, control: torch.Tensor, ablated: torch.Tensor) -> float:
        """Mean ``1 - LPIPS`` over all control x ablated pairs."""
        return mean_pairwise(1.0 - self.distance_matrix(control, ablated))

    def ceiling(self, control: torch.Tensor) -> float:
        """Mean ``1 - LPIPS`` over pairs ``i != j`` of the control set (needs >= 2 images)."""
        return mean_pairwise(1.0 - self.distance_matrix(control), exclude_diagonal=True)
