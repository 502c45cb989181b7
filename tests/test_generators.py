"""Tests of signseg.generators: the latent code -> image maps of the feature visualization."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from signseg import generators
from signseg.errors import InvalidInputError, UnknownNameError, WeightsNotFoundError
from signseg.generators import biggan, deepsim, prior
from signseg.preprocessing import Preprocessing

# A small BigGAN-deep (32 px, 4 base channels) with the real code layout: 128-d noise +
# 128-d class embedding. Layers are (upsample?, in multiplier, out multiplier); the first
# takes the 16 * channel_width channels of the generator's initial 4 x 4 tensor.
TINY_BIGGAN_CONFIG = {
    "output_dim": 32,
    "z_dim": 128,
    "class_embed_dim": 128,
    "channel_width": 4,
    "num_classes": 10,
    "layers": [[True, 16, 8], [False, 8, 4], [True, 4, 2], [True, 2, 1]],
    "attention_layer_position": 1,
    "eps": 1e-4,
    "n_stats": 51,
}


@pytest.fixture
def hub_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub checkpoints folder inside a temporary TORCH_HOME; random-weight
    stand-ins are saved under the published names, so verification is off."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    assert folder == tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def random_deepsim() -> deepsim.DeePSiMFc6:
    torch.manual_seed(0)
    return deepsim.DeePSiMFc6().eval()


@pytest.fixture(scope="module")
def tiny_biggan() -> torch.nn.Module:
    torch.manual_seed(0)
    return biggan.build_biggan(TINY_BIGGAN_CONFIG).eval()


# --------------------------------------------------------------------------- registry


def test_names_lists_every_generator() -> None:
    assert generators.names() == ["biggan-deep-256", "deepsim-fc6", "fourier", "learned", "pixel"]


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError) as info:
        generators.load("stylegan")
    message = str(info.value)
    assert "'stylegan'" in message
    assert all(name in message for name in generators.names())


def test_unknown_option_says_which_options_exist() -> None:
    with pytest.raises(InvalidInputError, match="size"):
        generators.load("pixel", resolution=28)


@pytest.mark.parametrize(
    ("name", "size", "code_dim"),
    [("fourier", 32, 3 * 32 * 17 * 2), ("fourier", 28, 3 * 28 * 15 * 2), ("fourier", 7, 3 * 7 * 4 * 2),
     ("pixel", 32, 3 * 32 * 32), ("pixel", 28, 3 * 28 * 28)],
)  # fmt: skip
def test_priors_shapes_ranges_dtypes(name: str, size: int, code_dim: int) -> None:
    generator = generators.load(name, size=size)
    assert isinstance(generator, generators.Generator)
    assert (generator.name, generator.code_dim, generator.output_size) == (name, code_dim, size)
    assert generator.default_sigma == 1.0
    codes = 3.0 * torch.randn(5, code_dim, generator=torch.Generator().manual_seed(1))
    images = generator(codes.double())
    assert images.shape == (5, 3, size, size)
    assert images.dtype == torch.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.std() > 0.05  # the codes reach the pixels
    assert torch.equal(generator(codes.numpy()), images)  # numpy codes are accepted


@pytest.mark.parametrize("name", ["fourier", "pixel"])
def test_prior_init_codes_are_seeded_small_and_near_grey(name: str) -> None:
    generator = generators.load(name)
    codes = generator.init_codes(4, seed=3)
    assert codes.shape == (4, generator.code_dim) and codes.dtype == torch.float32
    assert torch.equal(codes, generator.init_codes(4, seed=3))
    assert not torch.equal(codes, generator.init_codes(4, seed=4))
    assert torch.equal(codes[:2], generator.init_codes(2, seed=3))
    assert codes.std().item() == pytest.approx(0.1, rel=0.05)
    assert (generator(codes) - 0.5).abs().max() < 0.15  # faint structure on grey


@pytest.mark.parametrize(
    "codes",
    [torch.zeros(3264), torch.zeros(2, 3263), torch.zeros(0, 3264), torch.zeros(1, 2, 3264),
     torch.full((1, 3264), float("nan")), torch.full((1, 3264), float("inf"))],
)  # fmt: skip
def test_bad_codes_are_rejected(codes: torch.Tensor) -> None:
    with pytest.raises(InvalidInputError, match=r"fourier|NaN"):
        generators.load("fourier")(codes)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_code_counts_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="positive integer"):
        generators.load("pixel").init_codes(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 0, 3.5])
def test_bad_sizes_are_rejected(size: object) -> None:
    with pytest.raises(InvalidInputError, match="size"):
        generators.load("fourier", size=size)


def test_describe_is_one_sentence() -> None:
    for generator in (generators.load("fourier", size=28), generators.load("pixel")):
        text = generator.describe()
        assert text.endswith(".") and text.count(". ") == 0
        assert str(generator.output_size) in text and str(generator.code_dim) in text


# --------------------------------------------------------------------------- render_for


def test_render_for_uses_the_classifier_preprocessing() -> None:
    grey_28 = Preprocessing(size=28, mean=(0.5,), std=(0.25,), channels=1)
    fourier = generators.load("fourier", size=32)
    inputs = generators.render_for(grey_28, fourier, torch.zeros(2, fourier.code_dim))
    assert inputs.shape == (2, 1, 28, 28)
    assert torch.allclose(inputs, torch.zeros_like(inputs), atol=1e-6)  # grey 0.5 -> 0
    codes = fourier.init_codes(2, seed=0)
    assert torch.equal(generators.render_for(grey_28, fourier, codes), grey_28(fourier(codes)))


# --------------------------------------------------------------------------- pixel prior


def test_pixel_prior_is_a_channel_major_sigmoid() -> None:
    pixel = generators.load("pixel", size=4)
    codes = torch.zeros(1, 48)
    codes[0, 1 * 16 + 2 * 4 + 3] = 2.0  # channel 1, row 2, column 3
    image = pixel(codes)[0]
    expected = torch.full((3, 4, 4), 0.5)
    expected[1, 2, 3] = 1.0 / (1.0 + math.exp(-2.0))
    assert torch.allclose(image, expected, atol=1e-7)


# --------------------------------------------------------------------------- Fourier prior


def test_fourier_zero_code_is_uniform_grey() -> None:
    fourier = generators.load("fourier", size=28)
    assert torch.equal(fourier(torch.zeros(2, fourier.code_dim)), torch.full((2, 3, 28, 28), 0.5))


@pytest.mark.parametrize(("ky", "kx", "part"), [(3, 2, 0), (30, 5, 1), (0, 1, 0)])
def test_fourier_single_coefficient_is_a_pure_sinusoid(ky: int, kx: int, part: int) -> None:
    size, amplitude = 32, 0.3
    fourier = generators.load("fourier", size=size)
    spectrum = torch.zeros(fourier.spectrum_shape)
    spectrum[0, ky, kx, part] = amplitude  # decorrelated component 0 (luminance)
    codes = spectrum.reshape(1, -1)
    logits = fourier.logits(codes)[0].double()

    # exact pattern: 2 * a * scale / size * (cos | -sin)(2 pi (ky y + kx x) / size), per RGB
    # channel weighted by column 0 of the colour matrix
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    phase = 2 * math.pi * (ky * y + kx * x).double() / size
    wave = torch.cos(phase) if part == 0 else -torch.sin(phase)
    peak = 2 * amplitude * fourier.scale[ky, kx].double() / size
    colour = prior.color_correlation_normalized()[:, 0]
    assert torch.allclose(logits, colour[:, None, None] * peak * wave, atol=1e-6)

    # the FFT of the pre-sigmoid image has energy at +-(ky, kx) only
    power = torch.fft.fft2(logits).abs() ** 2
    at_k = power[:, ky, kx] + power[:, -ky % size, -kx % size]
    assert torch.allclose(at_k, power.sum((1, 2)), rtol=1e-8)
    # and forward is its sigmoid
    assert torch.allclose(fourier(codes)[0].double(), torch.sigmoid(logits), atol=1e-6)


@pytest.mark.parametrize("size", [6, 7])
def test_hermitian_energy_matches_brute_force(size: int) -> None:
    half = size // 2 + 1
    basis = torch.eye(size * half * 2, dtype=torch.float64).reshape(-1, size, half, 2)
    images = torch.fft.irfft2(torch.view_as_complex(basis), s=(size, size), norm="ortho")
    brute = (images**2).sum((1, 2)).reshape(size, half, 2)
    assert torch.allclose(prior.hermitian_energy(size), brute, atol=1e-12)


@pytest.mark.parametrize(
    ("size", "decay_power", "decorrelate"), [(6, 1.0, True), (7, 2.0, False), (8, 0.5, True)]
)
def test_fourier_unit_codes_give_unit_variance_at_every_pixel(
    size: int, decay_power: float, decorrelate: bool
) -> None:
    fourier = prior.FourierPrior(size, decay_power=decay_power, decorrelate=decorrelate)
    jacobian = fourier.logits(torch.eye(fourier.code_dim)).double()  # [code, 3, size, size]
    variance = (jacobian**2).sum(0).mean(0)  # per pixel, channel-averaged, for N(0, I) codes
    assert torch.allclose(variance, torch.ones(size, size, dtype=torch.float64), atol=1e-5)
    # the image depends on exactly a 3 * size**2 dimensional subspace of the codes
    rank = torch.linalg.matrix_rank(jacobian.reshape(fourier.code_dim, -1))
    assert rank == 3 * size**2


def test_spectrum_scale_is_one_over_frequency() -> None:
    scale = prior.spectrum_scale(8)
    assert scale.shape == (8, 5)
    assert scale[0, 0] == 8.0  # DC is clamped at frequency 1 / size
    assert scale[0, 1] == pytest.approx(8.0)  # f = 1/8
    assert scale[2, 1] == pytest.approx(1.0 / math.hypot(2 / 8, 1 / 8))
    assert scale[4, 4] == pytest.approx(1.0 / math.hypot(0.5, 0.5))  # Nyquist corner
    gain = prior.fourier_gain(8, 1.0, prior.color_correlation_normalized())
    assert torch.allclose(prior.FourierPrior(8).scale.double(), gain * scale)


def test_colour_decorrelation_matrix_properties() -> None:
    color = prior.color_correlation_normalized()
    norms = torch.linalg.vector_norm(color, dim=0)
    assert norms.max().item() == pytest.approx(1.0) and norms.argmax() == 0
    gram = color.T @ color  # columns are orthogonal up to the published 2-decimal rounding
    cosines = gram / torch.outer(norms, norms)
    assert (cosines - torch.eye(3, dtype=cosines.dtype)).abs().max() < 0.15
    assert (color[:, 0] > 0).all() and color[:, 0].max() / color[:, 0].min() < 1.05  # luminance
    covariance = color @ color.T  # implied RGB covariance: natural images' channels correlate
    assert (covariance > 0).all()
    assert torch.linalg.eigvalsh(covariance).min() > 0
    assert torch.allclose(color.float(), generators.load("fourier").color)
    assert torch.equal(generators.load("fourier", decorrelate=False).color, torch.eye(3))


# --------------------------------------------------------------------------- DeePSiM fc6


def test_deepsim_layers_are_the_published_ones(random_deepsim: deepsim.DeePSiMFc6) -> None:
    state = random_deepsim.net.state_dict()
    expected = [f"{name}.{kind}" for name in deepsim.LAYER_NAMES for kind in ("weight", "bias")]
    assert list(state) == expected
    assert state["defc7.weight"].shape == (4096, 4096)
    assert state["conv5_1.weight"].shape == (256, 512, 3, 3)  # ConvTranspose2d: [in, out, k, k]
    assert state["deconv0.weight"].shape == (32, 3, 4, 4)
    assert (random_deepsim.code_dim, random_deepsim.output_size) == (4096, 256)
    assert random_deepsim.default_sigma == 3.0


def test_generators_name_the_networks_they_were_trained_to_invert(
    random_deepsim: deepsim.DeePSiMFc6,
) -> None:
    assert random_deepsim.trained_with == ("alexnet",)  # torchvision's AlexNet, the zoo name
    assert generators.load("fourier", size=16).trained_with == ()


def test_deepsim_output_is_bgr_plus_caffe_mean(random_deepsim: deepsim.DeePSiMFc6) -> None:
    generator = copy.deepcopy(random_deepsim)
    with torch.no_grad():
        for parameter in generator.parameters():
            parameter.zero_()
        generator.net.deconv0.bias.copy_(torch.tensor([10.0, -20.0, 200.0]))  # B, G, R
    images = generator(torch.randn(2, 4096))
    expected_rgb = [min(200.0 + 123.0, 255.0) / 255.0, (-20.0 + 117.0) / 255.0, (10.0 + 104.0) / 255.0]
    assert images.shape == (2, 3, 256, 256)
    assert torch.allclose(images, torch.tensor(expected_rgb).view(1, 3, 1, 1).expand_as(images))


def test_deepsim_checkpoint_round_trip(
    random_deepsim: deepsim.DeePSiMFc6, hub_checkpoints: Path
) -> None:
    torch.save(random_deepsim.net.state_dict(), hub_checkpoints / "upconvGAN_fc6.pt")
    loaded = generators.load("deepsim-fc6", download=False)
    assert isinstance(loaded, deepsim.DeePSiMFc6)
    loaded_state = loaded.state_dict()
    for key, value in random_deepsim.state_dict().items():
        assert torch.equal(loaded_state[key], value), key
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    codes = loaded.init_codes(2, seed=5)
    images = loaded(codes)
    assert images.shape == (2, 3, 256, 256) and images.dtype == torch.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    with torch.no_grad():
        assert torch.equal(images, random_deepsim(codes))


def test_deepsim_missing_weights_error_names_file_folder_and_url(hub_checkpoints: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        generators.load("deepsim-fc6", download=False)
    message = str(info.value)
    assert "DeePSiM fc6" in message and "'upconvGAN_fc6.pt'" in message
    assert str(hub_checkpoints) in message and deepsim.WEIGHTS_URL in message


def test_deepsim_wrong_checkpoint_is_reported(hub_checkpoints: Path) -> None:
    torch.save({"defc7.weight": torch.zeros(3, 3)}, hub_checkpoints / "upconvGAN_fc6.pt")
    with pytest.raises(WeightsNotFoundError, match="not the DeePSiM fc6 generator's state dict"):
        generators.load("deepsim-fc6", download=False)


def test_deepsim_init_codes_are_seeded_standard_normal(random_deepsim: deepsim.DeePSiMFc6) -> None:
    codes = random_deepsim.init_codes(8, seed=11)
    assert codes.shape == (8, 4096)
    assert torch.equal(codes, random_deepsim.init_codes(8, seed=11))
    assert codes.std().item() == pytest.approx(1.0, abs=0.02)
    assert codes.norm(dim=1).mean().item() == pytest.approx(64.0, rel=0.03)


def test_deepsim_init_codes_are_near_the_origin_on_the_scale_of_the_search(
    random_deepsim: deepsim.DeePSiMFc6,
) -> None:
    # the paper's "small norm vectors close to the origin": CMA-ES's first population lies
    # sigma0 * sqrt(4096) = 192 from its start, so starting at norm 64 instead of at zero
    # changes the candidates' norms by 5% (sqrt(64^2 + 192^2) = 202)
    from signseg.evolve import LockstepCMA

    sigma0 = random_deepsim.default_sigma
    starts = {"random": random_deepsim.init_codes(4, seed=0), "zero": torch.zeros(4, 4096)}
    norms = {}
    for name, x0 in starts.items():
        population = LockstepCMA(x0, sigma0, seed=1).ask()
        assert population.shape == (4, 40, 4096)
        norms[name] = population.norm(dim=-1).mean().item()
    assert norms["zero"] == pytest.approx(sigma0 * 64, rel=0.01)
    assert norms["random"] == pytest.approx((64**2 + (sigma0 * 64) ** 2) ** 0.5, rel=0.01)
    assert norms["random"] / norms["zero"] < 1.06


# --------------------------------------------------------------------------- BigGAN


def test_biggan_code_bypasses_the_class_embedding(tiny_biggan: torch.nn.Module) -> None:
    generator = biggan.BigGANDeep(tiny_biggan, truncation=0.7)
    assert (generator.code_dim, generator.output_size, generator.default_sigma) == (256, 32, 0.2)
    noise = 0.5 * torch.randn(3, 128, generator=torch.Generator().manual_seed(2))
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 4, 9]), 10).float()
    with torch.no_grad():
        embedding = tiny_biggan.embeddings(one_hot)
        images = generator(torch.cat([noise, embedding], dim=1))
        reference = tiny_biggan(noise, one_hot, 0.7)  # the package's class-conditional path
    assert images.shape == (3, 3, 32, 32) and images.dtype == torch.float32
    assert torch.allclose(images, ((reference + 1) / 2).clamp(0, 1), atol=1e-6)
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.std() > 0


def test_biggan_init_codes_are_truncated_noise_and_zero_class(tiny_biggan: torch.nn.Module) -> None:
    generator = biggan.BigGANDeep(tiny_biggan)
    codes = generator.init_codes(64, seed=7)
    assert codes.shape == (64, 256)
    assert torch.equal(codes, generator.init_codes(64, seed=7))
    assert not torch.equal(codes, generator.init_codes(64, seed=8))
    noise, embedding = codes[:, :128], codes[:, 128:]
    assert torch.equal(embedding, torch.zeros(64, 128))
    assert noise.abs().max() <= 1.4
    # 0.7 x N(0, 1) truncated to [-2, 2]: sd = 0.7 * sqrt(1 - 4 phi(2) / (Phi(2) - Phi(-2)))
    phi2 = math.exp(-2) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert noise.std().item() == pytest.approx(0.7 * math.sqrt(1 - 4 * phi2 / mass), abs=0.02)
    assert noise.mean().item() == pytest.approx(0.0, abs=0.03)


def test_biggan_checkpoint_round_trip(tiny_biggan: torch.nn.Module, hub_checkpoints: Path) -> None:
    (hub_checkpoints / "biggan-deep-256-config.json").write_text(json.dumps(TINY_BIGGAN_CONFIG))
    torch.save(tiny_biggan.state_dict(), hub_checkpoints / "biggan-deep-256-pytorch_model.bin")
    loaded = generators.load("biggan-deep-256", download=False, truncation=0.4)
    assert isinstance(loaded, biggan.BigGANDeep) and loaded.truncation == 0.4
    loaded_state = loaded.biggan.state_dict()
    for key, value in tiny_biggan.state_dict().items():
        assert torch.equal(loaded_state[key], value), key
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    codes = loaded.init_codes(2, seed=0)
    with torch.no_grad():
        expected = ((tiny_biggan.generator(codes, 0.4) + 1) / 2).clamp(0, 1)
    assert torch.allclose(loaded(codes), expected, atol=1e-6)
    assert "truncation 0.4" in loaded.describe()


def test_biggan_missing_weights_error_names_both_files(hub_checkpoints: Path) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        generators.load("biggan-deep-256", download=False)
    message = str(info.value)
    assert "'biggan-deep-256-config.json'" in message
    assert "'biggan-deep-256-pytorch_model.bin'" in message
    assert str(hub_checkpoints) in message
    assert biggan.WEIGHTS_URL in message and biggan.CONFIG_URL in message


@pytest.mark.parametrize("truncation", [0.0, 1.5, -0.2])
def test_biggan_rejects_bad_truncation(tiny_biggan: torch.nn.Module, truncation: float) -> None:
    with pytest.raises(InvalidInputError, match="truncation"):
        biggan.BigGANDeep(tiny_biggan, truncation=truncation)


def test_biggan_rejects_bad_codes(tiny_biggan: torch.nn.Module) -> None:
    with pytest.raises(InvalidInputError, match=r"\[n, 256\]"):
        biggan.BigGANDeep(tiny_biggan)(np.zeros((2, 128)))
