"""Image explorers that stay interactive in the static HTML book.

The book is built from notebooks executed beforehand (papermill), so no kernel is running
when a reader moves a slider. An explorer therefore has **no Python callbacks**: every
frame is pre-rendered into an ``ipywidgets.Image`` (PNG bytes), the frames sit in nested
``ipywidgets.Stack`` containers, and the controls drive the stacks' ``selected_index``
through ``widgets.jslink``, which runs in the browser from the saved widget state::

    unit dropdown .index  --jslink-->  unit stack                      (1 link)
    sign toggle   .index  --jslink-->  each sign stack (one per unit)  (U links)
    alpha slider  .index  --jslink-->  each alpha stack (per unit, sign) (U*S links)

Each frame is a ``VBox`` of the image and a caption naming its condition, so what is shown
is always labelled. The controls' option labels are fixed when the explorer is built.
"""

from __future__ import annotations

import html
import io
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from ipywidgets.widgets.widget_link import Link
from PIL import Image as PILImage

from signseg.errors import InvalidInputError

FrameKey = tuple[int, str, float]
"""``(unit, sign, alpha)``: a class unit, the sign of the ablated weights, the ablated fraction."""

DEFAULT_DISPLAY_SIZE = 128
"""With ``scale=None``, frames are upscaled by the smallest integer making their longer side
at least this many pixels (tiny 32 px CIFAR images become 128 px)."""


@dataclass(frozen=True)
class ConditionGrid:
    """The full ``units x signs x alphas`` grid an explorer shows.

    Attributes
    ----------
    units
        Unit indices in display order (ascending).
    signs
        Sign names in display order.
    alphas
        Ablated fractions in display order (ascending).
    """

    units: tuple[int, ...]
    signs: tuple[str, ...]
    alphas: tuple[float, ...]

    def keys(self) -> Iterator[FrameKey]:
        """Yield every ``(unit, sign, alpha)`` in nesting order (unit, then sign, then alpha)."""
        for unit in self.units:
            for sign in self.signs:
                for alpha in self.alphas:
                    yield (unit, sign, alpha)

    @property
    def size(self) -> int:
        """Number of frames in the grid."""
        return len(self.units) * len(self.signs) * len(self.alphas)


class ImageExplorer(widgets.VBox):
    """The widget returned by :func:`image_explorer`: controls above the frame stacks.

    It is an ordinary ``VBox`` (it renders and serialises like one); the attributes below
    are Python-side handles for tests and layout tweaks and are not synchronised.

    Attributes
    ----------
    grid
        The conditions shown.
    unit_dropdown, sign_toggle, alpha_slider
        The controls (``Dropdown``, ``ToggleButtons``, ``SelectionSlider``).
    unit_stack
        The outer ``Stack``: one child ``Stack`` per unit, each with one child ``Stack``
        per sign, each with one frame (``VBox`` of ``Image`` and caption ``HTML``) per alpha.
    links
        Every ``jslink`` wiring a control to a stack.
    """

    def __init__(
        self,
        grid: ConditionGrid,
        controls: tuple[widgets.Dropdown, widgets.ToggleButtons, widgets.SelectionSlider],
        unit_stack: widgets.Stack,
        links: tuple[Link, ...],
    ) -> None:
        unit_dropdown, sign_toggle, alpha_slider = controls
        super().__init__(
            children=[widgets.HBox([unit_dropdown, sign_toggle]), alpha_slider, unit_stack]
        )
        self.grid = grid
        self.unit_dropdown = unit_dropdown
        self.sign_toggle = sign_toggle
        self.alpha_slider = alpha_slider
        self.unit_stack = unit_stack
        self.links = links


