"""Build the HTML book: execute every notebook of the table of contents, then jupyter-book.

``build(profile)`` runs :func:`signseg.runner.execute` for each notebook in ``_toc.yml``
order (cached ones return at once) and then ``jupyter-book build`` with warnings as errors
into ``_build/html``. Jupyter Book never executes anything itself (``execute_notebooks:
off`` in ``_config.yml``): what it publishes is exactly what papermill produced.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from . import vendor
from .errors import InvalidInputError, NotebookExecutionError
from .overrides import parameter_names
from .runner import ExecutionResult, execute, notebook_source, notebook_stems, project_root

__all__ = ["execute_all", "build_html", "build"]


def split_overrides(
    overrides: Mapping[str, Any] | None, stems: Sequence[str], root: Path
) -> dict[str, dict[str, Any]]:
    """Per notebook, the overrides whose top-level key its ``parameters`` cell defines.

    Raises
    ------
    InvalidInputError
        A key that no notebook defines (the message lists every notebook's parameters).
    """
    names = {stem: parameter_names(notebook_source(stem, root)) for stem in stems}
    per_stem: dict[str, dict[str, Any]] = {stem: {} for stem in stems}
    for key, value in (overrides or {}).items():
        users = [stem for stem in stems if str(key).split(".")[0] in names[stem]]
        if not users:
            listing = "; ".join(f"{stem}: {names[stem]}" for stem in stems)
            raise InvalidInputError(
                f"no notebook has the parameter {str(key).split('.')[0]!r} (from --set {key}); "
                f"the parameters cells define {listing}")
        for stem in users:
            per_stem[stem][key] = value
    return per_stem


def execute_all(
    profile: str,
    *,
    force: bool = False,
    only: Sequence[str] | None = None,
    root: Path | None = None,
    report: Callable[[str], None] = print,
    overrides: Mapping[str, Any] | None = None,
) -> list[ExecutionResult]:
    """Execute the book's notebooks for ``profile``; ``only`` restricts to some stems.

    ``overrides`` (dotted key -> value) apply to every notebook whose parameters cell defines
    the key's first part. ``report`` receives each notebook's status and its cells' progress
    while it runs. All notebooks are attempted; if any failed, a
    :class:`NotebookExecutionError` listing every failure is raised at the end.
    """
    root = root or project_root()
    stems = notebook_stems(root)
    if only:
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise NotebookExecutionError(f"{unknown} are not in _toc.yml; notebooks: {stems}")
        stems = [s for s in stems if s in only]
    per_stem = split_overrides(overrides, stems, root)
    results, failures = [], []
    for stem in stems:
        report(f"[{profile}] {stem} ...")
        try:
            result = execute(stem, profile, force=force, root=root, overrides=per_stem[stem],
                             report=report)
        except NotebookExecutionError as error:
            failures.append(str(error))
            report(f"[{profile}] {stem} FAILED")
            continue
        status = "cached" if result.cached else f"executed in {result.seconds:.1f} s"
        report(f"[{profile}] {stem} {status}")
        results.append(result)
    if failures:
        raise NotebookExecutionError("\n\n".join(failures))
    return results


def _jupyter_book() -> list[str]:
    script = Path(sys.executable).with_name("jupyter-book")
    if script.exists():
        return [str(script)]
    found = shutil.which("jupyter-book")
    if found is None:
        raise FileNotFoundError(
            "jupyter-book is not installed in this environment; install the book extra: "
            "pip install -e '.[book]'"
        )
    return [found]


def build_html(root: Path | None = None, *, report: Callable[[str], None] = print) -> Path:
    """Fetch the pinned JavaScript if needed, run ``jupyter-book build`` (warnings as
    errors) and return ``_build/html``."""
    root = root or project_root()
    for path in vendor.fetch_vendored(root / vendor.STATIC_PATH / "vendor"):
        report(f"fetched {path.relative_to(root)}")
    command = [*_jupyter_book(), "build", "--warningiserror", "--keep-going",
               "--path-output", str(root), str(root)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"jupyter-book build failed (exit {done.returncode}):\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    report(f"book built in {time.perf_counter() - start:.1f} s: {root / '_build' / 'html'}")
    return root / "_build" / "html"


def build(
    profile: str = "quick",
    *,
    force: bool = False,
    root: Path | None = None,
    report: Callable[[str], None] = print,
    overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Execute every notebook for ``profile`` and build the HTML book; return its folder.

    ``overrides``: dotted parameter key -> value on top of the profile (see
    :func:`execute_all`).
    """
    root = root or project_root()
    execute_all(profile, force=force, root=root, report=report, overrides=overrides)
    return build_html(root, report=report)
