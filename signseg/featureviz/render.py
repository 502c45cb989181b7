"""Gradient feature visualization: optimise Fourier-parametrized images for per-image scores.

:func:`render` is the loop of Lucent's ``render.render_vis`` (Adam, ``lr = 0.05``, the
standard transforms every step) around a plain callable: ``objective(images01)`` gets the
``[n, 3, H, W]`` transformed images in ``[0, 1]`` and returns one differentiable score per
image; Adam maximises their sum. Lucent's model hooks, ImageNet normalisation and
upsampling to 224 px are the objective's business here (e.g. a model's preprocessing and a
hook on a layer, :mod:`signseg.objectives`).

Image ``i`` has its own seed (``seed + i``, or ``seed[i]``): its initial spectrum
(:class:`~signseg.featureviz.parametrization.FourierImage`) and its transform draws (a
second generator derived from the same seed) depend on nothing else, and Adam acts on each
entry separately. So when score ``i`` depends on image ``i`` alone (a model in ``eval``
mode), image ``i`` of a batch equals a separate one-image render with seed ``seed[i]``, up
to float rounding of the batched forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import InvalidInputError
from ..generators.base import seeded_generator
from ..progress import tqdm
from ..validation import check_index, check_scalar
from .parametrization import FourierImage, check_image_size, image_seeds
from .transforms import random_transforms, standard_transforms

__all__ = ["RenderResult", "Objective", "render", "check_render_args", "checked_scores",
           "to_uint8", "default_device", "require_gradient", "transform_generator"]

#: ``objective(images01 [n, 3, H, W]) -> scores [n]``, differentiable.
Objective = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class RenderResult:
    """What a render returns.

    Attributes
    ----------
    images:
        ``uint8 [n, H, W, 3]`` final images (no transforms), ``round(255 * x)``.
    scores:
        ``float64 [n]`` objective of the final images without transforms.
    trajectory:
        ``float64 [n, steps]`` the scores of every optimisation step (of the transformed
        images the gradient of that step was taken on, before the update).
    backend:
        ``"signseg"`` or ``"lucent"``.
    """

    images: np.ndarray
    scores: np.ndarray
    trajectory: np.ndarray
    backend: str


def default_device(device: str | torch.device | None) -> torch.device:
    """``device``, or Lucent's choice when ``None``: ``cuda:0`` if available, else the CPU."""
    if device is None:
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"device must name a torch device such as 'cpu' or 'cuda:0', "
                                f"got {device!r}") from exc


def check_render_args(objective: Objective, n_images: int, size: int, steps: int,
                      lr: float) -> tuple[int, int, int, float]:
    """Validate the arguments every backend shares; return ``n_images, size, steps, lr``.

    Raises
    ------
    InvalidInputError
        Naming the argument: ``objective`` not callable, ``n_images`` or ``steps`` < 1,
        ``size`` < 2, ``lr`` not finite and > 0.
    """
    if not callable(objective):
        raise InvalidInputError(f"objective must be a callable images01 -> scores [n], got "
                                f"{type(objective).__name__}")
    n_images = check_index(n_images, "n_images")
    if n_images < 1:
        raise InvalidInputError(f"n_images must be >= 1, got {n_images}")
    steps = check_index(steps, "steps")
    if steps < 1:
        raise InvalidInputError(f"steps must be >= 1 (optimisation steps), got {steps}")
    lr = check_scalar(lr, "lr")
    if not math.isfinite(lr) or lr <= 0:
        raise InvalidInputError(f"lr must be a finite number > 0 (Adam's step size), got {lr}")
    return n_images, check_image_size(size), steps, lr


def checked_scores(scores: object, n_images: int, step: int | None) -> torch.Tensor:
    """``scores`` if it is a finite ``[n_images]`` tensor; else raise naming ``objective``.

    ``step`` (``None``: the final images) is named in the message.
    """
    where = "the final images" if step is None else f"step {step}"
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (n_images,):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise InvalidInputError(
            f"objective must return a tensor of shape [{n_images}] (one score per image), got "
            f"{shape} at {where}; reduce each image's activations to one number")
    if not bool(torch.isfinite(scores).all()):
        raise InvalidInputError(
            f"objective returned non-finite scores at {where}: {scores.detach().cpu().tolist()}; "
            "check the objective, or lower lr")
    return scores


