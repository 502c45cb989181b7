"""Issue 11 cases 9-10 and the command line: --set overrides, --profile, live progress, errors."""

from __future__ import annotations

import nbformat
import pytest

from signseg import book, cli, runner
from signseg.errors import InvalidInputError
from signseg.overrides import apply_overrides, parse_assignments

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

```{code-cell} ipython3
:tags: [parameters]

profile = "unset"
train = {}
```
"""

LOOP = """
```{code-cell} ipython3
from signseg.progress import tqdm
for _ in tqdm(range(3), desc="long loop"):
    pass
print("epochs", train["procedural"]["epochs"], type(train["procedural"]["epochs"]).__name__)
```
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/executed/00_introduction\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "00_introduction.md").write_text(HEADER + LOOP)
    monkeypatch.setenv("SIGNSEG_ROOT", str(tmp_path))
    return tmp_path


# --------------------------------------------------------------------------- overrides


def test_assignments_are_parsed_as_yaml():
    parsed = parse_assignments(["visualization.iterations=5", "models=[resnet18, vgg16]",
                                "alpha=0.5", "flag=true", "name=ci", "nothing=null"])
    assert parsed == {"visualization.iterations": 5, "models": ["resnet18", "vgg16"],
                      "alpha": 0.5, "flag": True, "name": "ci", "nothing": None}
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        parse_assignments(["iterations"])
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        parse_assignments(["models=[a, b"])


def test_overrides_set_nested_keys_and_leave_the_rest():
    params = {"profile": "ci", "visualization": {"iterations": 25, "units": [0, 1]}, "seed": 0}
    result = apply_overrides(params, {"visualization.iterations": 5, "seed": 3},
                             ["profile", "visualization", "seed"], "notebook 'x'")
    assert result == {"profile": "ci", "visualization": {"iterations": 5, "units": [0, 1]},
                      "seed": 3}
    assert params["visualization"]["iterations"] == 25  # the profile's data is not modified


@pytest.mark.parametrize("overrides, message", [
    ({"iteration": 5}, r"no parameter 'iteration'.*\['profile', 'visualization', 'seed'\]"),
    ({"visualization.iteration": 5}, r"unknown key 'visualization.iteration'.*\['iterations', 'units'\]"),
    ({"seed.x": 1}, "seed is not a mapping"),
    ({"visualization.iterations": "five"}, "expects a number"),
    ({"visualization.units": 3}, "expects a list"),
])
def test_bad_overrides_are_refused_with_the_valid_keys(overrides, message):
    params = {"profile": "ci", "visualization": {"iterations": 25, "units": [0, 1]}, "seed": 0}
    with pytest.raises(InvalidInputError, match=message):
        apply_overrides(params, overrides, ["profile", "visualization", "seed"], "notebook 'x'")


def test_execute_applies_overrides_in_the_cache_key_and_reports_progress(project, capfd):
    lines: list[str] = []
    result = runner.execute("00_introduction", "ci", overrides={"train.procedural.epochs": 3},
                            report=lines.append)
    notebook = nbformat.read(result.path, as_version=4)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    texts = "".join(o.get("text", "") for o in outputs)
    assert "epochs 3 int" in texts
    assert "long loop" not in texts and not any("application/vnd.jupyter.widget-view+json"
                                                in o.get("data", {}) for o in outputs)
    assert notebook.metadata.signseg["overrides"] == {"train.procedural.epochs": 3}
    assert lines[-1] == "[ci] 00_introduction cell 3 of 3: from signseg.progress import tqdm"
    err = capfd.readouterr().err
    assert "long loop" in err and "3/3" in err  # the bar reached this terminal
    assert "without encryption" not in err

    assert runner.execute("00_introduction", "ci", overrides={"train.procedural.epochs": 3}).cached
    assert not runner.execute("00_introduction", "ci").cached  # another key without overrides
    with pytest.raises(InvalidInputError, match=r"no parameter 'epochs'.*\['profile', 'train'\]"):
        runner.execute("00_introduction", "ci", overrides={"epochs": 3})


def test_book_overrides_must_belong_to_some_notebook(project):
    assert book.split_overrides({"train.procedural.epochs": 2}, ["00_introduction"], project) == {
        "00_introduction": {"train.procedural.epochs": 2}}
    with pytest.raises(InvalidInputError, match=r"no notebook has the parameter 'models'"):
        book.split_overrides({"models": ["x"]}, ["00_introduction"], project)


# --------------------------------------------------------------------------- command line


def test_cli_run_with_set(project, capsys):
    assert cli.main(["run", "00_introduction", "--profile", "ci", "--set",
                     "train.procedural.epochs=4"]) == 0
    out = capsys.readouterr().out
    assert "cell 3 of 3" in out and "00_introduction [ci] executed" in out
    notebook = nbformat.read(project / "book" / "executed" / "00_introduction.ipynb", as_version=4)
    assert notebook.metadata.signseg["parameters"]["train"]["procedural"]["epochs"] == 4


@pytest.mark.parametrize("argv, message", [
    (["run", "00_introduction", "--profile", "ci", "--set", "nope=1"], "no parameter 'nope'"),
    (["run", "00_introduction", "--profile", "ci", "--set", "nope"], "KEY=VALUE"),
    (["run", "99_missing", "--profile", "ci"], "no notebook '99_missing'"),
    (["book", "--profile", "ci", "--set", "models=[a]"], "no notebook has the parameter"),
])
def test_cli_prints_package_errors_without_a_traceback(project, capsys, argv, message):
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("signseg: error:") and message in err and "Traceback" not in err


def test_profile_option_has_choices_default_and_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "x", "--profile", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["book", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{ci,paper,quick}" in text and "default: quick" in text and "--set KEY=VALUE" in text
