"""Import an optional dependency, or say which package to install and for what."""

from __future__ import annotations

import importlib
from types import ModuleType


def import_optional(module: str, purpose: str, package: str | None = None,
                    extra: str = "paper") -> ModuleType:
    """Import ``module``; if it is missing, raise an ``ImportError`` naming the pip package.

    Parameters
    ----------
    module:
        The module to import, e.g. ``"lpips"``.
    purpose:
        What needs it, for the message (e.g. ``"the LPIPS metric"``).
    package:
        The pip distribution name when it differs from ``module``.
    extra:
        The signseg extra that installs it (``paper``, ``sweep``), named in the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the {package or module!r} package: pip install "
            f"{package or module} (or pip install \"signseg[{extra}]\"; in a checkout: "
            f"pip install -e '.[{extra}]')"
        ) from exc
