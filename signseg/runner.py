"""Execute the book's notebooks for a profile with papermill, caching by content.

The sources are jupytext MyST Markdown files ``notebooks/NN_name.md`` with one cell tagged
``parameters``. :func:`execute` reads one with jupytext, injects the profile's parameters
with papermill, and writes the executed notebook to ``book/executed/NN_name.ipynb``
(atomically), where ``_toc.yml`` points. The executed notebook records a key — a hash of the
source text, the parameters and the signseg code — and a later call with the same key
returns at once: only changed notebooks rerun.

``overrides`` (dotted key -> value, see :mod:`signseg.overrides`) change parameters on top
of the profile for one run; they are part of the key.

With a ``report`` callback, execution is visible while it runs: ``report`` receives
"cell n of N" as each cell starts, and the package's progress bars inside the kernel (training,
visualization, ...) are forwarded live to this process's stderr through
``$SIGNSEG_PROGRESS_FILE`` (:mod:`signseg.progress`), so they never enter the notebook. The
kernel's own log (e.g. "Kernel is running over TCP without encryption") is kept at ERROR level.

A notebook that fails raises :class:`~signseg.errors.NotebookExecutionError` naming the
notebook, the profile, the failing cell and the error; the partly executed notebook is kept
in ``_build/failed/`` for inspection and the previous good output is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import nbformat

from . import profiles
from .cache import atomic_path, config_hash
from .errors import NotebookExecutionError, UnknownNameError
from .overrides import apply_overrides, parameter_names
from .progress import PROGRESS_ENV

__all__ = [
    "project_root",
    "notebook_source",
    "notebook_stems",
    "executed_path",
    "execution_key",
    "execute",
    "notebook_parameters",
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


def notebook_parameters(
    stem: str, profile: str, overrides: Mapping[str, Any] | None = None, root: Path | None = None
) -> dict[str, Any]:
    """The parameters ``stem`` runs with: the profile's, with ``overrides`` applied.

    Raises
    ------
    InvalidInputError
        An override names a parameter the notebook's ``parameters`` cell does not define, or
        a nested key that does not exist (the message lists the valid ones).
    """
    params = profiles.parameters(profile, stem)
    if overrides:
        source = notebook_source(stem, root)
        params = apply_overrides(params, overrides, parameter_names(source), f"notebook {stem!r}")
    return params


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


class _Forwarder:
    """Copy what kernel-side progress bars append to a file onto ``stream``, live."""

    def __init__(self, path: Path, stream: Any) -> None:
        self.path, self.stream = path, stream
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            while True:
                finished = self.done.is_set()
                chunk = handle.read()
                if chunk:
                    self.stream.write(chunk)
                    self.stream.flush()
                if finished:
                    return
                self.done.wait(0.5)


@contextlib.contextmanager
def _live_progress(stream: Any) -> Iterator[None]:
    """Point ``$SIGNSEG_PROGRESS_FILE`` at a temporary file forwarded to ``stream``."""
    fd, name = tempfile.mkstemp(prefix="signseg-progress-", suffix=".log")
    os.close(fd)
    previous = os.environ.get(PROGRESS_ENV)
    os.environ[PROGRESS_ENV] = name
    forwarder = _Forwarder(Path(name), stream)
    forwarder.thread.start()
    try:
        yield
    finally:
        forwarder.done.set()
        forwarder.thread.join(timeout=5)
        if previous is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = previous
        Path(name).unlink(missing_ok=True)


def _engine() -> str:
    """Register (once) and name the papermill engine that reports cells and quiets the kernel."""
    from papermill.engines import NBClientEngine, papermill_engines

    class SignsegEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):  # type: ignore[override]
            callback = kwargs.pop("signseg_report", None)
            title = kwargs.pop("signseg_label", "")
            if callback is not None:
                code = [i for i, cell in enumerate(nb_man.nb.cells) if cell.cell_type == "code"]
                start = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):  # noqa: ANN001, ANN202
                    if cell_index in code:
                        first = next((line for line in cell.source.splitlines() if line.strip()), "")
                        number = code.index(cell_index) + 1
                        callback(f"{title} cell {number} of {len(code)}: {first[:60]}")
                    return start(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            arguments = list(kwargs.pop("extra_arguments", []))
            arguments.append("--IPKernelApp.log_level=ERROR")  # no TCP-encryption warnings
            return super().execute_managed_notebook(
                nb_man, kernel_name, extra_arguments=arguments, **kwargs)

    if "signseg" not in papermill_engines._engines:
        papermill_engines.register("signseg", SignsegEngine)
    return "signseg"


def execute(
    notebook: str | os.PathLike[str],
    profile: str,
    *,
    force: bool = False,
    root: Path | None = None,
    log_output: bool = False,
    overrides: Mapping[str, Any] | None = None,
    report: Callable[[str], None] | None = None,
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
        Dotted parameter key -> value, applied on top of the profile (see
        :mod:`signseg.overrides`); part of the cache key.
    report:
        Called with "cell n of N" lines while executing; also forwards the kernel's
        progress bars to ``sys.stderr`` (``None``: silent).
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
    params = notebook_parameters(stem, profile, overrides, root)
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
    live = _live_progress(sys.stderr) if report is not None else contextlib.nullcontext()
    with atomic_path(output) as tmp, live:
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
                engine_name=_engine(),
                signseg_report=report,
                signseg_label=f"[{profile}] {stem}",
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
            "key": key, "profile": profile, "parameters": params, "seconds": round(seconds, 1),
            "overrides": dict(overrides or {}),
        }
        nbformat.write(executed, tmp)
    return ExecutionResult(stem, profile, output, cached=False, seconds=seconds)
