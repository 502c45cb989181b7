"""End to end: every notebook of the book in the ci profile, then the HTML book.

This is the test that proves the published book can be rebuilt from a clean checkout:
the notebooks are executed with papermill for the `ci` profile (trained models come from the
signseg cache, built on first use) and jupyter-book builds them with warnings as errors.
"""

import re

import nbformat
import pytest

from signseg import book, runner

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def built_book():
    root = runner.project_root()
    results = book.execute_all("ci", root=root, report=lambda _: None)
    html = book.build_html(root, report=lambda _: None)
    return root, results, html


def test_every_notebook_executes_in_ci(built_book):
    root, results, _ = built_book
    assert [r.stem for r in results] == runner.notebook_stems(root)
    for result in results:
        notebook = nbformat.read(result.path, as_version=4)
        assert notebook.metadata.signseg["profile"] == "ci"
        errors = [o for c in notebook.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert errors == []


def test_book_pages_have_their_figures_and_captions(built_book):
    _, _, html = built_book
    intro = (html / "book" / "executed" / "00_introduction.html").read_text("utf-8")
    assert "built with the <code class=\"docutils literal notranslate\"><span class=\"pre\">ci</span></code> profile" in intro
    page = (html / "book" / "executed" / "01_dale_index.html").read_text("utf-8")
    figures = re.findall(r"<img[^>]+src=\"[^\"]+\.png\"", page)
    assert len(figures) >= 6
    for number in range(1, 7):
        assert f"Figure {number}." in page
    assert "Tiny ImageNet-200" in page and "tinyimagenet_resnet8" in page  # captions name data and models
    assert "rose with training in" in page  # the sentence decided by the measured numbers
    assert "injected-parameters" not in page and "Traceback" not in page


def test_ablation_page_has_its_figures_statements_and_a_static_explorer(built_book):
    _, _, html = built_book
    page = (html / "book" / "executed" / "02_ablation.html").read_text("utf-8")
    for number in (1, 2, 3, 4, 7, 8, 9, 10):
        assert f"Figure {number}." in page
    # the naturalness verdict, judged only by networks that trained no generator (the ci
    # profile's learned prior inverts tinyimagenet_alexnet, one of its readout networks)
    assert "Table 1." in page and "Real images have a spectral slope of" in page
    assert "samples are the closest in" in page or "closest generator depends on the network" in page
    assert "left out: tinyimagenet_alexnet" in page
    assert "Tiny ImageNet validation images with their boxes" in page  # the natural-image box test
    # metrics that need downloaded weights say they were skipped instead of showing numbers
    for metric in ("1 - LPIPS", "Objectness"):
        assert f"{metric} was skipped" in page or f"Figure {5 if metric == '1 - LPIPS' else 6}." in page
    assert "paired over 4 units (network x unit)" in page
    assert "application/vnd.jupyter.widget-state+json" in page  # the explorer works without a kernel
    # every script, the widget JavaScript and MathJax included, is served by the book itself
    scripts = re.findall(r"<script[^>]+src=\"([^\"]+)\"", page)
    assert any("html-manager" in s for s in scripts) and any("mathjax" in s for s in scripts)
    assert [s for s in scripts if "//" in s] == []
    assert "injected-parameters" not in page and "Traceback" not in page
    assert "0%|" not in page  # progress bars stay out of the book


def test_neuron_models_page_labels_its_stand_in_neurons(built_book):
    _, _, html = built_book
    page = (html / "book" / "executed" / "05_neuron_models.html").read_text("utf-8")
    figures = re.findall(r"<img[^>]+src=\"[^\"]+\.png\"", page)
    assert len(figures) >= 9
    for number in range(1, 10):
        assert f"Figure {number}." in page
    assert "Table 1." in page and "Did the protocol recover the planted answer?" in page
    # no recordings in ci: every result comes from stand-ins of another network, and says so
    assert "in-silico stand-in neurons (units of tinyimagenet_vgg11_bn, not recordings" in page
    assert "injected-parameters" not in page and "Traceback" not in page and "0%|" not in page


def test_ei_page_reproduces_both_papers_and_states_what_comes_out(built_book):
    _, _, html = built_book
    page = (html / "book" / "executed" / "06_ei_networks.html").read_text("utf-8")
    for number in range(1, 15):
        assert f"Figure {number}." in page
    for number in range(1, 10):
        assert f"Table {number}." in page
    assert "What this profile cuts." in page and "What comes out" in page
    assert "SAT-EXP" in page and "StandardEI" in page and "NoConstraint" in page
    assert "Cell populations, preferred images." in page  # the silencing verdict is stated
    assert "injected-parameters" not in page and "Traceback" not in page


def test_intermediate_layers_page_measures_the_claim_and_has_a_static_explorer(built_book):
    _, _, html = built_book
    page = (html / "book" / "executed" / "04_intermediate_layers.html").read_text("utf-8")
    for number in range(1, 6):
        assert f"Figure 4.{number}." in page
    assert "conv4 → conv5" in page and "permutation" in page
    assert "layer-measure pairs agree" in page  # the verdict is stated with its counts
    assert "application/vnd.jupyter.widget-view+json" in page  # the explorer, saved widget state
    assert "injected-parameters" not in page and "Traceback" not in page
