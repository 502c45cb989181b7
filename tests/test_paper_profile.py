"""Dry run of the `paper` profile: every notebook, end to end, against stand-in checkpoints.

No machine here has the published ImageNet, DeePSiM, BigGAN, LPIPS or YOLO weights, so the
`paper` notebooks could otherwise only ever run on a GPU runner with network access. This
test writes seeded random weights under the exact published file names and formats into a
temporary torch hub cache (:mod:`signseg.standins`), turns off checkpoint hash verification
for this test only (``SIGNSEG_VERIFY_CHECKPOINTS=0``), and executes every notebook of the
book through the runner with the `paper` profile's parameters, shrunk by :data:`OVERRIDES`
to a few models and a few evaluations. What runs is the real code path: loading through the
hub cache and the published loaders, the paper's model names and generators, 256 px
generated images scored by ImageNet networks. The numbers are meaningless and not checked;
that every cell runs is.

When a notebook gains parameters (more models, robust networks, new generators), extend
:data:`OVERRIDES` so that it stays small, and :mod:`signseg.standins` for new published
files. Measured: 5 min 35 s on 2 shared CPU cores under a load of about 3 (stand-ins 19 s,
01 92 s, 02 206 s, most of it the random BigGAN-deep-256 at about 5 s per image).
"""

import nbformat
import pytest

from signseg import cache, profiles, runner, standins

pytestmark = pytest.mark.book

#: Per notebook: dotted parameter overrides (:mod:`signseg.overrides`) on top of the paper
#: profile; a mapping given here is merged into the profile's mapping of the same name.
SMALL = {
    "train.cifar10": {"epochs": 2, "width": 8, "n_train": 256, "n_test": 128, "batch_size": 64},
    "train.procedural": {"epochs": 1, "n_test": 100, "data": {"n": 300}},
}
OVERRIDES = {
    "01_dale_index": {
        # four ImageNet models so that the accuracy correlations have a group, one BN pair,
        # inception_v3 for its 299 px input; the CIFAR-10 dynamics model trains for 2 epochs
        "models": ["alexnet", "resnet18", "densenet121", "inception_v3", "vgg11", "vgg11_bn"],
        "bn_pairs": [["vgg11", "vgg11_bn"]],
        "n_boot": 50,
    },
    "02_ablation": {
        # two networks (averages over networks), one unit, the control and alpha 1 for both
        # signs, one run per generator (two control images per unit, the fewest the
        # similarity ceiling takes), population 2, one generation
        "models": ["resnet50", "alexnet"],
        "visualization": {"units": [1], "alphas": [0.0, 1.0], "restarts": 1, "iterations": 1,
                          "popsize": 2},
        "box_test": {"images": 20},
        "segregation_images": 50,
        "explorer_units": 1,
        "figure_units": 1,
        "naturalness_images": 4,
    },
}


def overrides(stem: str) -> dict:
    """The overrides of ``stem``, mappings merged into the paper profile's own values."""
    params = profiles.parameters("paper", stem)
    result = {}
    for dotted, value in {**SMALL, **OVERRIDES.get(stem, {})}.items():
        current = params
        for part in dotted.split("."):
            current = current.get(part, {}) if isinstance(current, dict) else {}
        merged = {**current, **value} if isinstance(value, dict) and isinstance(current, dict) else value
        result[dotted] = merged
    return result


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory):
    """Stand-in weights in a temporary TORCH_HOME, a fresh signseg cache; every notebook run."""
    tmp = tmp_path_factory.mktemp("paper-profile")
    decoded = cache.cache_dir("data")  # decoded data sets are reused, nothing else
    patch = pytest.MonkeyPatch()
    patch.setenv("TORCH_HOME", str(tmp / "torch"))
    patch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")
    patch.setenv("SIGNSEG_CACHE", str(tmp / "cache"))
    (tmp / "cache").mkdir()
    (tmp / "cache" / "data").symlink_to(decoded, target_is_directory=True)
    try:
        root = runner.project_root()
        stems = runner.notebook_stems(root)
        params = [runner.notebook_parameters(stem, "paper", overrides(stem), root)
                  for stem in stems]
        models, generators = standins.required_standins(params)
        # seed 1: the stand-in "trained" weights differ from the seed-0 initialisations
        written = standins.write_standins(tmp / "torch" / "hub" / "checkpoints", models,
                                          generators, seed=1)
        results = [runner.execute(stem, "paper", root=root, force=True, overrides=overrides(stem),
                                  out_dir=tmp / "executed") for stem in stems]
        yield root, stems, written, results
    finally:
        patch.undo()


def _errors(notebook: nbformat.NotebookNode) -> list:
    return [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def test_every_paper_notebook_runs_end_to_end_on_standin_checkpoints(paper_run):
    root, stems, written, results = paper_run
    assert stems == runner.notebook_stems(root) and set(stems) <= set(
        profiles.load("paper")["notebooks"])
    names = {path.name for path in written}
    # the published files the paper profile reads, under their published names
    assert {"upconvGAN_fc6.pt", "biggan-deep-256-pytorch_model.bin", "biggan-deep-256-config.json",
            "alexnet-owt-7be5be79.pth", "resnet50-11ad3fa6.pth", "yolo11n.pt"} <= names
    for stem, result in zip(stems, results):
        assert not result.cached and result.path.parent.name == "executed"
        assert result.path.parent != root / "book" / "executed"
        notebook = nbformat.read(result.path, as_version=4)
        assert notebook.metadata.signseg["profile"] == "paper"
        assert notebook.metadata.signseg["overrides"] == overrides(stem)
        assert notebook.metadata.signseg["parameters"] == runner.notebook_parameters(
            stem, "paper", overrides(stem), root)
        assert _errors(notebook) == [], stem


def test_paper_ablation_uses_the_published_generators_and_every_metric(paper_run):
    _, stems, _, results = paper_run
    notebook = nbformat.read(results[stems.index("02_ablation")].path, as_version=4)
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
                     for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "was skipped" not in text  # LPIPS and objectness ran on their stand-ins
    assert "DeePSiM fc6" in text and "BigGAN-deep" in text
    assert "resnet50" in text and "alexnet" in text
