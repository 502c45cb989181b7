"""Static oriented gratings (ei-neurons-selectivity-connectivity.txt, Appendix B, Fig. 8a).

``G(x, y) = cos(k [-(x - x0) sin(theta) + (y - y0) cos(theta)] + phi)`` with the centre
``(x0, y0)`` in the middle of the image; the paper's set is 18 orientations (10 degrees
apart), 6 spatial frequencies (1, 2, 3, 4, 6, 8) and 4 phases (90 degrees apart): 432
images. **Choice**: a spatial frequency ``f`` is read as ``f`` cycles per image side,
``k = 2 pi f / size``, and images are ``0.5 + 0.5 G`` (full contrast around mid-grey), the
same in every colour channel.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import InvalidInputError

__all__ = ["ORIENTATIONS", "FREQUENCIES", "PHASES", "grating", "grating_set"]

#: The paper's 18 orientations (radians, 0 to 170 degrees).
ORIENTATIONS = tuple(np.deg2rad(np.arange(0, 180, 10)).tolist())
#: Spatial frequencies in cycles per image.
FREQUENCIES = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
#: Phases (radians, 90 degrees apart).
PHASES = tuple(np.deg2rad([0.0, 90.0, 180.0, 270.0]).tolist())


def grating(size: int, orientation: float, frequency: float, phase: float) -> torch.Tensor:
    """One grating ``G`` as a ``[size, size]`` float64 tensor in ``[-1, 1]``."""
    if size < 2:
        raise InvalidInputError(f"size must be >= 2 pixels, got {size}")
    centre = (size - 1) / 2.0
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float64) - centre,
                          torch.arange(size, dtype=torch.float64) - centre, indexing="ij")
    k = 2.0 * np.pi * frequency / size
    return torch.cos(k * (-x * np.sin(orientation) + y * np.cos(orientation)) + phase)


def grating_set(size: int, channels: int = 3, orientations: Sequence[float] = ORIENTATIONS,
                frequencies: Sequence[float] = FREQUENCIES,
                phases: Sequence[float] = PHASES) -> tuple[torch.Tensor, pd.DataFrame]:
    """Every combination of orientation, frequency and phase (432 by default).

    Returns
    -------
    (images, table)
        ``images`` ``[n, channels, size, size]`` float32 in ``[0, 1]``; ``table`` one row per
        image: ``orientation`` (radians), ``frequency`` (cycles per image), ``phase`` (radians),
        orientation varying slowest.
    """
    if channels < 1:
        raise InvalidInputError(f"channels must be >= 1, got {channels}")
    rows = [(o, f, p) for o in orientations for f in frequencies for p in phases]
    if not rows:
        raise InvalidInputError("orientations, frequencies and phases must be non-empty")
    images = torch.stack([0.5 + 0.5 * grating(size, o, f, p) for o, f, p in rows]).float()
    table = pd.DataFrame(rows, columns=["orientation", "frequency", "phase"])
    return images[:, None].expand(-1, channels, -1, -1).contiguous(), table
