"""DeePSiM fc6: the generator that inverts AlexNet's fc6 layer (Dosovitskiy & Brox 2016).

The paper's main search space (A.1): a 4096-d code is mapped to a 256 x 256 image,
initial CMA-ES step size 3.0. This module reproduces the PyTorch port used by Ponce et
al. 2019 and Wang & Ponce 2022: class ``upconvGAN("fc6")`` in ``GAN_utils.py`` of
https://github.com/PonceLab/circuit_toolkit (``circuit_toolkit/GAN_utils.py``; the same
class is in ``core/GAN_utils.py`` of https://github.com/Animadversio/ActMax-Optimizer-Dev).

Architecture (an ``nn.Sequential`` whose module names are the published state-dict keys)::

    defc7  Linear(4096, 4096)      LeakyReLU(0.3)
    defc6  Linear(4096, 4096)      LeakyReLU(0.3)
    defc5  Linear(4096, 4096)      LeakyReLU(0.3)     -> reshape to [256, 4, 4]
    deconv5  ConvT(256, 256, 4, s2, p1)   LeakyReLU(0.3)   8 x 8
    conv5_1  ConvT(256, 512, 3, s1, p1)   LeakyReLU(0.3)
    deconv4  ConvT(512, 256, 4, s2, p1)   LeakyReLU(0.3)   16 x 16
    conv4_1  ConvT(256, 256, 3, s1, p1)   LeakyReLU(0.3)
    deconv3  ConvT(256, 128, 4, s2, p1)   LeakyReLU(0.3)   32 x 32
    conv3_1  ConvT(128, 128, 3, s1, p1)   LeakyReLU(0.3)
    deconv2  ConvT(128, 64, 4, s2, p1)    LeakyReLU(0.3)   64 x 64
    deconv1  ConvT(64, 32, 4, s2, p1)     LeakyReLU(0.3)   128 x 128
    deconv0  ConvT(32, 3, 4, s2, p1)                        256 x 256, BGR, mean-free

Output (the port's ``visualize``): reorder BGR -> RGB, add the Caffe mean
``(R, G, B) = (123, 117, 104)``, clamp to ``[0, 255]`` and divide by 255.

Weights: ``upconvGAN_fc6.pt`` from the port's published address
(:data:`WEIGHTS_URL`, Hugging Face ``binxu/DeePSim_DosovitskiyBrox2016``), cached as
``<torch hub dir>/checkpoints/upconvGAN_fc6.pt`` -- the file name and folder the port
itself uses. The file is the state dict of the ``nn.Sequential`` (keys ``defc7.weight``,
..., ``deconv0.bias``); like the port, keys are passed through ``.replace(".1.", ".")``
before loading.

Initial codes (**choice**, kept after checking it against the paper): standard normal
vectors, norm about 64. The paper (A.1) says only "small norm vectors ... close to the
origin of the latent spaces". The Ponce lab's evolution scripts draw the fc6 start exactly
so -- ``init_code = np.random.randn(1, 4096)`` in circuit_toolkit's
``experiments/BigGAN_Evol_cmp_O2_cluster.py`` and in the weight-silencing evolution scripts
built on https://github.com/Animadversio/Neuro-ActMax-GAN-comparison, passed to
``CholeskyCMAES(space_dimen=4096, init_code=init_code, init_sigma=3)`` -- while
``ExperimentEvolution`` in ActMax-Optimizer-Dev's ``core/insilico_exps.py`` starts at zeros.
Both are "near the origin" on the scale of the search: CMA-ES samples the first
population at distance ``sigma0 * sqrt(4096) = 192`` from the start, so a start of norm 64 is
a third of one step away from the origin and the first candidates' norms are
``sqrt(64**2 + 192**2) = 202`` instead of 192 from zero (5% apart; checked in
``tests/test_generators.py``); evolved fc6 codes reach norms of several hundred (the lab's
spherical optimizer works at norm 300). Random starts also make the restarts of a condition
begin at different images, which a zero start would not.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..errors import WeightsNotFoundError
from ..hub import fetch_checkpoint, load_state_dict, remap_keys
from .base import Generator, seeded_generator

__all__ = [
    "DeePSiMFc6",
    "load_deepsim_fc6",
    "WEIGHTS_URL",
    "WEIGHTS_FILENAME",
    "LAYER_NAMES",
    "CAFFE_MEAN_RGB",
]

#: Published address of the port's fc6 generator weights (circuit_toolkit ``model_urls``).
WEIGHTS_URL = (
    "https://huggingface.co/binxu/DeePSim_DosovitskiyBrox2016/resolve/main/upconvGAN_fc6.pt"
)
#: File name the port caches the weights under in ``<torch hub dir>/checkpoints``.
WEIGHTS_FILENAME = "upconvGAN_fc6.pt"
#: Caffe ImageNet mean in RGB order, added to the generator's mean-free output.
CAFFE_MEAN_RGB = (123.0, 117.0, 104.0)
#: Names of the weighted layers, in order: the published state dict holds
#: ``<name>.weight`` and ``<name>.bias`` for each.
LAYER_NAMES = (
    "defc7", "defc6", "defc5",
    "deconv5", "conv5_1", "deconv4", "conv4_1", "deconv3", "conv3_1",
    "deconv2", "deconv1", "deconv0",
)  # fmt: skip

_CODE_DIM = 4096
_SLOPE = 0.3
# (name, in_channels, out_channels, kernel_size); 4x4 kernels upsample by 2 (stride 2,
# padding 1), 3x3 kernels keep the size (stride 1, padding 1).
_CONV_LAYERS = (
    ("deconv5", 256, 256, 4), ("conv5_1", 256, 512, 3),
    ("deconv4", 512, 256, 4), ("conv4_1", 256, 256, 3),
    ("deconv3", 256, 128, 4), ("conv3_1", 128, 128, 3),
    ("deconv2", 128, 64, 4), ("deconv1", 64, 32, 4), ("deconv0", 32, 3, 4),
)  # fmt: skip


def _build_network() -> nn.Sequential:
    """The port's fc6 ``nn.Sequential`` (randomly initialised)."""
    layers: list[tuple[str, nn.Module]] = []
    for name in ("defc7", "defc6", "defc5"):
        layers.append((name, nn.Linear(_CODE_DIM, _CODE_DIM)))
        layers.append((f"relu_{name}", nn.LeakyReLU(_SLOPE, inplace=True)))
    layers.append(("reshape", nn.Unflatten(1, (256, 4, 4))))
    for name, c_in, c_out, kernel in _CONV_LAYERS:
        stride = 2 if kernel == 4 else 1
        layers.append((name, nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=1)))
        if name != "deconv0":
            layers.append((f"relu_{name}", nn.LeakyReLU(_SLOPE, inplace=True)))
    return nn.Sequential(OrderedDict(layers))


