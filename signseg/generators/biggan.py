"""BigGAN-deep-256 (Brock et al. 2019) searched in its 256-d conditioning space.

The paper's second search space (A.1): a 256-d code = 128-d noise + 128-d class
embedding, fed *directly* to BigGAN's generator, bypassing the class-embedding layer, as
Wang & Ponce do (``BigGAN_wrapper.visualize`` in ``GAN_utils.py`` of
https://github.com/PonceLab/circuit_toolkit and of
https://github.com/Animadversio/ActMax-Optimizer-Dev)::

    images = BigGAN.generator(code, truncation=0.7)      # tanh output in [-1, 1]
    images = clamp((images + 1) / 2, 0, 1)

The network is the ``pytorch-pretrained-biggan`` package's ``BigGAN`` (install the
``paper`` extra: ``pip install 'signseg[paper]'``).

Initial codes (paper A.1; circuit_toolkit ``experiments/BigGAN_Evol_cmp_O2_cluster.py``:
``fixnoise = 0.7 * truncated_noise_sample(1, 128)``,
``init_code = concatenate((fixnoise, zeros((1, 128))))``): the noise half is 0.7 times a
standard normal truncated to ``[-2, 2]``, i.e. values in ``[-1.4, 1.4]`` and norm about 7;
the class-embedding half is zero. Initial CMA-ES step size 0.2 (paper A.1, the same script).

Weights: the package's published files (:data:`WEIGHTS_URL`, :data:`CONFIG_URL`). The
package caches them under hashed names in ``$PYTORCH_PRETRAINED_BIGGAN_CACHE`` (default
``~/.pytorch_pretrained_biggan``) and always asks the server for the file's ETag first, so
it cannot load from its own cache offline. Like Wang & Ponce's ``loadBigGAN`` on Linux,
this module instead keeps the two files under their plain names,
``biggan-deep-256-config.json`` and ``biggan-deep-256-pytorch_model.bin``, in
``<torch hub dir>/checkpoints`` (through :func:`signseg.hub.fetch_checkpoint`), builds
``BigGAN(BigGANConfig.from_json_file(...))`` and loads the state dict (non-strictly, as the
package's ``from_pretrained`` does).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..optional import import_optional
from ..errors import InvalidInputError, WeightsNotFoundError
from ..files import load_json
from ..hub import fetch_checkpoint, load_state_dict
from .base import Generator, seeded_generator

__all__ = [
    "BigGANDeep",
    "load_biggan_deep_256",
    "build_biggan",
    "WEIGHTS_URL",
    "CONFIG_URL",
    "NOISE_SCALE",
    "NOISE_TRUNCATION",
]

#: Published weights of biggan-deep-256 (``PRETRAINED_MODEL_ARCHIVE_MAP`` of the package).
WEIGHTS_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-pytorch_model.bin"
#: Published configuration (``PRETRAINED_CONFIG_ARCHIVE_MAP`` of the package).
CONFIG_URL = "https://s3.amazonaws.com/models.huggingface.co/biggan/biggan-deep-256-config.json"
#: The initial noise is ``NOISE_SCALE`` times a standard normal truncated to
#: ``[-NOISE_TRUNCATION, NOISE_TRUNCATION]`` (the package's ``truncated_noise_sample``).
NOISE_SCALE = 0.7
NOISE_TRUNCATION = 2.0


def _biggan_package() -> Any:
    return import_optional("pytorch_pretrained_biggan", "BigGAN", "pytorch-pretrained-biggan")


def build_biggan(config: dict[str, Any]) -> nn.Module:
    """A ``pytorch_pretrained_biggan.BigGAN`` built from a configuration dictionary.

    The package leaves the final batch norm's affine parameters uninitialised
    (``torch.Tensor(n)``); they are set to the identity (weight 1, bias 0) here so that a
    model used without a checkpoint is finite and deterministic given the torch seed.
    """
    package = _biggan_package()
    model = package.BigGAN(package.BigGANConfig.from_dict(dict(config)))
    with torch.no_grad():
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.zero_()
    return model


class BigGANDeep(Generator):
    """A BigGAN-deep generator searched in its concatenated (noise, class embedding) space.

    Parameters
    ----------
    biggan:
        A ``pytorch_pretrained_biggan.BigGAN`` (see :func:`build_biggan`,
        :func:`load_biggan_deep_256`).
    truncation:
        Passed to the generator, in ``(0, 1]``; it selects the batch-norm statistics
        precomputed for that truncation. 0.7 as in Wang & Ponce's wrapper.
    """

    name = "biggan-deep-256"
    default_sigma = 0.2

    def __init__(self, biggan: nn.Module, truncation: float = 0.7) -> None:
        super().__init__()
        if not 0.0 < float(truncation) <= 1.0:
            raise InvalidInputError(f"BigGAN truncation must be in (0, 1], got {truncation!r}")
        config = biggan.config
        if config.class_embed_dim != config.z_dim:
            raise InvalidInputError(
                "BigGAN-deep conditions on [noise, class embedding] of 2 * z_dim values; got "
                f"z_dim={config.z_dim} and class_embed_dim={config.class_embed_dim}"
            )
        self.biggan = biggan
        self.truncation = float(truncation)
        self.noise_dim = int(config.z_dim)
        self.code_dim = 2 * self.noise_dim
        self.output_size = int(config.output_dim)

    def init_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` codes ``[0.7 * truncated normal noise in [-1.4, 1.4], zeros]`` (seeded)."""
        n = self._check_count(n)
        noise = torch.empty(n, self.noise_dim)
        torch.nn.init.trunc_normal_(
            noise, 0.0, 1.0, -NOISE_TRUNCATION, NOISE_TRUNCATION, generator=seeded_generator(seed)
        )
        return torch.cat([NOISE_SCALE * noise, torch.zeros(n, self.noise_dim)], dim=1)

    def _render(self, codes: torch.Tensor) -> torch.Tensor:
        images = self.biggan.generator(codes, self.truncation)
        return ((images + 1.0) / 2.0).clamp(0.0, 1.0)

    def describe(self) -> str:
        return (
            f"BigGAN-deep (Brock et al. 2019) mapping {self.code_dim}-d codes ({self.noise_dim}-d "
            f"noise + {self.noise_dim}-d class embedding, truncation {self.truncation:g}) to "
            f"{self.output_size}x{self.output_size} RGB images."
        )