def to_uint8(images01: torch.Tensor) -> np.ndarray:
    """``[n, 3, H, W]`` floats in ``[0, 1]`` to ``uint8 [n, H, W, 3]`` (rounded, clipped)."""
    array = images01.detach().permute(0, 2, 3, 1).cpu().double().numpy()
    return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


def transform_generator(seed: int) -> torch.Generator:
    """The generator of one image's transform draws: seeded from ``seed`` through
    ``numpy.random.SeedSequence``, a stream apart from the spectrum's ``Generator(seed)``."""
    state = np.random.SeedSequence([seed, 1]).generate_state(1, dtype=np.uint64)[0]
    return seeded_generator(int(state))


def require_gradient(loss: torch.Tensor) -> torch.Tensor:
    """``loss`` if it has a gradient; else raise :class:`InvalidInputError` naming ``objective``."""
    if not loss.requires_grad:
        raise InvalidInputError(
            "objective returned scores without a gradient; it must be differentiable in its "
            "input images (no torch.no_grad, .detach() or numpy inside)")
    return loss


def _ascend(objective: Objective, images: torch.Tensor, n_images: int, step: int) -> torch.Tensor:
    scores = checked_scores(objective(images), n_images, step)
    require_gradient(-scores.sum()).backward()
    return scores.detach()


def render(objective: Objective, n_images: int, *, size: int = 64, steps: int = 256,
           lr: float = 0.05, transforms: bool = True, seed: int | Sequence[int] = 0,
           decorrelate: bool = True, device: str | torch.device | None = None,
           progress: bool = False) -> RenderResult:
    """Optimise ``n_images`` Fourier-parametrized images, image ``i`` for score ``i``.

    Parameters
    ----------
    objective:
        ``images01 [n, 3, H, W] -> scores [n]``, differentiable; image ``i`` is optimised
        for ``scores[i]``. It receives transformed images (88 px for ``size=64``) during the
        optimisation and the plain ``size`` px images for the final scores.
    n_images:
        Number of images ``n``.
    size:
        Side length of the images in pixels.
    steps:
        Adam steps (Lucent's default threshold: 512; here 256).
    lr:
        Adam's learning rate (Lucent's 0.05).
    transforms:
        Apply :func:`~signseg.featureviz.transforms.standard_transforms` every step, drawn
        per image.
    seed:
        Integer (image ``i`` gets ``seed + i``) or one non-negative integer per image.
    decorrelate:
        Lucent's colour decorrelation.
    device:
        Where the images live (the objective's device); ``None``: ``cuda:0`` if available,
        else the CPU (Lucent's rule).
    progress:
        Show a progress bar over the steps.

    Returns
    -------
    RenderResult

    Raises
    ------
    InvalidInputError
        A bad argument (named), or an objective that returns anything but finite
        differentiable scores of shape ``[n]``.
    """
    n_images, size, steps, lr = check_render_args(objective, n_images, size, steps, lr)
    seeds = image_seeds(seed, n_images)
    image = FourierImage(n_images, size, seeds, decorrelate=decorrelate).to(default_device(device))
    stack = standard_transforms() if transforms else ()
    generators = [transform_generator(s) for s in seeds]
    optimizer = torch.optim.Adam(image.parameters(), lr=lr)
    trajectory = np.empty((n_images, steps), dtype=np.float64)
    for step in tqdm(range(steps), disable=not progress, desc="feature visualization"):
        optimizer.zero_grad(set_to_none=True)
        scores = _ascend(objective, random_transforms(image(), stack, generators), n_images, step)
        optimizer.step()
        trajectory[:, step] = scores.cpu().double().numpy()
    with torch.no_grad():
        final = image()
        scores = checked_scores(objective(final), n_images, None)
    return RenderResult(images=to_uint8(final), scores=scores.cpu().double().numpy(),
                        trajectory=trajectory, backend="signseg")