class DeePSiMFc6(Generator):
    """The DeePSiM fc6 generator: 4096-d code -> 256 x 256 RGB image in ``[0, 1]``.

    ``DeePSiMFc6()`` has random weights; :func:`load_deepsim_fc6` loads the published
    ones. The published state dict loads into :attr:`net` unchanged.
    """

    name = "deepsim-fc6"
    trained_with = ("alexnet",)
    code_dim = _CODE_DIM
    output_size = 256
    default_sigma = 3.0
    #: Standard deviation of the initial codes' entries (see the module docstring).
    init_scale = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.net = _build_network()
        self.register_buffer(
            "caffe_mean", torch.tensor(CAFFE_MEAN_RGB).view(1, 3, 1, 1), persistent=False
        )

    def init_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` codes with i.i.d. ``N(0, init_scale**2)`` entries, deterministic in ``seed``."""
        n = self._check_count(n)
        return self.init_scale * torch.randn(n, self.code_dim, generator=seeded_generator(seed))

    def _render(self, codes: torch.Tensor) -> torch.Tensor:
        rgb = self.net(codes).flip(1) + self.caffe_mean
        return rgb.clamp(0.0, 255.0) / 255.0

    def load_published_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a state dict in the port's published format (keys ``defc7.weight``, ...)."""
        self.net.load_state_dict(remap_keys(state_dict, lambda key: key.replace(".1.", ".")))

    def describe(self) -> str:
        return (
            "DeePSiM fc6 generator (Dosovitskiy & Brox 2016, PyTorch port of Wang & Ponce) "
            "mapping 4096-d codes to 256x256 RGB images."
        )


def load_deepsim_fc6(*, download: bool = True, progress: bool = True) -> DeePSiMFc6:
    """The DeePSiM fc6 generator with the published weights, frozen and in eval mode.

    Parameters
    ----------
    download:
        Download ``upconvGAN_fc6.pt`` (about 225 MB) when it is not in the torch hub cache.
    progress:
        Show a download progress bar.

    Raises
    ------
    WeightsNotFoundError
        The weights are not cached and could not be downloaded (the message names the file,
        the folder to copy it to and the address to get it from), or the cached file is not
        the fc6 generator's state dict.
    """
    path = fetch_checkpoint(
        WEIGHTS_URL,
        WEIGHTS_FILENAME,
        download=download,
        progress=progress,
        what="DeePSiM fc6 generator weights",
    )
    generator = DeePSiMFc6()
    try:
        generator.load_published_state_dict(load_state_dict(path))
    except RuntimeError as exc:  # wrong keys or shapes: another file under the same name
        raise WeightsNotFoundError(
            f"{str(path)!r} is not the DeePSiM fc6 generator's state dict ({exc}). Delete it "
            f"and download the file again from {WEIGHTS_URL}."
        ) from exc
    return generator.eval().requires_grad_(False)
