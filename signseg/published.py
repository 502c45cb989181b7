"""Published ImageNet ResNet-50s of other training regimes: adversarially robust and SimSiam.

The paper's Section 3 compares the supervised torchvision ResNet-50 with networks trained
otherwise. Their authors publish them as checkpoint files in their own formats; this module
knows where each file is published, what its keys look like, and how to turn it into a
torchvision ``resnet50`` (keys remapped, nothing else changed). Files are found, downloaded
and verified through :func:`signseg.hub.fetch_checkpoint` (the torch hub cache,
``<torch hub dir>/checkpoints``), with one record each in ``signseg/reference/checkpoints.yaml``.
:func:`signseg.zoo.load` is the entry point; :data:`PUBLISHED` lists the models.

Adversarially robust ResNet-50s (Salman et al. 2020)
-----------------------------------------------------
*Do Adversarially Robust ImageNet Models Transfer Better?* (NeurIPS 2020): ResNet-50s trained
with L-inf PGD at epsilon 0.5, 1, 2, 4 and 8 (/255), made with the MadryLab ``robustness``
library. The files are those listed in the README of ``microsoft/robust-models-transfer``
(``resnet50_linf_eps4.0.ckpt``, ...); when its Azure blob store closed, the authors moved
them to https://huggingface.co/madrylab/robust-imagenet-models (A. Ilyas in
MadryLab/robustness issue #125, 2023-09-25; bethgelab/model-vs-human PR #25 switched to the
same addresses), :data:`ROBUST_URL`.

Format (``robustness/train.py``: ``ch.save(sd_info, ..., pickle_module=dill)``): a dict with
``model`` (the state dict of ``DataParallel(AttackerModel)``), ``optimizer``, ``schedule``
and ``epoch``. ``AttackerModel`` (``robustness/attacker.py``) holds ``normalizer``
(``InputNormalize``: buffers ``new_mean`` and ``new_std`` of shape ``[3, 1, 1]``), ``model``
(the classifier, torchvision's ResNet-50 since robustness PR #47) and ``attacker``
(``Attacker``: its own ``normalize`` and the *same* ``model``). The keys are therefore::

    module.normalizer.new_mean, module.normalizer.new_std
    module.model.<torchvision resnet50 key>            the classifier
    module.attacker.normalize.new_mean, ...new_std
    module.attacker.model.<torchvision resnet50 key>   the same tensors again

(the task that asked for this loader wrote ``module.attacker.normalizer``; the library's
attribute is ``normalize``). Loading keeps ``module.model.*`` without the prefix, checks that the
attacker's copy is the same network and that both normalisers are the ImageNet mean and std
the zoo's :data:`~signseg.preprocessing.IMAGENET` preprocessing applies (the network was
trained on inputs normalised so; anything else raises :class:`~signseg.errors.DamagedFileError`).
Evaluation input: ``Resize(256)``, ``CenterCrop(224)`` (``TEST_TRANSFORMS_IMAGENET`` in
``robustness/data_augmentation.py``), i.e. :data:`~signseg.preprocessing.IMAGENET`. Top-1
accuracies: the README's table "Standard Accuracy of Linf-Robust ImageNet Models"
(73.73, 72.05, 69.10, 63.86, 54.53 %).

SimSiam ResNet-50 (Chen & He 2021)
----------------------------------
*Exploring Simple Siamese Representation Learning*: the 100-epoch ImageNet pre-training and
its linear classifier, both from the README of ``facebookresearch/simsiam``
(:data:`SIMSIAM_PRETRAIN_URL`, :data:`SIMSIAM_LINEAR_URL`; top-1 68.1 %).

* Pre-training (``main_simsiam.py``): ``{"epoch", "arch", "state_dict", "optimizer"}`` with the
  state dict of ``DistributedDataParallel(SimSiam)`` (``simsiam/builder.py``):
  ``module.encoder.<resnet50 key>`` for the backbone, ``module.encoder.fc.{0,1,3,4,6,7}.*`` for the
  3-layer projector that replaced the encoder's ``fc``, ``module.predictor.{0,1,3}.*``.
* Linear classification (``main_lincls.py``): ``{"epoch", "arch", "state_dict", "best_acc1",
  "optimizer"}`` with the state dict of ``DistributedDataParallel(resnet50)``:
  ``module.<resnet50 key>``; only ``module.fc.weight`` / ``module.fc.bias`` were trained, the
  backbone is the frozen pre-trained encoder (the script's ``sanity_check`` asserts so).

The zoo's ``resnet50_simsiam`` is the pre-trained encoder's backbone with the linear probe's
1000-way ``fc`` (the paper's Fig. 18); the two files must agree on the backbone, as the
script's sanity check requires (else :class:`~signseg.errors.DamagedFileError`: they are not
from the same run). Both files have generic names (``checkpoint_0099.pth.tar``,
``model_best.pth.tar``) that other projects (MoCo, ...) publish too, so they are cached under
:data:`SIMSIAM_PRETRAIN_FILENAME` and :data:`SIMSIAM_LINEAR_FILENAME` (**choice**).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .errors import InvalidInputError, WeightsNotFoundError
from .files import damaged
from .hub import fetch_checkpoint, load_state_dict, remap_keys
from .preprocessing import IMAGENET

__all__ = [
    "PublishedModel",
    "PUBLISHED",
    "ROBUST_EPSILONS",
    "ROBUST_URL",
    "SIMSIAM_PRETRAIN_URL",
    "SIMSIAM_LINEAR_URL",
    "SIMSIAM_PRETRAIN_FILENAME",
    "SIMSIAM_LINEAR_FILENAME",
    "robust_name",
    "checkpoint_files",
    "robust_state_dict",
    "simsiam_state_dict",
    "load_published",
]

#: Address of the robust ResNet-50 with L-inf epsilon ``{eps}`` (``0.5``, ``1.0``, ...) /255.
ROBUST_URL = ("https://huggingface.co/madrylab/robust-imagenet-models/resolve/main/"
              "resnet50_linf_eps{eps}.ckpt")
#: SimSiam's 100-epoch pre-training checkpoint and linear classifier (facebookresearch/simsiam).
SIMSIAM_PRETRAIN_URL = "https://dl.fbaipublicfiles.com/simsiam/models/100ep/pretrain/checkpoint_0099.pth.tar"
SIMSIAM_LINEAR_URL = "https://dl.fbaipublicfiles.com/simsiam/models/100ep/finetune/model_best.pth.tar"
#: File names of the two SimSiam checkpoints in the hub cache (see the module docstring).
SIMSIAM_PRETRAIN_FILENAME = "simsiam_100ep_checkpoint_0099.pth.tar"
SIMSIAM_LINEAR_FILENAME = "simsiam_100ep_lincls_model_best.pth.tar"

#: Published clean ImageNet top-1 (%) of the L-inf robust ResNet-50s by epsilon (/255),
#: from the README of microsoft/robust-models-transfer.
ROBUST_TOP1: dict[float, float] = {0.5: 73.73, 1.0: 72.05, 2.0: 69.10, 4.0: 63.86, 8.0: 54.53}
ROBUST_EPSILONS = tuple(ROBUST_TOP1)
_SIMSIAM_TOP1 = 68.1

_IMAGENET_MEAN = torch.tensor(IMAGENET.mean)
_IMAGENET_STD = torch.tensor(IMAGENET.std)
#: The robustness library's two input normalisers (``AttackerModel.normalizer`` and
#: ``Attacker.normalize``) and the prefixes of its two copies of the classifier.
_NORMALIZERS = ("module.normalizer.", "module.attacker.normalize.")
_CLASSIFIER, _ATTACKER_COPY = "module.model.", "module.attacker.model."


@dataclass(frozen=True)
class PublishedModel:
    """One published ImageNet ResNet-50 of the zoo.

    Attributes
    ----------
    name:
        Zoo name (``"resnet50_linf4"``, ``"resnet50_simsiam"``).
    regime:
        ``"adversarial"`` (L-inf adversarial training) or ``"simsiam"`` (self-supervised
        SimSiam backbone with a linear probe): the values of :attr:`signseg.zoo.ZooEntry.regime`.
    epsilon:
        Adversarial models: the L-inf training radius in units of 1/255 (``4.0`` is 4/255);
        ``0.0`` otherwise.
    top1:
        Published clean ImageNet top-1 accuracy (%).
    files:
        ``(url, file name in the hub cache, what)`` of every checkpoint the model is read from.
    """

    name: str
    regime: str
    epsilon: float
    top1: float
    files: tuple[tuple[str, str, str], ...]


def robust_name(epsilon: float) -> str:
    """Zoo name of the robust ResNet-50 of ``epsilon`` (/255): ``resnet50_linf0.5``, ``resnet50_linf4``."""
    return f"resnet50_linf{epsilon:g}"


def _robust(epsilon: float) -> PublishedModel:
    url = ROBUST_URL.format(eps=f"{epsilon:.1f}")
    what = f"robust ResNet-50 (Salman et al. 2020, L-inf eps {epsilon:g}/255) checkpoint"
    return PublishedModel(robust_name(epsilon), "adversarial", epsilon, ROBUST_TOP1[epsilon],
                          ((url, url.rsplit("/", 1)[1], what),))


#: Every published model, by zoo name: the robust ResNet-50s by epsilon, then SimSiam.
PUBLISHED: dict[str, PublishedModel] = {
    **{robust_name(eps): _robust(eps) for eps in ROBUST_EPSILONS},
    "resnet50_simsiam": PublishedModel(
        "resnet50_simsiam", "simsiam", 0.0, _SIMSIAM_TOP1,
        ((SIMSIAM_PRETRAIN_URL, SIMSIAM_PRETRAIN_FILENAME,
          "SimSiam ResNet-50 pre-training checkpoint (100 epochs)"),
         (SIMSIAM_LINEAR_URL, SIMSIAM_LINEAR_FILENAME,
          "SimSiam ResNet-50 linear classifier checkpoint (100 epochs)")),
    ),
}


def _model(name: str) -> PublishedModel:
    if name not in PUBLISHED:
        raise InvalidInputError(f"{name!r} is not a published model; expected one of {list(PUBLISHED)}")
    return PUBLISHED[name]


def checkpoint_files(name: str, *, download: bool = True, progress: bool = True) -> list[Path]:
    """The local paths of the checkpoint files of the published model ``name``.

    Raises
    ------
    WeightsNotFoundError
        A file is neither cached nor downloadable; one message names every such file, its
        address and the folder to copy it to.
    DamagedFileError
        A file does not match its recorded SHA-256.
    """
    paths, problems = [], []
    for url, filename, what in _model(name).files:
        try:
            paths.append(fetch_checkpoint(url, filename, download=download, progress=progress,
                                          what=what))
        except WeightsNotFoundError as exc:
            problems.append(str(exc))
    if problems:
        raise WeightsNotFoundError(" ".join(problems))
    return paths


# --------------------------------------------------------------------------- robust


def _fix(url: str) -> str:
    return f"Delete it and download the published file again from {url}."


def _strip(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The entries of ``state`` below ``prefix``, with the prefix removed."""
    return remap_keys(state, lambda key: key[len(prefix):] if key.startswith(prefix) else None)


