"""Latent code -> RGB image maps searched by the gradient-free feature visualization.

=====================  ===========  =============  =============  ==========================
name                   code_dim     output_size    default_sigma  source
=====================  ===========  =============  =============  ==========================
``deepsim-fc6``        4096         256            3.0            :mod:`.deepsim` (paper)
``biggan-deep-256``    256          256            0.2            :mod:`.biggan` (paper)
``fourier``            3264 (32px)  ``size`` (32)  1.0            :mod:`.prior` (offline)
``pixel``              3072 (32px)  ``size`` (32)  1.0            :mod:`.prior` (offline)
``learned``            derived      config (32)    derived (1.0)  :mod:`.learned` (trained)
=====================  ===========  =============  =============  ==========================

``load(name, **kwargs)`` builds one (downloading published weights for the paper's GANs
into the torch hub cache), ``names()`` lists them, and ``render_for(preprocessing,
generator, codes)`` renders codes straight to a classifier's input through its
:class:`~signseg.preprocessing.Preprocessing` -- the one place images are resized and
normalised; generated images are resized whole, never centre-cropped (``crop=False``).

``learned`` is the project's DeePSiM-style generator: it inverts a zoo model's hidden layer
and is trained (and cached) by :mod:`signseg.prior_training`; its code dimension, step size
and initial codes are derived from the statistics of the codes of its training images.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
import torch

from ..errors import InvalidInputError, UnknownNameError
from ..preprocessing import Preprocessing
from .base import Generator
from .biggan import BigGANDeep, load_biggan_deep_256
from .deepsim import DeePSiMFc6, load_deepsim_fc6
from .learned import LearnedPrior, load_learned
from .prior import FourierPrior, PixelPrior

__all__ = [
    "Generator",
    "DeePSiMFc6",
    "BigGANDeep",
    "FourierPrior",
    "PixelPrior",
    "LearnedPrior",
    "load",
    "names",
    "render_for",
]

_FACTORIES: dict[str, Callable[..., Generator]] = {
    DeePSiMFc6.name: load_deepsim_fc6,
    BigGANDeep.name: load_biggan_deep_256,
    FourierPrior.name: FourierPrior,
    PixelPrior.name: PixelPrior,
    LearnedPrior.name: load_learned,
}


def names() -> list[str]:
    """Names accepted by :func:`load`, sorted."""
    return sorted(_FACTORIES)


def load(name: str, **kwargs: Any) -> Generator:
    """Build the generator registered as ``name``.

    Parameters
    ----------
    name:
        One of :func:`names`.
    **kwargs:
        Options of that generator: ``download``/``progress`` for ``deepsim-fc6``, also
        ``truncation`` for ``biggan-deep-256``, ``size`` (and ``decay_power``,
        ``decorrelate`` for ``fourier``) for the offline priors; ``config`` (a
        :class:`~signseg.prior_training.PriorConfig` or its fields), ``encoder``, ``layer``,
        ``train_if_missing``, ``download`` and ``progress`` for ``learned``.

    Raises
    ------
    UnknownNameError
        ``name`` is not registered.
    InvalidInputError
        An option is not accepted by that generator.
    WeightsNotFoundError
        Published weights are neither cached nor downloadable.
    """
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown generator {name!r}; known generators: {', '.join(names())}"
        ) from None
    signature = inspect.signature(factory)
    try:
        signature.bind(**kwargs)
    except TypeError:
        accepted = ", ".join(p for p in signature.parameters if p != "self") or "none"
        raise InvalidInputError(
            f"generator {name!r} does not accept the options {sorted(kwargs)}; it accepts: "
            f"{accepted}"
        ) from None
    return factory(**kwargs)


def render_for(
    preprocessing: Preprocessing, generator: Generator, codes: torch.Tensor | np.ndarray
) -> torch.Tensor:
    """Render ``codes`` with ``generator`` and convert the images to a classifier's input.

    Returns ``preprocessing(generator(codes), crop=False)``: ``[n, channels, size, size]``
    normalised network input. The whole generated image is resized to the network's input
    (never centre-cropped), as the Ponce lab's scorer does, so that every pixel can change
    the score.
    """
    return preprocessing(generator(codes), crop=False)
