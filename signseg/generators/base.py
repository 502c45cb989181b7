"""The common interface of every image generator: latent codes in, RGB images in [0, 1] out.

A generator is the search space of the gradient-free feature visualization (paper 3,
A.1, Fig. 8): the optimizer proposes codes, the generator renders them, the classifier
scores the renders. Every generator is an ``nn.Module`` with the same small surface:

* ``name``, ``code_dim``, ``output_size`` and ``default_sigma`` (the initial CMA-ES step
  size the paper, or this package for its offline priors, uses for it);
* ``init_codes(n, seed)``: the initial codes (small-norm vectors near the origin);
* ``forward(codes)``: ``[n, code_dim]`` codes to ``[n, 3, output_size, output_size]``
  float32 RGB images in ``[0, 1]``, on the generator's device;
* ``describe()``: one sentence for figure captions.

Subclasses implement ``_render`` (the map itself, on validated codes) and
``init_codes``; ``forward`` validates the codes once, here, for all of them.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import nn

from ..errors import InvalidInputError

__all__ = ["Generator", "seeded_generator"]


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (codes are drawn on the CPU so they
    are identical on every machine, then moved to the generator's device by ``forward``)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InvalidInputError(f"seed must be an integer, got {seed!r}")
    return torch.Generator(device="cpu").manual_seed(int(seed))


class Generator(nn.Module, ABC):
    """Base class of the latent-code -> image maps in :mod:`signseg.generators`.

    Attributes
    ----------
    name:
        Registry name (e.g. ``"deepsim-fc6"``).
    code_dim:
        Length of one latent code.
    output_size:
        Side length in pixels of the square RGB images produced.
    default_sigma:
        Initial CMA-ES step size for this generator (paper A.1: 3.0 for DeePSiM, 0.2 for
        BigGAN).
    trained_with:
        Zoo names of the networks whose features trained the generator (DeePSiM fc6:
        ``("alexnet",)``; a learned prior: its encoder). Their features are no fair judge of
        the generator's images (:func:`signseg.metrics.compare_generators` leaves them out).
    """

    name: str = "generator"
    trained_with: tuple[str, ...] = ()
    code_dim: int
    output_size: int
    default_sigma: float

    @abstractmethod
    def init_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        """Initial codes ``[n, code_dim]`` (float32, CPU), deterministic in ``seed``."""

    @abstractmethod
    def _render(self, codes: torch.Tensor) -> torch.Tensor:
        """Render validated float32 codes ``[n, code_dim]`` on the module's device."""

    @abstractmethod
    def describe(self) -> str:
        """One sentence describing the generator, for figure captions."""

    def sample_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` codes distributed like CMA-ES's first generation (float32, CPU).

        ``init_codes(n, seed) + default_sigma * N(0, I)``: around the initial codes with the
        initial step size, the distribution the search starts from. Rendered, they are the
        generator's "samples" (what its code space looks like before any selection).
        """
        n = self._check_count(n)
        noise = torch.randn(n, self.code_dim, generator=seeded_generator(seed + 1_000_003))
        return self.init_codes(n, seed) + self.default_sigma * noise

    def forward(self, codes: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Render latent codes as RGB images.

        Parameters
        ----------
        codes:
            ``[n, code_dim]`` tensor or array (any real dtype, any device).

        Returns
        -------
        torch.Tensor
            ``[n, 3, output_size, output_size]`` float32 images in ``[0, 1]`` on the
            generator's device (on the codes' device for generators without tensors).

        Raises
        ------
        InvalidInputError
            ``codes`` is not two-dimensional with ``code_dim`` columns, is empty, or holds
            NaN or infinite values.
        """
        return self._render(self.check_codes(codes))

    def check_codes(self, codes: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Validate ``codes`` and return them as float32 on the generator's device."""
        codes = torch.as_tensor(codes)
        if codes.dim() != 2 or codes.shape[1] != self.code_dim or codes.shape[0] == 0:
            raise InvalidInputError(
                f"{self.name} expects codes of shape [n, {self.code_dim}] with n >= 1, got "
                f"{tuple(codes.shape)}; stack single codes with codes[None] or torch.stack."
            )
        if codes.is_complex() or codes.dtype == torch.bool:
            raise InvalidInputError(f"{self.name} expects real-valued codes, got {codes.dtype}")
        device = self.device if self._has_tensors() else codes.device
        codes = codes.to(device=device, dtype=torch.float32)
        if not torch.isfinite(codes).all():
            raise InvalidInputError(
                f"{self.name} received codes with NaN or infinite values; the optimizer "
                "diverged or the codes were not initialised"
            )
        return codes

    def _has_tensors(self) -> bool:
        return next(itertools.chain(self.parameters(), self.buffers()), None) is not None

    @property
    def device(self) -> torch.device:
        """The device of the generator's parameters and buffers (CPU when it has none)."""
        tensor = next(itertools.chain(self.parameters(), self.buffers()), None)
        return tensor.device if tensor is not None else torch.device("cpu")

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, code_dim={self.code_dim}, output_size={self.output_size}, "
            f"default_sigma={self.default_sigma}"
        )

    @staticmethod
    def _check_count(n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InvalidInputError(f"the number of codes must be a positive integer, got {n!r}")
        return int(n)
