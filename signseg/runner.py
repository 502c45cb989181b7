"""Execute the book's notebooks for a profile with papermill, caching by content.

The sources are jupytext MyST Markdown files ``notebooks/NN_name.md`` with one cell tagged
``parameters``. :func:`execute` reads one with jupytext, injects the profile's parameters
with papermill, and writes the executed notebook to ``book/executed/NN_name.ipynb``
(atomically), where ``_toc.yml`` points. The executed notebook records a key — a hash of the
source text, the parameters and the signseg code — and a later call with the same key
returns at once: only changed notebooks rerun.

A notebook that fails raises :class:`~signseg.errors.NotebookExecutionError` naming the
notebook, the profile, the failing cell and the error; the partly executed notebook is kept
in ``_build/failed/`` for inspection and the previous good output is left untouched.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import nbformat

from . import profiles
from .cache import atomic_path, config_hash
from .errors import NotebookExecutionError, UnknownNameError

__all__ = [
    "project_root",
    "notebook_source",
    "notebook_stems",
    "executed_path",
    "execution_key",
    "execute",
    "ExecutionResult",
]

EXECUTED_DIR = Path("book") / "executed"
SOURCE_DIR = Path("notebooks")
HIDE_TAGS = {"injected-parameters": "remove-cell", "parameters": "remove-cell"}


def project_root() -> Path:
    """The folder holding ``_toc.yml``: ``$SIGNSEG_ROOT``, the nearest parent of the
    working directory that has one, or the checkout this package was installed from."""
    env = os.environ.get("SIGNSEG_ROOT")
    candidates = [Path(env)] if env else []
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents, Path(__file__).resolve().parents[1]]
    for folder in candidates:
        if (folder / "_toc.yml").is_file():
            return folder
    raise FileNotFoundError(
        "cannot find the book: no _toc.yml in the working directory, its parents, or "
        f"{Path(__file__).resolve().parents[1]}. Run from a signseg checkout or set SIGNSEG_ROOT."
    )


def notebook_stems(root: Path | None = None) -> list[str]:
    """Stems of the notebooks in the table of contents, in book order."""
    import yaml

    root = root or project_root()
    toc = yaml.safe_load((root / "_toc.yml").read_text("utf-8"))
    files: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    files.append(str(node[key]))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(toc)
    prefix = EXECUTED_DIR.as_posix() + "/"
    return [Path(f).name for f in files if f.startswith(prefix)]


def notebook_source(notebook: str | os.PathLike[str], root: Path | None = None) -> Path:
    """Path of a notebook's jupytext source, given its stem, file name or path."""
    root = root or project_root()
    path = Path(notebook)
    if path.suffix == ".md" and path.is_file():
        return path.resolve()
    stem = path.stem if path.suffix else path.name
    source = root / SOURCE_DIR / f"{stem}.md"
    if not source.is_file():
        known = sorted(p.stem for p in (root / SOURCE_DIR).glob("*.md"))
        raise UnknownNameError(f"no notebook {str(notebook)!r}: expected {source}; known: {known}")
    return source


def executed_path(stem: str, root: Path | None = None, out_dir: Path | None = None) -> Path:
    """Where the executed notebook ``stem`` is written: ``out_dir`` when given, else the
    book's ``book/executed`` folder under ``root``."""
    folder = Path(out_dir) if out_dir is not None else (root or project_root()) / EXECUTED_DIR
    return folder / f"{stem}.ipynb"


def _code_digest() -> str:
    package = Path(__file__).resolve().parent
    files = sorted(p for p in package.rglob("*") if p.suffix in {".py", ".yaml"})
    return config_hash([(p.relative_to(package).as_posix(), p.read_bytes().hex()) for p in files])


def execution_key(source: Path, parameters: dict) -> str:
    """Content key of one execution: source text, parameters and the signseg code."""
    return config_hash(
        {"source": source.read_text("utf-8"), "parameters": parameters, "code": _code_digest()}
    )


