"""Structure of the callback-free image explorer and its frame encoding (no browser)."""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pytest
from ipywidgets.widgets.widget_link import Link
from PIL import Image

from signseg.errors import InvalidInputError
from signseg.widgets import (
    ConditionGrid,
    ImageExplorer,
    auto_scale,
    condition_grid,
    image_explorer,
    png_bytes,
    to_uint8_image,
)

UNITS = (3, 7)
SIGNS = ("positive", "negative")
ALPHAS = (0.0, 0.5, 1.0)


def _colour(unit: int, sign: str, alpha: float) -> tuple[int, int, int]:
    """A distinct colour per condition of the 2 x 2 x 3 test grid."""
    return (
        UNITS.index(unit) * 100 + 10,
        SIGNS.index(sign) * 100 + 20,
        ALPHAS.index(alpha) * 50 + 30,
    )


def _frames(height: int = 4, width: int = 4) -> dict[tuple[int, str, float], np.ndarray]:
    return {
        (unit, sign, alpha): np.full((height, width, 3), _colour(unit, sign, alpha), dtype=np.uint8)
        for unit in UNITS
        for sign in SIGNS
        for alpha in ALPHAS
    }


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


# --- frame encoding --------------------------------------------------------------------


def test_to_uint8_image_maps_floats_by_rounding_255x() -> None:
    image = np.array([[0.0, 1.0 / 255.0], [0.5, 1.0]])
    assert to_uint8_image(image).tolist() == [[0, 1], [128, 255]]  # rint(127.5) = 128


def test_to_uint8_image_keeps_uint8_and_squeezes_one_channel() -> None:
    image = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    assert to_uint8_image(image) is image
    grey = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    assert to_uint8_image(grey).tolist() == [[0, 1], [2, 3]]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((3, 8, 8)), "channels-first"),
        (np.zeros((8, 8, 4)), r"shape \(8, 8, 4\)"),
        (np.zeros((0, 8, 3)), "non-empty"),
        (np.full((2, 2), np.nan), "4 non-finite values and finite range none"),
        (np.array([[0.5, np.inf], [1.5, 0.0]]), r"1 non-finite values and finite range \[0, 1.5\]"),
        (np.full((2, 2), 7, dtype=np.int64), "dtype int64"),
    ],
)
def test_to_uint8_image_rejects_bad_images(image: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        to_uint8_image(image)


def test_png_bytes_upscales_each_pixel_to_a_block() -> None:
    image = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    decoded = _decode(png_bytes(image, scale=3))
    assert decoded.shape == (6, 6, 3)
    assert (decoded[:3, :3] == [255, 0, 0]).all()
    assert (decoded[:3, 3:] == [0, 255, 0]).all()
    assert (decoded[3:, :3] == [0, 0, 255]).all()
    assert (decoded[3:, 3:] == [255, 255, 255]).all()
    assert png_bytes(image, scale=3) == png_bytes(image.copy(), scale=3)


@pytest.mark.parametrize("scale", [0, -1, 1.5, True])
def test_png_bytes_rejects_non_integer_scale(scale: object) -> None:
    with pytest.raises(InvalidInputError, match="scale must be an integer >= 1"):
        png_bytes(np.zeros((2, 2, 3), dtype=np.uint8), scale=scale)


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [(32, 32, 4), (224, 224, 1), (100, 30, 2), (28, 28, 5), (128, 1, 1)],
)
def test_auto_scale_reaches_the_display_size(height: int, width: int, expected: int) -> None:
    assert auto_scale(height, width) == expected


# --- the condition grid ------------------------------------------------------------------


def test_condition_grid_sorts_units_and_alphas_and_keeps_sign_order() -> None:
    keys = [(7, "negative", 1.0), (3, "positive", 0.0), (7, "positive", 0.5)]
    grid = condition_grid(keys)
    assert grid == ConditionGrid(
        units=(3, 7), signs=("negative", "positive"), alphas=(0.0, 0.5, 1.0)
    )
    assert grid.size == 12
    assert list(grid.keys())[:4] == [
        (3, "negative", 0.0),
        (3, "negative", 0.5),
        (3, "negative", 1.0),
        (3, "positive", 0.0),
    ]
    assert condition_grid(keys, signs=["positive", "negative"]).signs == ("positive", "negative")


