"""The same renders with torch-lucent itself, the library the paper used (App. A.3).

:func:`render_with_lucent` builds the images with Lucent's ``param.image(size, batch=n)``
(decorrelated Fourier parametrization, ``sd = 0.01``), transforms them with
``transform.standard_transforms`` and runs the loop of ``render.render_vis`` (Adam on the
spectrum, a closure computing ``loss = -sum(scores)``, ``optimizer.step(closure)``), with the
caller's objective wrapped in a ``lucent.optvis.objectives.Objective``. What ``render_vis``
adds around a model (forward hooks, ImageNet normalisation, upsampling to 224 px, showing
the image) is left to the objective, as in :func:`signseg.featureviz.render`.

Seeding: Lucent draws from torch's and numpy's global generators (the initial spectrum from
torch, every transform from numpy). ``seed`` seeds both with ``torch.manual_seed`` and
``numpy.random.seed`` at the start; their states are not restored afterwards. As in Lucent,
one shift, scale and angle is drawn per step for the whole batch, the batch's spectrum is
one draw, and ``random_scale`` changes the canvas size, so images of a batch are not
independent of each other.

Lucent puts its tensors on ``cuda:0`` when CUDA is available, else on the CPU, when it is
imported; ``device`` must name that device. torch-lucent 0.1.8 needs kornia 0.4.1:
``pip install "signseg[lucent]"``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from ..optional import import_optional
from ..progress import tqdm
from ..validation import check_index
from .render import (
    Objective,
    RenderResult,
    check_render_args,
    checked_scores,
    default_device,
    require_gradient,
    to_uint8,
)

__all__ = ["render_with_lucent", "lucent_optvis", "lucent_device"]


def lucent_optvis() -> ModuleType:
    """``lucent.optvis`` with its ``param``, ``transform`` and ``objectives`` submodules loaded,
    or an ``ImportError`` saying ``pip install "signseg[lucent]"``."""
    import_optional("lucent.optvis.render", "Rendering with Lucent", package="torch-lucent",
                    extra="lucent")  # imports param, transform and objectives
    return import_optional("lucent.optvis", "Rendering with Lucent", package="torch-lucent",
                           extra="lucent")


def lucent_device() -> torch.device:
    """The device Lucent placed its tensors on when imported."""
    return torch.device(lucent_optvis().param.spatial.device)


def _check_device(device: str | torch.device | None) -> torch.device:
    wanted, lucent = default_device(device), lucent_device()
    if wanted != lucent:
        raise InvalidInputError(
            f"device {wanted} differs from Lucent's {lucent} (Lucent uses cuda:0 whenever CUDA "
            "is available); pass device=None or move the objective's model there")
    return lucent


def render_with_lucent(objective: Objective, n_images: int, *, size: int = 64,
                       steps: int = 256, lr: float = 0.05, transforms: bool = True,
                       seed: int | Sequence[int] = 0, decorrelate: bool = True,
                       device: str | torch.device | None = None,
                       progress: bool = False) -> RenderResult:
    """:func:`signseg.featureviz.render` with Lucent's parametrization, transforms and loop.

    Parameters and result are those of :func:`~signseg.featureviz.render`, except that
    ``seed`` is one integer (it seeds torch's and numpy's global generators) and ``device``
    must be Lucent's device (see the module docstring).

    Raises
    ------
    InvalidInputError
        A bad argument (named), or an objective that returns anything but finite
        differentiable scores of shape ``[n]``.
    ImportError
        torch-lucent is not installed.
    """
    n_images, size, steps, lr = check_render_args(objective, n_images, size, steps, lr)
    seed = check_index(seed, "seed")
    if seed < 0:
        raise InvalidInputError(f"seed must be >= 0, got {seed}")
    optvis = lucent_optvis()
    _check_device(device)
    torch.manual_seed(seed)
    np.random.seed(seed)
    params, image_f = optvis.param.image(size, batch=n_images, decorrelate=decorrelate)
    transform_f = optvis.transform.compose(optvis.transform.standard_transforms
                                           if transforms else [])
    state: dict = {"step": 0, "scores": None}  # the step running now and its scores

    def total(images: torch.Tensor) -> torch.Tensor:
        scores = checked_scores(objective(transform_f(images)), n_images, state["step"])
        state["scores"] = scores.detach()
        return scores.sum()

    loss_f = -optvis.objectives.Objective(total, name="signseg objective")
    optimizer = torch.optim.Adam(params, lr=lr)
    trajectory = np.empty((n_images, steps), dtype=np.float64)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = require_gradient(loss_f(image_f()))
        loss.backward()
        return loss

    for step in tqdm(range(steps), disable=not progress, desc="feature visualization (Lucent)"):
        state["step"] = step
        optimizer.step(closure)
        trajectory[:, step] = state["scores"].cpu().double().numpy()
    with torch.no_grad():
        final = image_f()
        scores = checked_scores(objective(final), n_images, None)
    return RenderResult(images=to_uint8(final), scores=scores.cpu().double().numpy(),
                        trajectory=trajectory, backend="lucent")