def to_uint8_image(image: np.ndarray) -> np.ndarray:
    """Convert one image to an ``H x W x 3`` (or ``H x W`` grey) ``uint8`` array.

    Parameters
    ----------
    image
        ``H x W``, ``H x W x 1`` or ``H x W x 3`` (channels last), either ``uint8`` or
        floating point with every value in ``[0, 1]``.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``H x W`` (grey) or ``H x W x 3``; floats are mapped with
        ``round(255 * x)``.

    Raises
    ------
    InvalidInputError
        On any other shape or dtype, channels-first input, NaNs or values outside ``[0, 1]``.
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] != 3:
        raise InvalidInputError(
            f"image has shape {array.shape}, which looks channels-first; expected H x W x 3 "
            "(channels last). Transpose it, e.g. image.transpose(1, 2, 0)."
        )
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)) or 0 in array.shape:
        raise InvalidInputError(
            f"image has shape {array.shape}; expected a non-empty H x W (grey) or H x W x 3 "
            "(RGB) array."
        )
    if array.dtype == np.uint8:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise InvalidInputError(
            f"image has dtype {array.dtype}; expected uint8 or floating point in [0, 1]."
        )
    finite = array[np.isfinite(array)]
    if finite.size < array.size or finite.min() < 0.0 or finite.max() > 1.0:
        value_range = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "none"
        raise InvalidInputError(
            f"float image values must be finite and in [0, 1]; got {array.size - finite.size} "
            f"non-finite values and finite range {value_range}. Clip or rescale it first."
        )
    return np.rint(array * 255.0).astype(np.uint8)


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """Encode an image as PNG after nearest-neighbour upscaling by an integer factor.

    Parameters
    ----------
    image
        Any image accepted by :func:`to_uint8_image`.
    scale
        Integer upscaling factor (each pixel becomes a ``scale x scale`` block), ``>= 1``.

    Returns
    -------
    bytes
        The PNG file content (deterministic for a given input).
    """
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral) or scale < 1:
        raise InvalidInputError(f"scale must be an integer >= 1, got {scale!r}.")
    pixels = to_uint8_image(image)
    pixels = np.repeat(np.repeat(pixels, int(scale), axis=0), int(scale), axis=1)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def condition_grid(keys: Sequence[FrameKey], signs: Sequence[str] | None = None) -> ConditionGrid:
    """Infer the ``units x signs x alphas`` grid spanned by frame keys.

    Parameters
    ----------
    keys
        ``(unit, sign, alpha)`` tuples: integer unit, string sign, finite real alpha.
    signs
        Display order of the signs; default: order of first appearance in ``keys``.
        When given it must contain exactly the signs that occur in ``keys``.

    Returns
    -------
    ConditionGrid
        Units and alphas sorted ascending, signs as described.

    Raises
    ------
    InvalidInputError
        If ``keys`` is empty, a key is malformed, or ``signs`` disagrees with the keys.
    """
    if len(keys) == 0:
        raise InvalidInputError(
            "images is empty; expected a mapping {(unit, sign, alpha): image} with at least "
            "one frame."
        )
    for key in keys:
        _check_key(key)
    seen_signs = tuple(dict.fromkeys(sign for _, sign, _ in keys))
    if signs is not None:
        if sorted(signs) != sorted(seen_signs) or len(set(signs)) != len(signs):
            raise InvalidInputError(
                f"signs={list(signs)} must list each sign of the frames exactly once; the "
                f"frames have signs {list(seen_signs)}."
            )
        seen_signs = tuple(signs)
    return ConditionGrid(
        units=tuple(sorted({int(unit) for unit, _, _ in keys})),
        signs=seen_signs,
        alphas=tuple(sorted({float(alpha) for _, _, alpha in keys})),
    )


def _check_key(key: object) -> None:
    """Raise ``InvalidInputError`` unless ``key`` is ``(int unit, str sign, finite alpha)``."""
    well_formed = (
        isinstance(key, tuple)
        and len(key) == 3
        and isinstance(key[0], numbers.Integral)
        and not isinstance(key[0], bool)
        and isinstance(key[1], str)
        and isinstance(key[2], numbers.Real)
        and not isinstance(key[2], bool)
        and math.isfinite(float(key[2]))
    )
    if not well_formed:
        raise InvalidInputError(
            f"frame key {key!r} is malformed; expected (unit: int, sign: str, alpha: finite "
            "float), e.g. (3, 'positive', 0.5)."
        )


def _normalised_frames(images: Mapping[FrameKey, np.ndarray]) -> dict[FrameKey, np.ndarray]:
    """Copy ``images`` with keys cast to plain ``(int, str, float)`` (numpy scalars allowed)."""
    frames: dict[FrameKey, np.ndarray] = {}
    for key, image in images.items():
        _check_key(key)
        frames[(int(key[0]), key[1], float(key[2]))] = image
    return frames


def _check_complete(frames: Mapping[FrameKey, np.ndarray], grid: ConditionGrid) -> None:
    """Raise ``InvalidInputError`` naming the grid combinations that have no frame."""
    missing = [key for key in grid.keys() if key not in frames]
    if missing:
        shown = ", ".join(repr(key) for key in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise InvalidInputError(
            f"images is missing {len(missing)} of the {grid.size} frames of the "
            f"{len(grid.units)} units x {len(grid.signs)} signs x {len(grid.alphas)} alphas "
            f"grid: {shown}{more}. Supply one image per (unit, sign, alpha) combination "
            "(for the shared alpha = 0 control, repeat it under both signs)."
        )


def _check_same_shape(frames: Mapping[FrameKey, np.ndarray]) -> tuple[int, ...]:
    """Return the common shape of all frames, or raise naming the first that differs."""
    items = iter(frames.items())
    first_key, first = next(items)
    shape = np.shape(first)
    for key, image in items:
        if np.shape(image) != shape:
            raise InvalidInputError(
                f"frame {key!r} has shape {np.shape(image)} but frame {first_key!r} has "
                f"{shape}; all frames of one explorer must have the same shape."
            )
    return shape


def auto_scale(height: int, width: int, display_size: int = DEFAULT_DISPLAY_SIZE) -> int:
    """Smallest integer factor making ``max(height, width) * factor >= display_size`` (>= 1)."""
    return max(1, math.ceil(display_size / max(height, width)))


def _unit_names(units: Sequence[int], unit_labels: Mapping[int, str] | None) -> list[str]:
    """Display names of ``units``; every unit must have a label when labels are given."""
    if unit_labels is None:
        return [f"unit {unit}" for unit in units]
    missing = [unit for unit in units if unit not in unit_labels]
    if missing:
        raise InvalidInputError(
            f"unit_labels has no label for units {missing}; give a label for every unit of "
            "the frames or pass unit_labels=None."
        )
    return [str(unit_labels[unit]) for unit in units]


def _frame_view(png: bytes, width: int, height: int, caption: str) -> widgets.VBox:
    """One frame: the PNG image above an HTML caption."""
    image = widgets.Image(value=png, format="png", width=width, height=height)
    label = widgets.HTML(value=f'<span class="signseg-frame-caption">{html.escape(caption)}</span>')
    return widgets.VBox([image, label])


def _alpha_stack(
    frames: Mapping[FrameKey, np.ndarray],
    condition: tuple[int, str, str],
    alphas: Sequence[float],
    scale: int,
    slider_name: str = "alpha",
) -> widgets.Stack:
    """The ``Stack`` of one ``(unit, unit_name, sign)``'s frames, one per alpha, first shown."""
    unit, unit_name, sign = condition
    views = []
    for alpha in alphas:
        png = png_bytes(frames[(unit, sign, alpha)], scale)
        height, width = np.shape(frames[(unit, sign, alpha)])[:2]
        value = f"α = {alpha:g}" if slider_name == "alpha" else f"{slider_name} {alpha:g}"
        caption = f"{unit_name} · {sign} · {value}"
        views.append(_frame_view(png, width * scale, height * scale, caption))
    return widgets.Stack(views, selected_index=0)