@pytest.mark.parametrize(
    ("keys", "signs", "message"),
    [
        ([], None, "images is empty"),
        ([(True, "positive", 0.0)], None, "malformed"),
        ([(1, "positive")], None, "malformed"),
        ([(1, "positive", float("nan"))], None, "malformed"),
        ([(1, 2, 0.5)], None, "malformed"),
        ([(1, "positive", 0.0)], ["positive", "negative"], "each sign of the frames exactly once"),
    ],
)
def test_condition_grid_rejects_bad_keys(keys: list, signs: list | None, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        condition_grid(keys, signs)


# --- the explorer ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explorer() -> ImageExplorer:
    return image_explorer(_frames(), unit_labels={3: "cat", 7: "dog", 9: "unused"}, scale=2)


def test_explorer_nests_one_frame_per_condition(explorer: ImageExplorer) -> None:
    assert isinstance(explorer, widgets.VBox)
    assert explorer.children[-1] is explorer.unit_stack
    unit_stack = explorer.unit_stack
    assert isinstance(unit_stack, widgets.Stack) and len(unit_stack.children) == 2
    for u, unit in enumerate(UNITS):
        sign_stack = unit_stack.children[u]
        assert isinstance(sign_stack, widgets.Stack) and len(sign_stack.children) == 2
        for s, sign in enumerate(SIGNS):
            alpha_stack = sign_stack.children[s]
            assert isinstance(alpha_stack, widgets.Stack) and len(alpha_stack.children) == 3
            for a, alpha in enumerate(ALPHAS):
                image, caption = alpha_stack.children[a].children
                pixels = _decode(image.value)
                assert pixels.shape == (8, 8, 3)  # 4 px frames, scale 2
                assert (pixels == _colour(unit, sign, alpha)).all()
                assert (image.format, image.width, image.height) == ("png", "8", "8")
                name = {3: "cat", 7: "dog"}[unit]
                assert (
                    caption.value
                    == f'<span class="signseg-frame-caption">{name} · {sign} · α = {alpha:g}</span>'
                )


def test_explorer_controls_list_the_conditions(explorer: ImageExplorer) -> None:
    assert explorer.unit_dropdown.options == (("cat", 3), ("dog", 7))
    assert explorer.sign_toggle.options == SIGNS
    assert explorer.alpha_slider.options == (("0", 0.0), ("0.5", 0.5), ("1", 1.0))
    assert explorer.grid == ConditionGrid(UNITS, SIGNS, ALPHAS)
    controls = (explorer.unit_dropdown, explorer.sign_toggle, explorer.alpha_slider)
    assert all(control.index == 0 for control in controls)


def test_explorer_links_every_stack_to_its_control(explorer: ImageExplorer) -> None:
    assert len(explorer.links) == 1 + 2 + 2 * 2
    assert all(isinstance(link, Link) for link in explorer.links)
    sign_stacks = list(explorer.unit_stack.children)
    alpha_stacks = [stack for sign_stack in sign_stacks for stack in sign_stack.children]
    targets_of = {
        id(control): []
        for control in (explorer.unit_dropdown, explorer.sign_toggle, explorer.alpha_slider)
    }
    for link in explorer.links:
        (source, source_trait), (target, target_trait) = link.source, link.target
        assert (source_trait, target_trait) == ("index", "selected_index")
        targets_of[id(source)].append(target)
    assert targets_of[id(explorer.unit_dropdown)] == [explorer.unit_stack]
    assert targets_of[id(explorer.sign_toggle)] == sign_stacks
    assert targets_of[id(explorer.alpha_slider)] == alpha_stacks
    all_stacks = [explorer.unit_stack, *sign_stacks, *alpha_stacks]
    assert all(stack.selected_index == 0 for stack in all_stacks)


def test_explorer_has_no_python_callbacks(explorer: ImageExplorer) -> None:
    controls = (explorer.unit_dropdown, explorer.sign_toggle, explorer.alpha_slider)
    for control in controls:
        observers = control._trait_notifiers.get("index", {}).get("change", [])
        assert [
            observer for observer in observers if "signseg" in getattr(observer, "__module__", "")
        ] == []
    # Setting a control in Python leaves the stacks alone: only jslink (browser side) drives them.
    explorer.alpha_slider.index = 2
    assert explorer.unit_stack.children[0].children[0].selected_index == 0
    explorer.alpha_slider.index = 0


def test_explorer_default_labels_auto_scale_and_numpy_keys() -> None:
    frames = {
        (np.int64(unit), sign, np.float32(alpha)): np.full((32, 32), alpha, dtype=np.float64)
        for unit in (0, 1)
        for sign in ("negative", "positive")
        for alpha in (0.0, 0.5)
    }
    explorer = image_explorer(frames, signs=["positive", "negative"])
    assert explorer.unit_dropdown.options == (("unit 0", 0), ("unit 1", 1))
    assert explorer.sign_toggle.options == ("positive", "negative")
    image = explorer.unit_stack.children[1].children[0].children[1].children[0]
    pixels = _decode(image.value)
    assert pixels.shape == (128, 128) and (pixels == 128).all()  # grey 0.5, 32 px x 4


def test_explorer_names_the_missing_frame() -> None:
    frames = _frames()
    del frames[(7, "negative", 0.5)]
    with pytest.raises(
        InvalidInputError, match=r"missing 1 of the 12 frames.*\(7, 'negative', 0\.5\)"
    ):
        image_explorer(frames)


def test_explorer_rejects_mixed_shapes_and_missing_labels() -> None:
    frames = _frames()
    frames[(3, "positive", 1.0)] = np.zeros((5, 4, 3), dtype=np.uint8)
    with pytest.raises(
        InvalidInputError, match=r"frame \(3, 'positive', 1.0\) has shape \(5, 4, 3\)"
    ):
        image_explorer(frames)
    with pytest.raises(InvalidInputError, match=r"no label for units \[7\]"):
        image_explorer(_frames(), unit_labels={3: "cat"})


def test_montage_tiles_with_white_padding_by_hand() -> None:
    from signseg.widgets import montage

    red = np.zeros((2, 2, 3), dtype=np.uint8)
    red[..., 0] = 255
    blue = np.zeros((2, 2, 3), dtype=np.uint8)
    blue[..., 2] = 255
    canvas = montage([red, blue, red], columns=2, pad=1)
    assert canvas.shape == (5, 5, 3)
    assert (canvas[:2, :2] == red).all() and (canvas[:2, 3:] == blue).all()
    assert (canvas[:, 2] == 255).all() and (canvas[2] == 255).all()
    assert (canvas[3:, 3:] == 255).all()  # the missing fourth tile stays white
    assert montage([red], columns=1, size=4).shape == (4, 4, 3)


def test_explorer_controls_can_be_renamed_for_channels() -> None:
    frames = {(layer, sign, float(rank)): np.zeros((4, 4, 3), dtype=np.uint8)
              for layer in (0, 1) for sign in ("positive", "negative") for rank in (1, 2)}
    explorer = image_explorer(frames, unit_labels={0: "conv1 → conv2", 1: "conv2 → conv3"},
                              control_names=("layer", "list", "rank"))
    controls = (explorer.unit_dropdown, explorer.sign_toggle, explorer.alpha_slider)
    assert [control.description for control in controls] == ["layer", "list", "rank"]
    first = explorer.unit_stack.children[0].children[0].children[0]
    assert first.children[1].value.endswith("conv1 → conv2 · positive · rank 1</span>")