def _fetch_files(*, download: bool, progress: bool) -> tuple[Path, Path]:
    """Paths of the cached configuration and weights; one error naming every missing file."""
    paths: list[Path] = []
    problems: list[str] = []
    for url, what, bar in (
        (CONFIG_URL, "BigGAN-deep-256 configuration", False),
        (WEIGHTS_URL, "BigGAN-deep-256 weights", progress),
    ):
        try:
            paths.append(fetch_checkpoint(url, download=download, progress=bar, what=what))
        except WeightsNotFoundError as exc:
            problems.append(str(exc))
    if problems:
        raise WeightsNotFoundError(" ".join(problems))
    return paths[0], paths[1]


def load_biggan_deep_256(
    *, truncation: float = 0.7, download: bool = True, progress: bool = True
) -> BigGANDeep:
    """BigGAN-deep-256 with the published weights, frozen and in eval mode.

    Parameters
    ----------
    truncation:
        Generator truncation (0.7 as in Wang & Ponce).
    download:
        Download the configuration and the weights (about 0.2 GB) when they are not in
        ``<torch hub dir>/checkpoints``.
    progress:
        Show a download progress bar.

    Raises
    ------
    WeightsNotFoundError
        A file is neither cached nor downloadable; the message names it, the folder to copy
        it to and its address.
    ImportError
        ``pytorch-pretrained-biggan`` is not installed.
    """
    config_path, weights_path = _fetch_files(download=download, progress=progress)
    config = load_json(config_path, "the BigGAN-deep-256 configuration",
                       f"Delete it and download it again from {CONFIG_URL}.")
    model = build_biggan(config)
    result = model.load_state_dict(load_state_dict(weights_path), strict=False)
    if result.missing_keys:
        warnings.warn(
            f"{weights_path} lacks {len(result.missing_keys)} BigGAN entries (e.g. "
            f"{result.missing_keys[:3]}); they keep their initial values.",
            stacklevel=2,
        )
    return BigGANDeep(model, truncation=truncation).eval().requires_grad_(False)
