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
from typing import Callable, Sequence

from . import vendor
from .errors import NotebookExecutionError
from .runner import ExecutionResult, execute, notebook_stems, project_root

__all__ = ["execute_all", "build_html", "build"]


def execute_all(
    profile: str,
    *,
    force: bool = False,
    only: Sequence[str] | None = None,
    root: Path | None = None,
    report: Callable[[str], None] = print,
) -> list[ExecutionResult]:
    """Execute the book's notebooks for ``profile``; ``only`` restricts to some stems.

    All notebooks are attempted; if any failed, a :class:`NotebookExecutionError` listing
    every failure is raised at the end.
    """
    root = root or project_root()
    stems = notebook_stems(root)
    if only:
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise NotebookExecutionError(f"{unknown} are not in _toc.yml; notebooks: {stems}")
        stems = [s for s in stems if s in only]
    results, failures = [], []
    for stem in stems:
        report(f"[{profile}] {stem} ...")
        try:
            result = execute(stem, profile, force=force, root=root)
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
) -> Path:
    """Execute every notebook for ``profile`` and build the HTML book; return its folder."""
    root = root or project_root()
    execute_all(profile, force=force, root=root, report=report)
    return build_html(root, report=report)