def _controls(
    grid: ConditionGrid, unit_names: Sequence[str], names: Sequence[str] = ("unit", "sign", "alpha")
) -> tuple[widgets.Dropdown, widgets.ToggleButtons, widgets.SelectionSlider]:
    """The unit dropdown, sign toggle and alpha slider, all at their first option."""
    unit_dropdown = widgets.Dropdown(
        options=list(zip(unit_names, grid.units, strict=True)), index=0, description=names[0]
    )
    sign_toggle = widgets.ToggleButtons(options=list(grid.signs), index=0, description=names[1])
    alpha_slider = widgets.SelectionSlider(
        options=[(f"{alpha:g}", alpha) for alpha in grid.alphas],
        index=0,
        description=names[2],
        continuous_update=True,
    )
    return unit_dropdown, sign_toggle, alpha_slider


def image_explorer(
    images: Mapping[FrameKey, np.ndarray],
    *,
    unit_labels: Mapping[int, str] | None = None,
    signs: Sequence[str] | None = None,
    scale: int | None = None,
    control_names: Sequence[str] = ("unit", "sign", "alpha"),
) -> ImageExplorer:
    """Build a callback-free explorer of images indexed by unit, sign and alpha.

    Parameters
    ----------
    images
        ``{(unit, sign, alpha): image}`` covering the full grid of the units, signs and
        alphas that occur in its keys. Images are ``H x W x 3`` (or grey ``H x W``),
        ``uint8`` or float in ``[0, 1]``, all of one shape.
    unit_labels
        Dropdown names per unit (e.g. class names); default ``"unit <u>"``. Extra entries
        are ignored.
    signs
        Toggle order of the signs; default: order of first appearance in ``images``.
    scale
        Integer nearest-neighbour upscaling of the frames; ``None`` picks the smallest
        factor showing them at least ``DEFAULT_DISPLAY_SIZE`` px wide.
    control_names
        Labels of the three controls (e.g. ``("layer", "list", "rank")`` for Section 4's
        channels, whose keys are ``(layer index, sign, rank)``).

    Returns
    -------
    ImageExplorer
        A ``VBox``: unit dropdown and sign toggle, alpha slider, and the frame stacks,
        wired with ``jslink`` only, so it works from saved widget state without a kernel.

    Raises
    ------
    InvalidInputError
        Empty input, malformed keys, a missing ``(unit, sign, alpha)`` frame (named in the
        message), images of different shapes or invalid pixels, missing unit labels.

    Notes
    -----
    Every frame's PNG is stored in the notebook and embedded in the book page, so the page
    grows with ``units x signs x alphas`` times the PNG size, plus a third for base64.
    Upscaled blocks compress well: a 32 px CIFAR-10 image is about 2.2 kB as PNG and
    3.6 kB at ``scale=4``; a 224 px photograph is closer to 100 kB, so downsample those.

    Examples
    --------
    >>> frames = {(u, s, a): np.full((8, 8, 3), a) for u in (0, 1)
    ...           for s in ("positive", "negative") for a in (0.0, 0.5)}
    >>> explorer = image_explorer(frames, unit_labels={0: "cat", 1: "dog"})
    >>> len(explorer.links)
    7
    """
    frames = _normalised_frames(images)
    grid = condition_grid(list(frames), signs)
    _check_complete(frames, grid)
    height, width = _check_same_shape(frames)[:2]
    factor = auto_scale(height, width) if scale is None else scale
    unit_names = _unit_names(grid.units, unit_labels)
    if len(control_names) != 3:
        raise InvalidInputError(f"control_names needs three labels, got {list(control_names)}")
    controls = _controls(grid, unit_names, control_names)
    unit_dropdown, sign_toggle, alpha_slider = controls

    links: list[Link] = []
    sign_stacks = []
    for unit, unit_name in zip(grid.units, unit_names, strict=True):
        alpha_stacks = [
            _alpha_stack(frames, (unit, unit_name, sign), grid.alphas, factor, control_names[2])
            for sign in grid.signs
        ]
        for alpha_stack in alpha_stacks:
            links.append(widgets.jslink((alpha_slider, "index"), (alpha_stack, "selected_index")))
        sign_stack = widgets.Stack(alpha_stacks, selected_index=0)
        links.append(widgets.jslink((sign_toggle, "index"), (sign_stack, "selected_index")))
        sign_stacks.append(sign_stack)
    unit_stack = widgets.Stack(sign_stacks, selected_index=0)
    links.append(widgets.jslink((unit_dropdown, "index"), (unit_stack, "selected_index")))
    return ImageExplorer(grid, controls, unit_stack, tuple(links))


