"""Gradient feature visualization in the style of Lucid/Lucent (paper Sec. 4.5, App. A.3).

* :mod:`.parametrization` -- :class:`FourierImage`, Lucent's decorrelated Fourier images;
* :mod:`.transforms` -- :func:`standard_transforms`, Lucent's jitter/scale/rotate stack in
  torch, every draw from a per-image ``torch.Generator``;
* :mod:`.render` -- :func:`render`, Adam on the images for one score per image;
* :mod:`.lucent_backend` -- :func:`render_with_lucent`, the same with torch-lucent itself;
* :mod:`.backends` -- :func:`render_by` picks one of :data:`BACKENDS` by name.

Example::

    from signseg.featureviz import render

    def objective(images01):            # one score per image
        return activations(images01)[:, [3, 7]].mean(dim=(2, 3)).diagonal()

    result = render(objective, 2, size=64, steps=256, seed=0, device="cpu")
    result.images                       # uint8 [2, 64, 64, 3]
"""

from .backends import BACKENDS, render_by
from .lucent_backend import render_with_lucent
from .parametrization import FourierImage
from .render import RenderResult, render
from .transforms import standard_transforms

__all__ = ["BACKENDS", "FourierImage", "RenderResult", "render", "render_by",
           "render_with_lucent", "standard_transforms"]