def _check_normalizer(state: Mapping[str, Any], prefix: str, path: Path, url: str) -> None:
    """Raise unless ``<prefix>new_mean`` / ``new_std`` are ImageNet's mean and std."""
    keys = [f"{prefix}new_mean", f"{prefix}new_std"]
    missing = [key for key in keys if key not in state]
    if missing:
        raise damaged(path, f"is not a robustness-library checkpoint: its 'model' entry lacks "
                      f"{missing}", _fix(url))
    mean, std = (torch.as_tensor(state[key]).detach().float().flatten() for key in keys)
    if not (mean.shape == (3,) and std.shape == (3,) and torch.allclose(mean, _IMAGENET_MEAN, atol=1e-6)
            and torch.allclose(std, _IMAGENET_STD, atol=1e-6)):
        raise damaged(
            path,
            f"normalises its input with mean {mean.tolist()} and std {std.tolist()} "
            f"({prefix}new_mean / new_std), but signseg feeds ImageNet models inputs "
            f"normalised with mean {list(IMAGENET.mean)} and std {list(IMAGENET.std)}; this is "
            "not one of Salman et al.'s ImageNet models",
            _fix(url),
        )


def robust_state_dict(path: str | Path, url: str = ROBUST_URL) -> dict[str, torch.Tensor]:
    """torchvision ``resnet50`` state dict of a robustness-library checkpoint (see module docstring).

    Parameters
    ----------
    path:
        The ``.ckpt`` file.
    url:
        Where it is published (named in error messages).

    Raises
    ------
    DamagedFileError
        The file is empty, truncated or not a PyTorch file; it lacks the ``model`` entry, a
        normaliser or the classifier; the normalisers are not ImageNet's; or the attacker's
        copy of the classifier differs from it.
    """
    path = Path(path)
    state = load_state_dict(path, key="model")
    for prefix in _NORMALIZERS:
        _check_normalizer(state, prefix, path, url)
    classifier, copy = _strip(state, _CLASSIFIER), _strip(state, _ATTACKER_COPY)
    if not classifier:
        raise damaged(path, f"is not a robustness-library checkpoint: its 'model' entry holds no "
                      f"'{_CLASSIFIER}*' key", _fix(url))
    if copy and (set(copy) != set(classifier)
                 or any(not torch.equal(copy[key], classifier[key]) for key in classifier)):
        raise damaged(path, "holds an attacker copy of the network ('module.attacker.model.*') "
                      "that differs from the classifier ('module.model.*'); the library saves "
                      "one network twice, so the file is damaged", _fix(url))
    return classifier


