"""Changing a notebook parameter for one run without editing a profile.

``signseg run 02_ablation --set visualization.iterations=5 --set models=[resnet18]`` and
``runner.execute(stem, profile, overrides={"visualization.iterations": 5})`` set parameters on
top of the profile's values:

* a key is a parameter of the notebook's ``parameters`` cell, or a dotted path into one whose
  value is a mapping (``visualization.iterations``, ``train.cifar10.epochs``); every part must
  exist already, so a typo is an error that lists the valid keys, not a silently ignored
  setting;
* a value given as text is parsed as YAML (``5`` is an int, ``0.5`` a float, ``[a, b]`` a
  list, ``true`` a bool, ``null`` None); it must have the kind of the value it replaces
  (a number for a number, a list for a list, ...), where that value is not empty or None.

Overridden parameters are part of the execution key, so a changed value reruns the notebook.
"""

from __future__ import annotations

import ast
import copy
import numbers
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .errors import InvalidInputError

__all__ = ["parse_assignments", "parameter_names", "apply_overrides"]


def parse_assignments(items: Iterable[str]) -> dict[str, Any]:
    """``["a.b=5", "c=[x, y]"]`` -> ``{"a.b": 5, "c": ["x", "y"]}`` (values parsed as YAML).

    Raises
    ------
    InvalidInputError
        An item lacks ``=`` or a key, or its value is not valid YAML.
    """
    result: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInputError(
                f"--set {item!r}: expected KEY=VALUE, e.g. --set visualization.iterations=5")
        try:
            result[key] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as exc:
            raise InvalidInputError(
                f"--set {item!r}: the value {text!r} is not valid YAML ({exc.__class__.__name__}); "
                "quote lists and strings for the shell, e.g. --set 'models=[resnet18, vgg16]'"
            ) from None
    return result


def parameter_names(source: str | Path, text: str | None = None) -> list[str]:
    """Names assigned in the ``parameters`` cell of the jupytext notebook ``source``."""
    import jupytext

    notebook = jupytext.reads(text, fmt="md:myst") if text is not None else jupytext.read(source)
    names: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


def _kind(value: Any) -> str | None:
    """The kind of value a key expects (``None``: anything)."""
    if value is None or (isinstance(value, (list, dict, str)) and not value):
        return None
    if isinstance(value, bool):
        return "a boolean (true/false)"
    if isinstance(value, numbers.Number):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list, e.g. [a, b]"
    if isinstance(value, dict):
        return "a mapping, e.g. {a: 1}"
    return None


def _matches(kind: str | None, value: Any) -> bool:
    if kind is None or value is None:
        return True
    return kind == _kind(value) or (kind.startswith("a list") and isinstance(value, list)) or (
        kind.startswith("a mapping") and isinstance(value, dict)) or (
        kind == "a string" and isinstance(value, str))


def apply_overrides(
    parameters: Mapping[str, Any], overrides: Mapping[str, Any], valid: Iterable[str], where: str
) -> dict[str, Any]:
    """A copy of ``parameters`` with ``overrides`` (dotted key -> value) applied.

    Parameters
    ----------
    parameters:
        The profile's parameters of one notebook.
    overrides:
        Dotted keys (``"visualization.iterations"``) to values; text values are used as
        they are (parse command-line text with :func:`parse_assignments` first).
    valid:
        Top-level names allowed (the notebook's ``parameters`` cell).
    where:
        The notebook, for messages.

    Raises
    ------
    InvalidInputError
        An unknown key (the message lists the valid ones) or a value of the wrong kind.
    """
    result = copy.deepcopy(dict(parameters))
    valid = list(valid)
    for dotted, value in overrides.items():
        parts = str(dotted).split(".")
        if parts[0] not in valid:
            raise InvalidInputError(
                f"{where} has no parameter {parts[0]!r} (from --set {dotted}); its parameters "
                f"cell defines {valid}")
        node: Any = result
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {}) if depth == 0 and part not in node else node[part]
            if not isinstance(node, dict):
                raise InvalidInputError(
                    f"{where}: {'.'.join(parts[:depth + 1])} is not a mapping, so "
                    f"{dotted!r} cannot be set")
        leaf = parts[-1]
        if len(parts) > 1 and leaf not in node:
            raise InvalidInputError(
                f"{where}: unknown key {dotted!r}; {'.'.join(parts[:-1])} has the keys "
                f"{sorted(node)}")
        kind = _kind(node.get(leaf))
        if not _matches(kind, value):
            raise InvalidInputError(
                f"{where}: {dotted} expects {kind}, got {value!r} ({type(value).__name__})")
        node[leaf] = value
    return result
