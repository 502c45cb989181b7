"""A learned image prior: an up-convolutional generator that inverts a zoo model's features.

The project's offline stand-in for DeePSiM fc6 (Dosovitskiy & Brox 2016), trained by
:mod:`signseg.prior_training` the way DeePSiM was trained to invert AlexNet: an *encoder*
(any :class:`~signseg.zoo.ZooModel`, by default one trained on Tiny ImageNet) maps an image
to the output ``h`` of one hidden layer (a module path, by default ``"features"``: the conv
trunk's last pooled feature map, the small AlexNet's ``pool5``); the generator learns to map
the code back to the image, with a pixel loss and a loss in the encoder's conv features.

Code space (derived from the code statistics, :class:`CodeBasis`)
-----------------------------------------------------------------
The generator does not take ``h`` itself but its whitened principal components over the
training images: with ``mu`` the mean feature vector and ``U_k``, ``lambda_k`` the top ``k``
eigenvectors and eigenvalues of their covariance (population normalisation),

    ``z = diag(lambda_k) ** -1/2  U_k^T (h - mu)``,

so that the codes of the training images have mean 0 and identity covariance exactly.

* **Code dimension** ``k``: the fewest components that explain ``code_variance`` of the
  feature variance (default 97%), at most ``max_code_dim``. Feature maps of small networks
  are highly redundant (neighbouring positions and channels correlate), so ``k`` is far below
  the layer's size; the search happens where real images vary.
* **Step size** ``default_sigma``: the root mean square of the training codes' entries, which
  the whitening makes 1. CMA-ES's first generation ``x0 + sigma0 N(0, I)`` therefore has the
  mean and covariance of the codes of real images (a Gaussian model of them): it renders
  image-like samples, not noise.
* **Initial codes**: "small-norm codes near the origin" as in the paper, with the origin made
  meaningful: ``z = 0`` is the mean feature vector, whose rendering is the average image (a
  smooth, low-contrast scene). Post-ReLU features have their origin at "every unit silent",
  at the edge of their distribution; whitening moves the search's origin to the centre of the
  data. ``init_codes`` are ``init_scale * default_sigma * N(0, I)`` with ``init_scale = 0.1``
  (as for the Fourier prior): a faint variation of the average image, norm about
  ``0.1 sqrt(k)`` against ``sqrt(k)`` for real images.

The network (:func:`build_decoder`), DeePSiM's design scaled down: ``Linear(k, 16 width)``,
LeakyReLU(0.3), reshape to ``[width, 4, 4]``, then ``log2(size / 4)`` doublings of the
resolution, each halving the channels (at least 8) and followed by LeakyReLU(0.3), and a 3x3
convolution to RGB through a sigmoid. A doubling is nearest-neighbour upsampling and a 3x3
convolution by default; DeePSiM's stride-2 4x4 transposed convolutions (``upsample="deconv"``)
leave checkerboard artefacts that the feature loss amplifies at this scale.

>>> from signseg import generators
>>> prior = generators.load("learned")  # trains (minutes) or loads the cached prior
>>> images = prior(prior.init_codes(4))  # [4, 3, 32, 32] in [0, 1]
>>> codes = prior.encode(images)         # an image's code: reconstructions prior(codes)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import torch
from torch import nn

from ..errors import InvalidInputError
from .base import Generator, seeded_generator

if TYPE_CHECKING:  # pragma: no cover
    from ..prior_training import PriorConfig
    from ..zoo import ZooModel

__all__ = [
    "UPSAMPLING", "CodeBasis", "fit_code_basis", "build_decoder", "LearnedPrior", "load_learned",
]

_SLOPE = 0.3
_MIN_CHANNELS = 8
_INIT_SCALE = 0.1


@dataclass
class CodeBasis:
    """Whitened principal components of a layer's features: ``h <-> z`` (module docstring).

    Attributes
    ----------
    mean:
        ``[D]`` mean feature vector ``mu`` (float64).
    components:
        ``[D, k]`` orthonormal eigenvectors ``U_k`` of the feature covariance, by decreasing
        variance (float64; each column's sign fixed so that its largest entry is positive).
    eigenvalues:
        ``[D]`` every eigenvalue of the feature covariance, decreasing, negative rounding
        errors set to 0 (float64); the first ``k`` are ``lambda_k``.
    """

    mean: torch.Tensor
    components: torch.Tensor
    eigenvalues: torch.Tensor

    @property
    def code_dim(self) -> int:
        """``k``, the number of components kept."""
        return int(self.components.shape[1])

    @property
    def variances(self) -> torch.Tensor:
        """``[k]`` the kept eigenvalues ``lambda_k`` (the features' variance along each axis)."""
        return self.eigenvalues[: self.code_dim]

    @property
    def total_variance(self) -> float:
        """Trace of the feature covariance (the variance of all ``D`` dimensions)."""
        return float(self.eigenvalues.sum())

    @property
    def explained(self) -> float:
        """Fraction of the feature variance the ``k`` components explain."""
        return float(self.variances.sum()) / self.total_variance

    def to_codes(self, features: torch.Tensor) -> torch.Tensor:
        """Codes ``z`` ``[n, k]`` (float32) of features ``h`` ``[n, D]`` (flattened outputs)."""
        centred = features.double().flatten(1) - self.mean
        return (centred @ self.components / self.variances.sqrt()).float()

    def to_features(self, codes: torch.Tensor) -> torch.Tensor:
        """Features ``mu + U_k diag(lambda_k)^1/2 z`` ``[n, D]`` (float32) of codes ``[n, k]``."""
        return (self.mean + (codes.double() * self.variances.sqrt()) @ self.components.T).float()

    def state_dict(self) -> dict[str, Any]:
        """Tensors and numbers to save with ``torch.save`` (:meth:`from_state_dict` reads them)."""
        return {"mean": self.mean, "components": self.components, "eigenvalues": self.eigenvalues}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> "CodeBasis":
        """The basis saved by :meth:`state_dict`."""
        return cls(state["mean"], state["components"], state["eigenvalues"])


def fit_code_basis(
    features: torch.Tensor, code_variance: float = 0.9, max_code_dim: int | None = None
) -> CodeBasis:
    """Fit the whitened principal components of ``features`` (see the module docstring).

    Parameters
    ----------
    features:
        ``[n, D]`` feature vectors (or ``[n, ...]`` layer outputs, flattened), ``n >= 2``.
    code_variance:
        Keep the fewest components whose eigenvalues sum to at least this fraction of the
        total variance, in ``(0, 1]``.
    max_code_dim:
        Keep at most this many (``None``: no limit). Components with zero variance (beyond
        the features' rank) are never kept.

    Returns
    -------
    CodeBasis
        Computed in float64 with the population covariance ``(h - mu)^T (h - mu) / n``, so
        that ``to_codes(features)`` has mean 0 and identity covariance (population).

    Raises
    ------
    InvalidInputError
        Fewer than two feature vectors, non-finite values, constant features, or
        ``code_variance`` / ``max_code_dim`` out of range.
    """
    if not 0.0 < code_variance <= 1.0:
        raise InvalidInputError(f"code_variance must be in (0, 1], got {code_variance!r}")
    if max_code_dim is not None and max_code_dim < 1:
        raise InvalidInputError(f"max_code_dim must be >= 1 or None, got {max_code_dim!r}")
    features = torch.as_tensor(features).flatten(1)
    if features.shape[0] < 2:
        raise InvalidInputError(
            f"the code basis needs at least 2 feature vectors, got {features.shape[0]}"
        )
    if not torch.isfinite(features).all():
        raise InvalidInputError("the features contain NaN or infinite values")
    mean = features.double().mean(0)
    covariance = torch.zeros(features.shape[1], features.shape[1], dtype=torch.float64)
    for chunk in features.split(4096):
        centred = chunk.double() - mean
        covariance += centred.T @ centred
    covariance /= features.shape[0]
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    eigenvalues, eigenvectors = eigenvalues.flip(0).clamp(min=0), eigenvectors.flip(1)
    total = float(eigenvalues.sum())
    if total <= 0:
        raise InvalidInputError("the features are constant over the images; nothing to encode")
    positive = int((eigenvalues > total * 1e-12).sum())
    explained = eigenvalues[:positive].cumsum(0) / total
    k = int((explained < code_variance - 1e-12).sum()) + 1
    k = min(k, positive, max_code_dim or positive)
    components = eigenvectors[:, :k]
    largest = components.gather(0, components.abs().argmax(0, keepdim=True))
    components = components * torch.sign(largest)
    return CodeBasis(mean, components.contiguous(), eigenvalues.contiguous())


#: How the decoder doubles the resolution: DeePSiM's stride-2 4x4 transposed convolution, or
#: nearest-neighbour upsampling then a 3x3 convolution (no checkerboard artefacts; Odena et al.
#: 2016, "Deconvolution and checkerboard artifacts", Distill).
UPSAMPLING = ("deconv", "nearest")


def build_decoder(
    code_dim: int, output_size: int, width: int, upsample: str = "nearest"
) -> nn.Sequential:
    """The up-convolutional network ``[n, code_dim] -> [n, 3, size, size]`` (module docstring).

    Parameters
    ----------
    code_dim:
        Input code length.
    output_size:
        Side of the output images: ``4 * 2**m`` with ``m >= 0`` (8, 16, 32, 64, 128, ...).
    width:
        Channels of the first ``4 x 4`` feature map; halved by every upsampling, at least 8.
    upsample:
        One of :data:`UPSAMPLING`.
    """
    steps = math.log2(output_size / 4) if output_size >= 4 else -1.0
    if not float(steps).is_integer() or steps < 0:
        raise InvalidInputError(
            f"output_size must be 4 times a power of two (8, 16, 32, 64, ...), got {output_size!r}"
        )
    if width < 1 or code_dim < 1:
        raise InvalidInputError(f"width and code_dim must be >= 1, got {width} and {code_dim}")
    if upsample not in UPSAMPLING:
        raise InvalidInputError(f"upsample must be one of {UPSAMPLING}, got {upsample!r}")
    layers: list[tuple[str, nn.Module]] = [
        ("fc", nn.Linear(code_dim, width * 16)),
        ("relu_fc", nn.LeakyReLU(_SLOPE, inplace=True)),
        ("reshape", nn.Unflatten(1, (width, 4, 4))),
    ]
    channels = width
    for index in range(int(steps)):
        out = max(channels // 2, _MIN_CHANNELS)
        if upsample == "deconv":
            layers.append((f"deconv{index}", nn.ConvTranspose2d(channels, out, 4, 2, padding=1)))
        else:
            layers.append((f"upsample{index}", nn.Upsample(scale_factor=2, mode="nearest")))
            layers.append((f"conv{index}", nn.Conv2d(channels, out, 3, padding=1)))
        layers.append((f"relu{index}", nn.LeakyReLU(_SLOPE, inplace=True)))
        channels = out
    layers.append(("to_rgb", nn.Conv2d(channels, 3, 3, padding=1)))
    layers.append(("sigmoid", nn.Sigmoid()))
    return nn.Sequential(OrderedDict(layers))


class LearnedPrior(Generator):
    """A generator trained by :mod:`signseg.prior_training` (see the module docstring).

    Parameters
    ----------
    basis:
        The code basis (its ``code_dim`` is the generator's).
    output_size, width, upsample:
        Of the decoder (:func:`build_decoder`).
    provenance:
        What :meth:`describe` reports: ``encoder``, ``layer``, ``dataset``, ``n_train``.
    encoder:
        The encoding network, for :meth:`encode` (``None``: encoding unavailable).
    default_sigma:
        The root mean square of the training codes' entries (1 up to rounding: the codes are
        whitened), recorded by the training.
    """

    name = "learned"
    #: Standard deviation of the initial codes' entries, in units of ``default_sigma``.
    init_scale = _INIT_SCALE

    def __init__(
        self,
        basis: CodeBasis,
        output_size: int,
        width: int,
        upsample: str = "nearest",
        provenance: Mapping[str, Any] | None = None,
        encoder: "ZooModel | None" = None,
        default_sigma: float = 1.0,
    ) -> None:
        super().__init__()
        self.basis = basis
        self.code_dim = basis.code_dim
        self.output_size = int(output_size)
        self.width = int(width)
        self.decoder = build_decoder(self.code_dim, self.output_size, self.width, upsample)
        self.provenance = dict(provenance or {})
        self.encoder = encoder
        self.default_sigma = float(default_sigma)
        encoder_name = self.provenance.get("encoder")
        self.trained_with = (str(encoder_name),) if encoder_name else ()

    def init_codes(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` codes with i.i.d. ``N(0, (init_scale * default_sigma)**2)`` entries."""
        n = self._check_count(n)
        scale = self.init_scale * self.default_sigma
        return scale * torch.randn(n, self.code_dim, generator=seeded_generator(seed))

    def _render(self, codes: torch.Tensor) -> torch.Tensor:
        return self.decoder(codes)

    def encode(self, images01: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Codes ``[n, code_dim]`` (CPU, float32) of images in ``[0, 1]``: ``prior(codes)`` are
        their reconstructions.

        Raises
        ------
        InvalidInputError
            The prior was built without its encoder.
        """
        if self.encoder is None:
            raise InvalidInputError(
                "this LearnedPrior has no encoder; load it with signseg.generators.load("
                "'learned', ...) or signseg.prior_training.load_prior to encode images"
            )
        from ..layers import layer_outputs

        network, spec = self.encoder.model, self.encoder.entry.preprocessing
        device = next(network.parameters()).device
        layer = self.provenance["layer"]
        codes = []
        with torch.no_grad():
            for chunk in torch.as_tensor(images01).split(batch_size):
                (features,) = layer_outputs(network, spec(chunk.float()).to(device), [layer])
                codes.append(self.basis.to_codes(features.cpu()))
        return torch.cat(codes)

    def reconstruct(self, images01: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Reconstructions ``self(self.encode(images01))`` ``[n, 3, size, size]`` in ``[0, 1]``."""
        codes = self.encode(images01, batch_size)
        with torch.no_grad():
            return torch.cat([self(chunk) for chunk in codes.split(batch_size)])

    def describe(self) -> str:
        info = self.provenance
        return (
            f"Learned image prior (a DeePSiM-style up-convolutional generator trained by this "
            f"project on {info.get('n_train', '?')} {info.get('dataset', '?')} images to invert "
            f"layer {info.get('layer', '?')!r} of {info.get('encoder', '?')}) mapping "
            f"{self.code_dim}-d codes (whitened principal components, "
            f"{100 * self.basis.explained:.0f}% of the feature variance) to "
            f"{self.output_size}x{self.output_size} RGB images."
        )


def load_learned(
    config: "PriorConfig | Mapping[str, Any] | None" = None,
    *,
    encoder: str | None = None,
    layer: str | None = None,
    train_if_missing: bool = True,
    download: bool = True,
    progress: bool = True,
) -> LearnedPrior:
    """The learned prior trained with ``config``, from the cache or trained now.

    Parameters
    ----------
    config:
        A :class:`~signseg.prior_training.PriorConfig` or a dictionary of its fields (e.g. a
        profile's ``generator_options: {learned: {config: {...}}}``); ``None``: defaults.
    encoder, layer:
        Shortcuts that replace ``config.encoder`` (a zoo name) and ``config.layer``.
    train_if_missing:
        Train the prior (and, through :func:`signseg.train.load`, its encoder) when it is not
        cached; ``False`` raises :class:`~signseg.errors.WeightsNotFoundError` instead.
    download:
        Let the encoder's and the data set's loaders download what is missing.
    progress:
        Show training progress bars.

    Returns
    -------
    LearnedPrior
        Frozen, in eval mode, with its encoder (for :meth:`LearnedPrior.encode`).
    """
    from ..prior_training import load_prior

    return load_prior(config, encoder=encoder, layer=layer, train_if_missing=train_if_missing,
                      download=download, progress=progress)