# --------------------------------------------------------------------------- SimSiam


def simsiam_state_dict(pretrain: str | Path, linear: str | Path) -> dict[str, torch.Tensor]:
    """torchvision ``resnet50`` state dict: SimSiam's pre-trained backbone + the linear probe's ``fc``.

    Parameters
    ----------
    pretrain:
        ``checkpoint_0099.pth.tar`` of ``main_simsiam.py`` (``state_dict`` with
        ``module.encoder.*`` and ``module.predictor.*``).
    linear:
        ``model_best.pth.tar`` of ``main_lincls.py`` (``state_dict`` with ``module.*``).

    Raises
    ------
    DamagedFileError
        A file is unreadable or lacks its ``state_dict``, the backbone or the 1000-way ``fc``,
        or the two files disagree on the backbone (they are not from the same run).
    """
    pretrain, linear = Path(pretrain), Path(linear)
    encoder = _strip(load_state_dict(pretrain, key="state_dict"), "module.encoder.")
    backbone = {key: value for key, value in encoder.items() if not key.startswith("fc.")}
    if not backbone:
        raise damaged(pretrain, "is not a SimSiam pre-training checkpoint: its 'state_dict' holds no "
                      "'module.encoder.*' backbone key", _fix(SIMSIAM_PRETRAIN_URL))
    probe = _strip(load_state_dict(linear, key="state_dict"), "module.")
    head = {key: probe.get(key) for key in ("fc.weight", "fc.bias")}
    if any(value is None for value in head.values()) or tuple(head["fc.weight"].shape)[:1] != (1000,):
        raise damaged(linear, "is not a SimSiam linear-classification checkpoint: its 'state_dict' "
                      "lacks a 1000-way 'module.fc.weight' / 'module.fc.bias'", _fix(SIMSIAM_LINEAR_URL))
    differing = [key for key in backbone
                 if key not in probe or not torch.equal(probe[key], backbone[key])]
    if differing:
        raise damaged(linear, f"holds a backbone that differs from the pre-trained encoder in "
                      f"{str(pretrain)!r} ({len(differing)} tensors, e.g. {differing[:3]}); the "
                      "linear probe was trained on a frozen copy of it, so the two files are not "
                      "from the same run",
                      f"Download both again from {SIMSIAM_PRETRAIN_URL} and {SIMSIAM_LINEAR_URL}.")
    return {**backbone, **head}


