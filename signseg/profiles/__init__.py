"""Execution profiles: the parameters every notebook runs with, as YAML data.

A profile file ``signseg/profiles/<name>.yaml`` has

* ``name``, ``description``, ``hardware``: what it is for;
* ``train``: per data set, the :class:`signseg.train.TrainConfig` fields used for the
  project-trained models (shared by all notebooks, so they hit the same model cache);
* ``notebooks``: one section per notebook stem (``01_dale_index``) with its parameters.

:func:`parameters` merges them into the dictionary papermill injects into a notebook.
Every profile runs the same code; only these values differ.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from ..errors import InvalidInputError, UnknownNameError

__all__ = ["names", "load", "parameters", "summary", "load_models"]

_REQUIRED = ("name", "description", "hardware", "train", "notebooks")


def names() -> list[str]:
    """Names of the bundled profiles (``ci``, ``paper``, ``quick``)."""
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".yaml")
    )


@lru_cache(maxsize=None)
def _load(name: str) -> dict[str, Any]:
    known = names()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown profile {name!r}; known profiles: {known}.{hint}")
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise InvalidInputError(f"profile {name!r} lacks the sections {missing}")
    if data["name"] != name:
        raise InvalidInputError(f"profile file {name}.yaml declares name {data['name']!r}")
    return data


def load(name: str) -> dict[str, Any]:
    """The profile ``name`` as a dictionary (a fresh copy each call)."""
    return yaml.safe_load(yaml.safe_dump(_load(name)))


def parameters(profile: str, notebook: str) -> dict[str, Any]:
    """Parameters papermill injects into ``notebook`` (a stem such as ``01_dale_index``).

    ``profile`` and ``train`` are always present; the notebook's own section is merged on top.
    """
    data = load(profile)
    section = data["notebooks"].get(notebook)
    if section is None:
        raise UnknownNameError(
            f"profile {profile!r} has no section for notebook {notebook!r}; add "
            f"'notebooks: {notebook}: {{...}}' to signseg/profiles/{profile}.yaml "
            f"(sections present: {sorted(data['notebooks'])})"
        )
    return {"profile": profile, "train": data["train"], **(section or {})}


#: Parameters of a notebook that list the networks it analyses (a list, or a mapping whose
#: keys are model names, such as the robust sweep's ``name -> epsilon``).
MODEL_KEYS = ("models", "relu_tanh", "self_supervised", "robust", "backbone")


def _section_models(section: dict[str, Any]) -> list[str]:
    """Every model a notebook's parameters name under :data:`MODEL_KEYS`, once, in order."""
    names: list[str] = []
    for key in MODEL_KEYS:
        value = section.get(key) or []
        names += [value] if isinstance(value, str) else list(value)
    return list(dict.fromkeys(names))


def summary() -> pd.DataFrame:
    """One row per profile and notebook: which models and data it uses, on what hardware."""
    rows = []
    for name in names():
        data = load(name)
        for notebook, section in data["notebooks"].items():
            section = section or {}
            rows.append(
                {
                    "profile": name,
                    "hardware": data["hardware"],
                    "notebook": notebook,
                    "data": section.get("data", ""),
                    "models": ", ".join(_section_models(section)),
                }
            )
    return pd.DataFrame(rows)


def load_models(
    names: list[str],
    train: dict[str, dict[str, Any]] | None = None,
    *,
    pretrained: bool = True,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Load zoo models by name, training missing project models with the profile's ``train``
    section (:func:`signseg.train.load`: a message and a progress bar say so).

    ``train`` maps a data set (``cifar10``, ``mnist``, ``procedural``) to
    :class:`signseg.train.TrainConfig` fields; models of other data sets (torchvision) ignore it.
    Returns name -> :class:`signseg.zoo.ZooModel`, in the order given.
    """
    from .. import train as training
    from .. import zoo

    train = train or {}
    models = {}
    for name in names:
        entry = zoo.info(name)
        config = train.get(entry.dataset) if entry.source == "project" else None
        models[name] = training.load(name, config, pretrained=pretrained, seed=seed, progress=progress)
    return models
