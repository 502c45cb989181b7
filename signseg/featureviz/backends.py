"""Choose the renderer by name: this package's own (``"signseg"``) or torch-lucent's."""

from __future__ import annotations

from typing import Any

from ..errors import UnknownNameError
from .lucent_backend import render_with_lucent
from .render import Objective, RenderResult, render

__all__ = ["BACKENDS", "render_by"]

#: Names accepted by :func:`render_by`.
BACKENDS = ("signseg", "lucent")


def render_by(backend: str, objective: Objective, n_images: int, **options: Any) -> RenderResult:
    """:func:`~signseg.featureviz.render` (``"signseg"``) or
    :func:`~signseg.featureviz.render_with_lucent` (``"lucent"``) with the same arguments.

    Raises
    ------
    UnknownNameError
        ``backend`` is not one of :data:`BACKENDS`.
    """
    renderers = {"signseg": render, "lucent": render_with_lucent}
    if backend not in renderers:
        raise UnknownNameError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return renderers[backend](objective, n_images, **options)