# --------------------------------------------------------------------------- loading


def load_published(name: str, *, download: bool = True, progress: bool = True) -> nn.Module:
    """The torchvision ``resnet50`` with the published weights of ``name``, in eval mode.

    Raises
    ------
    WeightsNotFoundError
        A checkpoint file is neither cached nor downloadable (the message names each file,
        its address and the folder to copy it to).
    DamagedFileError
        A file does not match its record, cannot be read, or does not hold a ResNet-50 in the
        published format (the message names the file and says what to do).
    """
    spec = _model(name)
    paths = checkpoint_files(name, download=download, progress=progress)
    if spec.regime == "adversarial":
        state = robust_state_dict(paths[0], spec.files[0][0])
    else:
        state = simsiam_state_dict(paths[0], paths[1])
    return _resnet50(state, paths[0], spec.files[0][0])


def _resnet50(state: Mapping[str, torch.Tensor], path: Path, url: str) -> nn.Module:
    """A torchvision ``resnet50`` holding ``state``, in eval mode; ``path`` is blamed otherwise.

    The network is built on the meta device and takes the checkpoint's tensors as they are
    (no random initialisation to overwrite). ``num_batches_tracked`` entries may be missing
    (older files); they are set to 0, as batch norm does for such files.
    """
    from torchvision.models import resnet50

    with torch.device("meta"):
        model = resnet50(weights=None)
    expected = set(model.state_dict())
    counters = {k for k in expected - set(state) if k.endswith("num_batches_tracked")}
    missing = sorted(expected - set(state) - counters)
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise damaged(path, f"does not hold a torchvision ResNet-50 after remapping its keys: "
                      f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''} "
                      f"({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)})", _fix(url))
    state = {**state, **{key: torch.tensor(0, dtype=torch.long) for key in counters}}
    try:
        model.load_state_dict(state, assign=True)
    except RuntimeError as exc:  # a tensor of the wrong shape
        detail = " ".join(line.strip() for line in str(exc).splitlines()[1:3])
        raise damaged(path, f"does not hold a torchvision ResNet-50: {detail[:300]}", _fix(url)) from exc
    return model.eval()
