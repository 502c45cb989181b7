"""The shape-vs-texture and background challenge sets of a profile, with their decision rules.

Section 3 of the book measures shape bias (paper Fig. 16) and background reliance (Fig. 17)
on two kinds of stimuli, chosen by a profile's ``source``:

* ``"tiny-imagenet"`` (offline): sets the project builds from Tiny ImageNet validation
  images and their boxes, whose labels are the models' own 200 classes
  (:mod:`signseg.data.hybrid_cues`, :mod:`signseg.data.box_backgrounds`);
* ``"geirhos"`` / ``"xiao"`` (paper): Geirhos et al.'s cue-conflict stimuli (16 categories)
  and Xiao et al.'s backgrounds challenge (IN-9), scored from 1000-way ImageNet logits by the
  authors' rules (:mod:`signseg.data.cueconflict`, :mod:`signseg.data.bgchallenge`).

Each function returns the stimuli and the rule that turns a model's logits into decisions,
so a notebook calls the same analysis for either source, and the number of outputs a model
needs for that rule: a profile that mixes ImageNet classifiers with Tiny ImageNet networks
(the ``paper`` profile's ReLU / Tanh pair) scores each set only on the models it can score
(:meth:`ChallengeSet.scorable`) and says which it left out (:meth:`ChallengeSet.left_out`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch

from ..errors import InvalidInputError
from .dataset import ImageDataset

__all__ = ["CUE_SOURCES", "BACKGROUND_SOURCES", "IMAGENET_CLASSES", "ChallengeSet", "cue_conflict_set",
           "background_sets"]

#: Cue-conflict sources: the project's hybrids on Tiny ImageNet, or Geirhos et al.'s stimuli.
CUE_SOURCES = ("tiny-imagenet", "geirhos")
#: Background-challenge sources: variants built from Tiny ImageNet boxes, or Xiao et al.'s IN-9.
BACKGROUND_SOURCES = ("tiny-imagenet", "xiao")
#: Outputs of the ImageNet-1k classifiers the published sets are scored from.
IMAGENET_CLASSES = 1000


@dataclass
class ChallengeSet:
    """Stimuli and how to score a model on them.

    Attributes
    ----------
    stimuli:
        A cue-conflict set (:class:`~signseg.data.hybrid_cues.CueConflictSet` or an
        :class:`ImageDataset` with ``meta["texture"]``), or ``variant -> ImageDataset``.
    rule:
        ``None`` when the targets index the model's outputs; otherwise the map from logits to
        category logits (cue conflict, ``aggregate``) or to predicted labels (background
        challenge, ``decide``).
    description:
        One sentence naming the stimuli, for captions.
    outputs:
        How many classes a model must answer with to be scored: 1000 for the published sets
        (ImageNet classifiers), the stimuli's class count for the offline ones; ``None``: any.
    """

    stimuli: Any
    rule: Callable[[torch.Tensor], torch.Tensor] | None
    description: str
    outputs: int | None = None

    def _scores(self, model: Any) -> bool:
        return self.outputs is None or len(model.classes) == self.outputs

    def scorable(self, models: Mapping[str, Any]) -> dict[str, Any]:
        """The models of ``models`` (label -> ZooModel) whose outputs these stimuli are scored from."""
        return {name: model for name, model in models.items() if self._scores(model)}

    def left_out(self, models: Mapping[str, Any]) -> str:
        """A caption sentence naming the models of ``models`` not scored (``""`` when none is)."""
        names = [name for name, model in models.items() if not self._scores(model)]
        if not names:
            return ""
        return (f"Not scored: {', '.join(names)} (these stimuli are scored from {self.outputs} "
                f"output classes; {'it has' if len(names) == 1 else 'they have'} others).")


def _check_source(source: str, allowed: tuple[str, ...], what: str) -> None:
    if source not in allowed:
        raise InvalidInputError(f"{what} source must be one of {list(allowed)}; got {source!r}")


def cue_conflict_set(source: str, val: ImageDataset | None = None, *, seed: int = 0,
                     options: Mapping[str, Any] | None = None) -> ChallengeSet:
    """The cue-conflict stimuli of ``source`` (:data:`CUE_SOURCES`).

    ``"tiny-imagenet"`` builds hybrids from the validation images ``val``
    (:func:`signseg.data.hybrid_cues.cue_conflict` with ``options``); ``"geirhos"`` reads
    Geirhos et al.'s stimuli (downloaded once) and scores by their 16-category rule.
    """
    _check_source(source, CUE_SOURCES, "cue_conflict")
    options = dict(options or {})
    if source == "geirhos":
        from . import cueconflict

        stimuli = cueconflict.load_cue_conflict(**options)
        return ChallengeSet(stimuli, cueconflict.category_probabilities,
                            f"Geirhos et al.'s {len(stimuli)} cue-conflict images (16 categories)",
                            IMAGENET_CLASSES)
    from .hybrid_cues import cue_conflict

    if val is None:
        raise InvalidInputError("the tiny-imagenet cue-conflict set is built from validation "
                                "images: pass val=signseg.data.load('tiny-imagenet', 'val')")
    stimuli = cue_conflict(val, seed=seed, **options)
    return ChallengeSet(stimuli, None, f"{len(stimuli)} hybrids of Tiny ImageNet validation images "
                        "(low-frequency luminance of one class, patch-scrambled texture and colour "
                        "of another)", len(val.classes))


def background_sets(source: str, val: ImageDataset | None = None, *, seed: int = 0,
                    options: Mapping[str, Any] | None = None) -> ChallengeSet:
    """The background-challenge variants of ``source`` (:data:`BACKGROUND_SOURCES`).

    ``"tiny-imagenet"`` builds Xiao et al.'s variants from the boxes of ``val``
    (:func:`signseg.data.box_backgrounds.background_challenge`); ``"xiao"`` reads their IN-9
    set and scores 1000-way models by mapping the top-1 class to IN-9, as their code does.
    """
    _check_source(source, BACKGROUND_SOURCES, "background_challenge")
    options = dict(options or {})
    if source == "xiao":
        from . import bgchallenge

        variants = options.pop("variants", ("original", "only_fg", "no_fg", "only_bg_t",
                                            "mixed_same", "mixed_rand"))
        sets = {v: bgchallenge.load_bg_challenge(variant=v, **options) for v in variants}
        label_map = bgchallenge.in9_label_map(options.get("root"))
        return ChallengeSet(sets, lambda logits: bgchallenge.in9_decisions(logits, label_map),
                            f"Xiao et al.'s backgrounds challenge (IN-9, {len(sets)} variants)",
                            IMAGENET_CLASSES)
    from .box_backgrounds import background_challenge

    if val is None:
        raise InvalidInputError("the tiny-imagenet background challenge is built from validation "
                                "images: pass val=signseg.data.load('tiny-imagenet', 'val')")
    sets = background_challenge(val, seed=seed, **options)
    n = len(next(iter(sets.values())))
    return ChallengeSet(sets, None, f"background-challenge variants of {n} Tiny ImageNet validation "
                        "images built from their object boxes", len(val.classes))
