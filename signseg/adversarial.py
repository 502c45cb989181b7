"""L-inf adversarial examples in pixel space: PGD, FGSM with a random start, robust accuracy.

Every attack perturbs images in ``[0, 1]`` and feeds them through the model's preprocessing
(resize and mean/std normalisation, see :class:`~signseg.preprocessing.Preprocessing`), so
the threat model is the one of the paper and of Salman et al. (2020): ``||delta||_inf <= eps``
on pixels, with ``x + delta`` a valid image. Epsilons and step sizes are given **in units of
1/255**, as the paper writes them (``L_inf in {0.5, 1, 2, 4, 8}``): ``epsilon=4`` is a
per-pixel budget of ``4/255``.

* :func:`pgd` -- projected gradient descent (Madry et al. 2018): optional uniform random start
  in the ball, ``steps`` signed-gradient ascent steps of the cross-entropy, each followed by
  the projection onto the ball and onto ``[0, 1]`` (both are boxes, so their intersection is
  a box and the projection is one clamp). Default step size ``2.5 epsilon / steps``, the
  robustness library's (Salman et al.) choice, so that the attack can cross the ball.
* :func:`fgsm_rs` -- "fast" FGSM with a random start (Wong, Rice & Kolter 2020): a uniform
  start in the ball, one signed-gradient step of ``1.25 epsilon``, projection.
* :func:`robust_accuracy` -- top-1 accuracy (%) under PGD, batched with a progress bar, for
  any :class:`~signseg.zoo.ZooModel` (project or torchvision) or a network plus its
  preprocessing.

The attacks leave the model's train/eval mode alone (the caller chooses; robust accuracy is
measured in eval mode) and never touch its parameters' ``.grad``. Random starts are drawn
from a seeded :class:`torch.Generator`, so the same seed gives the same examples.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .errors import InvalidInputError
from .progress import tqdm
from .validation import as_unit_images, check_index, check_scalar

__all__ = [
    "PIXEL_UNIT",
    "ATTACKS",
    "check_epsilon",
    "default_step_size",
    "pgd",
    "fgsm_rs",
    "perturb",
    "robust_accuracy",
]

#: One user-facing epsilon unit in ``[0, 1]`` pixel space: epsilons are written in 1/255.
PIXEL_UNIT = 1.0 / 255.0

#: Attacks known to :func:`perturb` (and to adversarial training).
ATTACKS = ("fgsm_rs", "pgd")

#: FGSM-RS step in units of epsilon (Wong, Rice & Kolter 2020, section 4).
_FGSM_RS_STEP = 1.25
#: PGD step in units of epsilon / steps (the robustness library's default).
_PGD_STEP = 2.5

Preprocess = Callable[[torch.Tensor], torch.Tensor]


def check_epsilon(value: Any, name: str = "epsilon") -> float:
    """``value`` as a float radius in units of 1/255; must be finite and >= 0.

    Raises
    ------
    InvalidInputError
        Not a single real number, not finite, or negative.
    """
    value = check_scalar(value, name)
    if not math.isfinite(value) or value < 0:
        raise InvalidInputError(
            f"{name} must be a finite number >= 0 in units of 1/255 (e.g. 4 for 4/255), got {value}"
        )
    return value


def _check_step_size(value: Any) -> float:
    value = check_epsilon(value, "step_size")
    if value == 0:
        raise InvalidInputError("step_size must be > 0 (units of 1/255), or None for the default")
    return value


def default_step_size(attack: str, epsilon: float, steps: int) -> float:
    """Default step (units of 1/255): ``1.25 epsilon`` (FGSM-RS), ``2.5 epsilon / steps`` (PGD)."""
    if attack == "fgsm_rs":
        return _FGSM_RS_STEP * epsilon
    if attack == "pgd":
        return _PGD_STEP * epsilon / steps
    raise InvalidInputError(f"attack must be one of {ATTACKS}, got {attack!r}")


def _as_generator(seed: int | torch.Generator) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(check_index(seed, "seed"))


def _uniform_start(images: torch.Tensor, radius: float, generator: torch.Generator) -> torch.Tensor:
    """``images`` plus noise uniform in ``[-radius, radius]`` per pixel (drawn on the generator's device)."""
    noise = torch.rand(images.shape, generator=generator, device=generator.device)
    return images + (2 * noise.to(images.device, images.dtype) - 1) * radius


def _ascend(
    model: nn.Module,
    preprocessing: Preprocess,
    images: torch.Tensor,
    targets: torch.Tensor,
    radius: float,
    steps: int,
    step: float,
    random_start: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """Signed-gradient ascent of the cross-entropy in the box ``|x' - x| <= radius``, ``[0, 1]``.

    ``radius`` and ``step`` are in ``[0, 1]`` pixel units; a zero radius returns a copy of the
    images without running the model (the ball is a point).
    """
    if radius == 0:
        return images.detach().clone()
    lower = (images - radius).clamp(min=0.0)
    upper = (images + radius).clamp(max=1.0)
    adversarial = _uniform_start(images, radius, generator) if random_start else images.clone()
    adversarial = torch.clamp(adversarial, lower, upper)
    with torch.enable_grad():
        for _ in range(steps):
            adversarial = adversarial.detach().requires_grad_(True)
            loss = F.cross_entropy(model(preprocessing(adversarial)), targets, reduction="sum")
            (gradient,) = torch.autograd.grad(loss, adversarial)
            adversarial = torch.clamp(adversarial.detach() + step * gradient.sign(), lower, upper)
    return adversarial.detach()


def _identity(images: torch.Tensor) -> torch.Tensor:
    return images


def perturb(
    model: nn.Module,
    images01: torch.Tensor,
    targets: torch.Tensor,
    epsilon: float,
    *,
    attack: str = "pgd",
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    preprocessing: Preprocess | None = None,
    seed: int | torch.Generator = 0,
) -> torch.Tensor:
    """Adversarial versions of ``images01`` within ``||delta||_inf <= epsilon / 255``.

    Parameters
    ----------
    model:
        A classifier of preprocessed images; its train/eval mode is left as it is.
    images01:
        ``[B, C, H, W]`` floats in ``[0, 1]`` (``uint8`` 0-255 are divided by 255).
    targets:
        ``[B]`` class indices whose cross-entropy the attack increases.
    epsilon:
        L-inf radius **in units of 1/255** (finite, >= 0; 0 returns the images unchanged).
    attack:
        ``"pgd"`` (Madry et al. 2018) or ``"fgsm_rs"`` (Wong et al. 2020: one step, always
        from a random start; ``steps`` must be 1).
    steps:
        Gradient steps (PGD).
    step_size:
        Step in units of 1/255; ``None``: :func:`default_step_size`.
    random_start:
        Start from a uniform point of the ball (PGD; FGSM-RS always does).
    preprocessing:
        Pixels -> network input (e.g. ``entry.preprocessing``); ``None``: the model takes pixels.
    seed:
        Seed or generator of the random start.

    Returns
    -------
    torch.Tensor
        The adversarial images, detached, in ``[0, 1]`` and within the ball.
    """
    epsilon = check_epsilon(epsilon)
    steps = check_index(steps, "steps")
    if attack not in ATTACKS:
        raise InvalidInputError(f"attack must be one of {ATTACKS}, got {attack!r}")
    if steps < 1 or (attack == "fgsm_rs" and steps != 1):
        raise InvalidInputError(
            f"steps must be >= 1 (and 1 for fgsm_rs), got {steps} for attack {attack!r}")
    step = default_step_size(attack, epsilon, steps) if step_size is None else _check_step_size(step_size)
    images01 = as_unit_images(images01)
    return _ascend(
        model, preprocessing or _identity, images01, targets, epsilon * PIXEL_UNIT, steps,
        step * PIXEL_UNIT, random_start or attack == "fgsm_rs", _as_generator(seed),
    )


def pgd(
    model: nn.Module,
    images01: torch.Tensor,
    targets: torch.Tensor,
    epsilon: float,
    *,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    preprocessing: Preprocess | None = None,
    seed: int | torch.Generator = 0,
) -> torch.Tensor:
    """PGD-``steps`` adversarial images (Madry et al. 2018); see :func:`perturb`.

    ``epsilon`` and ``step_size`` are in units of 1/255; the default step is
    ``2.5 epsilon / steps``.
    """
    return perturb(model, images01, targets, epsilon, attack="pgd", steps=steps,
                   step_size=step_size, random_start=random_start,
                   preprocessing=preprocessing, seed=seed)


def fgsm_rs(
    model: nn.Module,
    images01: torch.Tensor,
    targets: torch.Tensor,
    epsilon: float,
    *,
    step_size: float | None = None,
    preprocessing: Preprocess | None = None,
    seed: int | torch.Generator = 0,
) -> torch.Tensor:
    """FGSM with a random start (Wong, Rice & Kolter 2020); see :func:`perturb`.

    A uniform start in the ball, one signed-gradient step of ``step_size`` (default
    ``1.25 epsilon``; units of 1/255), then the projection onto the ball and ``[0, 1]``.
    """
    return perturb(model, images01, targets, epsilon, attack="fgsm_rs", steps=1,
                   step_size=step_size, preprocessing=preprocessing, seed=seed)


def _network_and_preprocessing(model: Any, preprocessing: Preprocess | None) -> tuple[nn.Module, Preprocess]:
    """The ``nn.Module`` and its pixel -> input map, from a ZooModel or a bare network."""
    if isinstance(model, nn.Module):
        return model, preprocessing or _identity
    network = getattr(model, "model", None)
    entry = getattr(model, "entry", None)
    if not isinstance(network, nn.Module) or entry is None:
        raise InvalidInputError(
            f"model must be a signseg.zoo.ZooModel or a torch nn.Module, got {type(model).__name__}")
    if preprocessing is not None:
        raise InvalidInputError(
            f"{model.name} carries its own preprocessing (entry.preprocessing); leave preprocessing=None")
    return network, entry.preprocessing


def robust_accuracy(
    model: Any,
    images: torch.Tensor,
    targets: torch.Tensor,
    epsilon: float,
    steps: int = 10,
    step_size: float | None = None,
    *,
    random_start: bool = True,
    preprocessing: Preprocess | None = None,
    batch_size: int = 256,
    seed: int | torch.Generator = 0,
    progress: bool = True,
) -> float:
    """Top-1 accuracy (%) under a PGD-``steps`` L-inf attack of radius ``epsilon / 255``.

    Parameters
    ----------
    model:
        A :class:`~signseg.zoo.ZooModel` (its ``entry.preprocessing`` is used; natural images
        get its evaluation transform) or an ``nn.Module`` with ``preprocessing``. It is put in
        eval mode for the attack and restored afterwards.
    images, targets:
        ``[N, C, H, W]`` images (``uint8`` 0-255 or floats in ``[0, 1]``) and ``[N]`` labels.
    epsilon:
        Radius in units of 1/255; 0 gives the clean accuracy.
    steps, step_size, random_start:
        As for :func:`pgd` (step default ``2.5 epsilon / steps``).
    preprocessing:
        Only for a bare ``nn.Module``: pixels -> network input.
    batch_size:
        Images attacked at once.
    seed:
        Seed (or generator) of the random starts, drawn batch after batch.
    progress:
        Show a tqdm bar over the batches.
    """
    network, preprocess = _network_and_preprocessing(model, preprocessing)
    batch_size = check_index(batch_size, "batch_size")
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
    if images.shape[0] != targets.shape[0]:
        raise InvalidInputError(
            f"images and targets must have the same length, got {images.shape[0]} and {targets.shape[0]}")
    generator = _as_generator(seed)
    device = next(network.parameters()).device
    was_training = network.training
    network.eval()
    correct = 0
    try:
        for start in tqdm(range(0, images.shape[0], batch_size), desc=f"PGD-{steps} eps {epsilon:g}/255",
                          leave=False, disable=not progress):
            batch = as_unit_images(images[start : start + batch_size]).to(device)
            labels = targets[start : start + batch_size].long().to(device)
            adversarial = pgd(network, batch, labels, epsilon, steps=steps, step_size=step_size,
                              random_start=random_start, preprocessing=preprocess, seed=generator)
            with torch.no_grad():
                correct += int((network(preprocess(adversarial)).argmax(1) == labels).sum())
    finally:
        network.train(was_training)
    return 100.0 * correct / max(1, images.shape[0])