def montage(images: Sequence[np.ndarray], columns: int, *, size: int | None = None,
            pad: int = 2) -> np.ndarray:
    """Tile uint8 ``[H, W, 3]`` images into one image, ``columns`` per row, on white.

    Parameters
    ----------
    images
        The tiles (uint8 ``H x W x 3``), at least one.
    columns
        Tiles per row.
    size
        Side every tile is brought to by nearest-neighbour resizing (default: the first
        tile's height; tiles must then share its shape).
    pad
        White pixels between tiles.
    """
    if not len(images):
        raise InvalidInputError("montage needs at least one image")
    if columns < 1:
        raise InvalidInputError(f"columns must be >= 1, got {columns}")
    side = size or int(np.shape(images[0])[0])
    tiles = [np.asarray(PILImage.fromarray(to_uint8_image(image)).resize((side, side), PILImage.NEAREST))
             for image in images]
    rows = math.ceil(len(tiles) / columns)
    canvas = np.full((rows * side + (rows - 1) * pad, columns * side + (columns - 1) * pad, 3), 255,
                     dtype=np.uint8)
    for index, tile in enumerate(tiles):
        r, c = divmod(index, columns)
        top, left = r * (side + pad), c * (side + pad)
        canvas[top:top + side, left:left + side] = tile[..., :3] if tile.ndim == 3 else tile[..., None]
    return canvas