@dataclass(frozen=True)
class ExecutionResult:
    """What :func:`execute` did: the output path, whether it was cached, and the seconds taken."""

    stem: str
    profile: str
    path: Path
    cached: bool
    seconds: float


def _is_current(path: Path, key: str) -> bool:
    if not path.is_file():
        return False
    try:
        meta = nbformat.read(path, as_version=4).metadata.get("signseg", {})
    except Exception:  # a corrupt file is simply re-executed
        return False
    return meta.get("key") == key


def _hide_parameter_cells(notebook: nbformat.NotebookNode) -> None:
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        for tag, hide in HIDE_TAGS.items():
            if tag in tags and hide not in tags:
                tags.append(hide)


def _failure_message(stem: str, profile: str, error: Exception, failed: Path) -> str:
    cell = getattr(error, "exec_count", None)
    source = (getattr(error, "source", "") or "").strip().splitlines()
    excerpt = "\n    ".join(source[:8])
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    return (
        f"notebook {stem!r} failed in profile {profile!r} at cell [{cell}]:\n    {excerpt}\n"
        f"{ename}: {evalue}\nThe partly executed notebook is in {failed}."
    )


def execute(
    notebook: str | os.PathLike[str],
    profile: str,
    *,
    force: bool = False,
    root: Path | None = None,
    log_output: bool = False,
    overrides: Mapping[str, Any] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> ExecutionResult:
    """Execute one notebook for ``profile``, unless an identical execution is cached.

    Parameters
    ----------
    notebook:
        A stem (``01_dale_index``), a file name, or the path of the ``.md`` source.
    profile:
        ``ci``, ``quick`` or ``paper`` (see :mod:`signseg.profiles`).
    force:
        Execute even when the cached output is current.
    log_output:
        Stream the cells' output to the log while executing (papermill ``log_output``).
    overrides:
        Parameters merged recursively into the profile's (:func:`signseg.profiles.merge`),
        e.g. ``{"models": ["resnet18"], "train": {"cifar10": {"epochs": 2}}}``; they are part
        of the cache key and recorded in the notebook's metadata.
    out_dir:
        Folder for the executed notebook (and ``failed/`` for a failed one) instead of the
        book's ``book/executed`` (and ``_build/failed``): runs with overrides can go there
        without replacing the book's pages.
    """
    import jupytext
    import papermill

    root = root or project_root()
    source = notebook_source(notebook, root)
    stem = source.stem
    params = profiles.parameters(profile, stem, overrides)
    key = execution_key(source, params)
    output = executed_path(stem, root, out_dir)
    if not force and _is_current(output, key):
        return ExecutionResult(stem, profile, output, cached=True, seconds=0.0)

    notebook_node = jupytext.read(source)
    notebook_node.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    failed_dir = Path(out_dir) / "failed" if out_dir is not None else root / "_build" / "failed"
    failed = failed_dir / f"{stem}.ipynb"
    failed.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with atomic_path(output) as tmp:
        tmp_ipynb = tmp.with_suffix(".ipynb")
        try:
            papermill.execute_notebook(
                notebook_node,
                str(tmp_ipynb),
                parameters=params,
                kernel_name="python3",
                cwd=str(source.parent),
                progress_bar=False,
                log_output=log_output,
            )
            executed = nbformat.read(tmp_ipynb, as_version=4)
        except papermill.PapermillExecutionError as error:
            if tmp_ipynb.exists():
                os.replace(tmp_ipynb, failed)
            raise NotebookExecutionError(_failure_message(stem, profile, error, failed)) from None
        finally:
            tmp_ipynb.unlink(missing_ok=True)
        _hide_parameter_cells(executed)
        seconds = time.perf_counter() - start
        executed.metadata["signseg"] = {
            "key": key, "profile": profile, "parameters": params, "seconds": round(seconds, 1)
        }
        nbformat.write(executed, tmp)
    return ExecutionResult(stem, profile, output, cached=False, seconds=seconds)
