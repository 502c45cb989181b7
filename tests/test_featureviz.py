"""signseg.featureviz: Lucent-style gradient feature visualization, checked against torch-lucent."""

from __future__ import annotations

import inspect
import math
import sys

import kornia
import numpy as np
import pytest
import torch
from lucent.optvis import param as lucent_param
from lucent.optvis import transform as lucent_transform
from torch import nn

from signseg.errors import InvalidInputError, UnknownNameError
from signseg.featureviz import (
    BACKENDS,
    FourierImage,
    RenderResult,
    render,
    render_by,
    render_with_lucent,
    standard_transforms,
)
from signseg.featureviz.transforms import (
    Jitter,
    Pad,
    RandomRotate,
    RandomScale,
    apply_transforms,
    random_transforms,
)
from signseg.generators.prior import color_correlation_normalized


def _tiny_net() -> nn.Module:
    """A random two-layer conv net with weights from a seeded generator, frozen, in eval mode."""
    generator = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 4, 3)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=generator))
            p.requires_grad_(False)
    return net


NET = _tiny_net()


def channel_objective(channels: list[int]):
    """Image ``i`` scores the spatial mean of channel ``channels[i]`` of the tiny (CPU) net;
    images on another device (Lucent's cuda:0 where there is one) go to the CPU and back."""
    index = torch.tensor(channels)

    def objective(images01: torch.Tensor) -> torch.Tensor:
        scores = NET(images01.cpu()).mean(dim=(2, 3))[torch.arange(len(images01)), index]
        return scores.to(images01.device)

    return objective


def red_minus_green(images01: torch.Tensor) -> torch.Tensor:
    return images01[:, 0].mean(dim=(1, 2)) - images01[:, 1].mean(dim=(1, 2))


# --- parametrization -------------------------------------------------------------------------

@pytest.mark.parametrize("size", [16, 17])
@pytest.mark.parametrize("decorrelate", [True, False])
def test_fourier_image_equals_lucent_for_the_same_spectrum(size, decorrelate):
    torch.manual_seed(3)
    params, image_f = lucent_param.image(size, batch=2, decorrelate=decorrelate)
    with torch.no_grad():
        params[0].mul_(100.0)  # far from grey, so the sigmoid and colours matter
    ours = FourierImage(2, size, seed=0, decorrelate=decorrelate)
    with torch.no_grad():
        # Lucent keeps one extra (ignored) frequency column for odd sizes
        ours.spectrum.copy_(params[0][..., : size // 2 + 1, :])
        expected, got = image_f(), ours()
    assert got.shape == (2, 3, size, size)
    assert float(expected.std()) > 0.1
    assert float((got - expected).abs().max()) < 1e-6


def test_fourier_image_seeds_each_image_like_lucent_seeds_the_global_generator():
    torch.manual_seed(5)
    params, _ = lucent_param.image(16)
    assert torch.equal(FourierImage(1, 16, seed=5).spectrum.detach(), params[0].detach())
    batch = FourierImage(3, 16, seed=4).spectrum.detach()
    for i in range(3):
        assert torch.equal(batch[i], FourierImage(1, 16, seed=4 + i).spectrum.detach()[0])
    assert torch.equal(FourierImage(2, 16, seed=[9, 2]).spectrum.detach()[1],
                       FourierImage(1, 16, seed=2).spectrum.detach()[0])
    assert abs(float(batch.std()) - 0.01) < 1e-3  # sd


def test_colour_matrix_equals_lucents():
    lucent_color = torch.from_numpy(lucent_param.color.color_correlation_normalized).double()
    ours = color_correlation_normalized()
    assert torch.allclose(ours, lucent_color, atol=1e-7, rtol=0)
    assert torch.allclose(torch.linalg.vector_norm(ours, dim=0).max(), torch.tensor(1.0).double())
    assert torch.allclose(FourierImage(1, 8).color.double(), ours, atol=1e-7)
    assert torch.equal(FourierImage(1, 8, decorrelate=False).color, torch.eye(3))


# --- transforms ------------------------------------------------------------------------------

def test_standard_transforms_have_lucents_parameters():
    pad, jitter8, scale, rotate, jitter4 = standard_transforms()
    names = [inspect.getclosurevars(t).nonlocals for t in lucent_transform.standard_transforms]
    assert (pad.width, pad.value) == (names[0]["w"], names[0]["constant_value"]) == (12, 0.5)
    assert jitter8.d == names[1]["d"] == 8 and jitter4.d == names[4]["d"] == 4
    assert scale.scales == tuple(names[2]["scales"])
    assert rotate.angles == tuple(float(a) for a in names[3]["angles"])
    assert rotate.angles.count(0.0) == 6 and len(rotate.angles) == 26


def test_transforms_at_the_identity_draw_leave_images_unchanged():
    images = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(1))
    stack = (Pad(0), Jitter(8), RandomScale((0.9, 1.0, 1.1)), RandomRotate((-10, 0, 10)), Jitter(4))
    identity = [torch.zeros(2, 0), torch.zeros(2, 2), torch.ones(2, 1), torch.zeros(2, 1),
                torch.zeros(2, 2)]
    out = apply_transforms(images, stack, [p.double() for p in identity])
    assert out.shape == images.shape
    # grid_sample's float32 sampling grid is exact to ~1e-6 px (as in kornia/Lucent)
    assert float((out - images).abs().max()) < 1e-5


def test_jitter_and_rotation_equal_lucents_for_the_same_draw():
    images = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(2))
    for dx, dy in [(3, 5), (7, 0)]:
        expected = kornia.geometry.transform.translate(images, torch.tensor([[dx, dy]]).float())
        got = Jitter(8).apply(images, torch.tensor([[dx, dy]] * 2, dtype=torch.float64))
        assert float((got - expected).abs().max()) < 1e-5
    for angle in (7.0, -10.0):
        expected = lucent_transform.random_rotate([angle])(images)
        got = RandomRotate((angle,)).apply(images, torch.full((2, 1), angle, dtype=torch.float64))
        assert float((got - expected).abs().max()) < 1e-5


