"""Notebook execution with papermill: parameters, hidden cells, caching, failures."""

import nbformat
import pytest

from signseg import runner
from signseg.errors import NotebookExecutionError, UnknownNameError

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A test page
"""

PARAMETERS = """
```{code-cell} ipython3
:tags: [parameters]

profile = "unset"
train = {}
```
"""


def _project(tmp_path, body):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/executed/00_introduction\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_introduction.md").write_text(HEADER + PARAMETERS + body)
    return tmp_path


def test_execute_injects_profile_and_hides_parameter_cells(tmp_path):
    root = _project(tmp_path, '\n```{code-cell} ipython3\nprint("profile is", profile, sorted(train))\n```\n')
    assert runner.notebook_stems(root) == ["00_introduction"]
    result = runner.execute("00_introduction", "ci", root=root)
    assert not result.cached and result.path == root / "book" / "executed" / "00_introduction.ipynb"
    notebook = nbformat.read(result.path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    injected = [c for c in code if "injected-parameters" in c.metadata.tags]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata.tags
    assert "remove-cell" in next(c for c in code if "parameters" in c.metadata.tags).metadata.tags
    assert code[-1].outputs[0]["text"].strip() == "profile is ci ['procedural', 'tiny-imagenet']"
    assert notebook.metadata.signseg["profile"] == "ci"

    again = runner.execute("00_introduction", "ci", root=root)
    assert again.cached
    source = root / "notebooks" / "00_introduction.md"
    source.write_text(source.read_text() + "\n```{code-cell} ipython3\n1 + 1\n```\n")
    assert not runner.execute("00_introduction", "ci", root=root).cached


def test_failure_names_notebook_profile_cell_and_error_and_keeps_old_output(tmp_path):
    root = _project(tmp_path, "\n```{code-cell} ipython3\nx = 1\n```\n")
    good = runner.execute("00_introduction", "ci", root=root).path
    before = good.read_bytes()
    source = root / "notebooks" / "00_introduction.md"
    source.write_text(HEADER + PARAMETERS + '\n```{code-cell} ipython3\nraise ValueError("broken on purpose")\n```\n')
    with pytest.raises(NotebookExecutionError) as info:
        runner.execute("00_introduction", "ci", root=root)
    message = str(info.value)
    assert "'00_introduction'" in message and "'ci'" in message
    assert "ValueError" in message and "broken on purpose" in message
    assert 'raise ValueError("broken on purpose")' in message
    assert good.read_bytes() == before
    assert (root / "_build" / "failed" / "00_introduction.ipynb").is_file()
    leftovers = [p.name for p in good.parent.iterdir() if p.name != good.name]
    assert leftovers == []


def test_unknown_notebook(tmp_path):
    root = _project(tmp_path, "")
    with pytest.raises(UnknownNameError, match="no notebook 'nope'"):
        runner.execute("nope", "ci", root=root)


def test_out_dir_keeps_runs_with_overrides_away_from_the_book_pages(tmp_path):
    (tmp_path / "project").mkdir()
    root = _project(tmp_path / "project", '\n```{code-cell} ipython3\nprint(train["procedural"]["data"])\n```\n')
    book_page = runner.execute("00_introduction", "ci", root=root).path
    before = book_page.read_bytes()
    out = tmp_path / "dry-run"
    overrides = {"train.procedural.data": {"n": 7}}
    result = runner.execute("00_introduction", "ci", root=root, overrides=overrides, out_dir=out)
    assert result.path == out / "00_introduction.ipynb" and not result.cached
    notebook = nbformat.read(result.path, as_version=4)
    assert notebook.cells[-1].outputs[0]["text"].strip() == "{'n': 7}"
    assert book_page.read_bytes() == before
    assert runner.execute("00_introduction", "ci", root=root, overrides=overrides, out_dir=out).cached
    source = root / "notebooks" / "00_introduction.md"
    source.write_text(source.read_text() + '\n```{code-cell} ipython3\nraise ValueError("x")\n```\n')
    with pytest.raises(NotebookExecutionError):
        runner.execute("00_introduction", "ci", root=root, overrides=overrides, out_dir=out)
    assert (out / "failed" / "00_introduction.ipynb").is_file()
    assert not (root / "_build" / "failed" / "00_introduction.ipynb").exists()
    assert book_page.read_bytes() == before