def test_random_scale_zooms_about_the_centre():
    coords = torch.arange(41, dtype=torch.float64)
    blob = torch.exp(-((coords[None, :] - 30) ** 2 + (coords[:, None] - 20) ** 2) / (2 * 2.0**2))
    images = blob.float().expand(1, 1, 41, 41)
    out = RandomScale((1.1,)).apply(images, torch.tensor([[1.1]], dtype=torch.float64))[0, 0]
    x_centroid = float((out.sum(dim=0).double() * coords).sum() / out.sum())
    y_centroid = float((out.sum(dim=1).double() * coords).sum() / out.sum())
    assert x_centroid == pytest.approx(20 + 1.1 * 10, abs=0.02)  # centre pixel 20
    assert y_centroid == pytest.approx(20, abs=1e-6)


def test_transforms_are_drawn_per_image_from_the_generators():
    images = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    stack = standard_transforms()

    def generators(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    a = random_transforms(images, stack, generators(1, 2, 3))
    assert a.shape == (3, 3, 40, 40)
    assert torch.equal(a, random_transforms(images, stack, generators(1, 2, 3)))
    assert not torch.equal(a, random_transforms(images, stack, generators(4, 5, 6)))
    alone = random_transforms(images[1:2], stack, generators(2))
    assert torch.equal(a[1:2], alone)
    with pytest.raises(InvalidInputError, match="generators"):
        random_transforms(images, stack, generators(1))


# --- render ----------------------------------------------------------------------------------

@pytest.mark.parametrize("decorrelate", [True, False])
def test_red_minus_green_objective_makes_images_red(decorrelate):
    result = render(red_minus_green, 1, size=16, steps=100, lr=0.3, transforms=False,
                    decorrelate=decorrelate, device="cpu")
    assert isinstance(result, RenderResult) and result.backend == "signseg"
    assert result.images.shape == (1, 16, 16, 3) and result.images.dtype == np.uint8
    mean_rgb = result.images.reshape(-1, 3).mean(axis=0) / 255.0
    assert mean_rgb[0] > 0.75 and mean_rgb[1] < 0.1
    assert result.scores.dtype == np.float64
    assert result.scores[0] == pytest.approx(mean_rgb[0] - mean_rgb[1], abs=0.01)
    assert result.trajectory.shape == (1, 100)
    assert abs(result.trajectory[0, 0]) < 0.01 < result.trajectory[0, 50] < result.scores[0]


ONEDNN_OFF_WARNING = "ignore:TF32 acceleration on top of oneDNN:UserWarning"


@pytest.mark.filterwarnings(ONEDNN_OFF_WARNING)
def test_batched_render_equals_separate_renders_with_the_same_seeds():
    # oneDNN convolutions round differently by batch size; the native ones do not, and then
    # image i of a batch is exactly the one-image render with its seed
    with torch.backends.mkldnn.flags(enabled=False):
        both = render(channel_objective([0, 1]), 2, size=24, steps=40, seed=[3, 7], device="cpu")
        first = render(channel_objective([0]), 1, size=24, steps=40, seed=3, device="cpu")
        second = render(channel_objective([1]), 1, size=24, steps=40, seed=7, device="cpu")
    assert np.array_equal(both.images, np.concatenate([first.images, second.images]))
    assert np.array_equal(both.trajectory, np.concatenate([first.trajectory, second.trajectory]))
    assert not np.array_equal(both.images[0], both.images[1])


@pytest.mark.filterwarnings(ONEDNN_OFF_WARNING)
def test_render_is_deterministic_by_seed():
    objective = channel_objective([2, 3])
    with torch.backends.mkldnn.flags(enabled=False):
        a = render(objective, 2, size=16, steps=10, seed=4, device="cpu")
        b = render(objective, 2, size=16, steps=10, seed=4, device="cpu")
        c = render(objective, 2, size=16, steps=10, seed=5, device="cpu")
        # an integer seed s gives image i the seed s + i
        shifted = render(channel_objective([3]), 1, size=16, steps=10, seed=5, device="cpu")
    assert np.array_equal(a.images, b.images) and np.array_equal(a.scores, b.scores)
    assert np.array_equal(a.trajectory, b.trajectory)
    assert not np.array_equal(a.images, c.images)
    assert np.array_equal(shifted.images[0], a.images[1])


def test_render_raises_channel_scores_above_random_images():
    objective = channel_objective([0, 1, 2, 3])
    with torch.no_grad():
        initial = objective(FourierImage(4, 32, seed=0)()).double().numpy()
    result = render(objective, 4, size=32, steps=64, device="cpu")
    assert np.all(result.scores > initial + 0.3)
    assert np.all(result.trajectory[:, -8:].mean(axis=1) > result.trajectory[:, :8].mean(axis=1))


def test_lucent_backend_raises_channel_scores_too():
    objective = channel_objective([0, 1, 2, 3])
    with torch.no_grad():
        initial = objective(FourierImage(4, 32, seed=0)()).double().numpy()
    result = render_by("lucent", objective, 4, size=32, steps=64, seed=0)
    assert result.backend == "lucent" and result.images.shape == (4, 32, 32, 3)
    assert np.all(result.scores > initial + 0.3)
    again = render_with_lucent(objective, 4, size=32, steps=64, seed=0)
    assert np.array_equal(result.images, again.images)


def test_backends_agree_without_transforms_for_one_image():
    # same initial spectrum (seed), same parametrization, same Adam loop: same render
    # (up to float rounding, which Adam amplifies where a gradient is near 0: over many
    # steps single pixels drift apart by a few levels at some sizes)
    objective = channel_objective([1])
    ours = render(objective, 1, size=16, steps=40, transforms=False, seed=5, device="cpu")
    theirs = render_by("lucent", objective, 1, size=16, steps=40, transforms=False, seed=5)
    assert np.abs(ours.images.astype(int) - theirs.images).max() <= 2
    np.testing.assert_allclose(ours.trajectory, theirs.trajectory, rtol=1e-4, atol=1e-4)
    assert ours.trajectory[0, -1] > ours.trajectory[0, 0] + 0.2
    assert BACKENDS == ("signseg", "lucent")


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"n_images": 0}, "n_images"),
    ({"n_images": 1.5}, "n_images"),
    ({"steps": 0}, "steps"),
    ({"lr": 0.0}, "lr"),
    ({"lr": math.nan}, "lr"),
    ({"size": 1}, "size"),
    ({"seed": -1}, "seed"),
    ({"seed": [1, 2, 3]}, "seed"),
    ({"objective": "channel 3"}, "objective"),
    ({"objective": lambda x: x.mean()}, "objective"),
    ({"objective": lambda x: x.mean(dim=(1, 2, 3)) / 0.0}, "objective"),
    ({"objective": lambda x: x.mean(dim=(1, 2, 3)).detach()}, "objective"),
    ({"device": "not a device"}, "device"),
])
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_arguments_raise_errors_naming_them(backend, kwargs, name):
    arguments = {"objective": red_minus_green, "n_images": 2, "size": 8, "steps": 2} | kwargs
    with pytest.raises(InvalidInputError, match=name):
        render_by(backend, **arguments)


def test_lucent_backend_checks_its_device_and_unknown_backends_are_named():
    with pytest.raises(InvalidInputError, match="device"):
        render_with_lucent(red_minus_green, 1, size=8, steps=1, device="meta")
    with pytest.raises(UnknownNameError, match="backend"):
        render_by("lucid", red_minus_green, 1)


def test_missing_lucent_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lucent.optvis.render", None)
    with pytest.raises(ImportError, match=r'pip install "signseg\[lucent\]"'):
        render_with_lucent(red_minus_green, 1, size=8, steps=1)
