"""Dry run of the `paper` profile: every notebook, end to end, against stand-in checkpoints.

No machine here has the published ImageNet, DeePSiM, BigGAN, LPIPS, YOLO, robust or SimSiam
weights, nor Geirhos et al.'s cue-conflict stimuli or Xiao et al.'s backgrounds challenge, so
the `paper` notebooks could otherwise only ever run on a GPU runner with network access. This
test writes seeded random weights under the exact published file names and formats into a
temporary torch hub cache, and the two stimulus sets as the archives they are released as (a
few flat-grey images per category, with a random ``in_to_in9.json``) where a download would
have put them in a temporary signseg cache (:mod:`signseg.standins`); it turns off checkpoint
hash verification for this test only (``SIGNSEG_VERIFY_CHECKPOINTS=0``) and executes every
notebook of the book through the runner with the `paper` profile's parameters, shrunk by
:data:`OVERRIDES` to a few models and a few evaluations. What runs is the real code path:
loading through the hub cache, the data cache and the published loaders, the paper's model
names, generators and stimuli, 256 px generated images scored by ImageNet networks. The
numbers are meaningless and not checked; that every cell runs is.

When a notebook gains parameters (more models, robust networks, new generators), extend
:data:`OVERRIDES` so that it stays small, and :mod:`signseg.standins` for new published
files. Measured: 8 min 17 s on 2 shared CPU cores under a load of about 3 (another job
training beside it): stand-ins 20 s, 01 65 s, 02 279 s (most of it the random
BigGAN-deep-256 at about 5 s per image), 03 121 s (a quarter of it the visualizations, a
quarter the shape-bias and background-challenge scoring of four ResNet-50s).
"""

import nbformat
import pytest

from signseg import cache, profiles, runner, standins

pytestmark = pytest.mark.book


class Whole(dict):
    """An override mapping that replaces the profile's mapping instead of being merged into it."""


#: Per notebook: dotted parameter overrides (:mod:`signseg.overrides`) on top of the paper
#: profile; a mapping given here is merged into the profile's mapping of the same name, a
#: :class:`Whole` one replaces it.
SMALL = {
    "train.cifar10": {"epochs": 2, "width": 8, "n_train": 256, "n_test": 128, "batch_size": 64},
    "train.procedural": {"epochs": 1, "n_test": 100, "data": {"n": 300}},
    "train.tiny-imagenet": {"epochs": 1, "width": 4, "n_train": 400, "n_test": 200},
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
    "03_training_regimes": {
        # the standard and the most robust ResNet-50 (Spearman's rho over 2 networks x 2 units),
        # SimSiam beside the supervised ResNet-50, the project's ReLU / Tanh pair (trained for one
        # epoch), 02's tiny visualization with two runs (one generator: the two control images
        # the similarity ceiling takes), one readout network, one PGD step on 4 images; Geirhos'
        # set is the stand-in's 17 images, Xiao's two of its variants (9 images each)
        "robust": Whole({"resnet50": 0, "resnet50_linf8": 8}),
        "self_supervised": ["resnet50_simsiam", "resnet50"],
        "readout_ensemble": ["alexnet"],
        "visualization": {"units": [1, 2], "alphas": [0.0, 1.0], "restarts": 2, "iterations": 1,
                          "popsize": 2},
        "attack": {"epsilon": 4, "steps": 1, "images": 4},
        "background_challenge": {"options": {"variants": ["original", "mixed_rand"]}},
        "figure_units": 1,
    },
    "04_intermediate_layers": {
        # torchvision AlexNet's conv4 -> conv5 channels only, two per list, a few steps of
        # torch-lucent at 32 px, one CMA-ES generation of DeePSiM fc6 and one ablation strength
        "layers": {"alexnet": ["features.10"]},
        "top_k": 2,
        "gradient": {"size": 32, "steps": 2},
        "closed_loop": {"iterations": 1, "popsize": 2},
        "closed_loop_k": 1,
        "ablation": {"channels": 1, "alphas": [1.0]},
        "natural": {"images": 40, "top_images": 4},
        "n_boot": 50,
        "n_permutations": 100,
    },
    "05_neuron_models": {
        # 40 candidates -> a 12-image diverseSet; three stand-ins per session of ResNet-18 (one per
        # area) in two sessions and two planted neurons, two trials; two DeePSiM runs per
        # condition (the similarity ceiling takes two control images), control and alpha 1, one
        # generation of population 2 everywhere; AlexNet alone as the readout ensemble
        "candidates": 40,
        "calibration": 40,
        "diverse": {"k": 12},
        "standins": {"sessions": 2, "per_session": 1, "trials": 2},
        "planted": {"neurons": 2},
        "visualization": {"alphas": [0.0, 1.0], "restarts": 2, "iterations": 1, "popsize": 2},
        "closed_loop": {"iterations": 1, "popsize": 2},
        "readout_ensemble": ["alexnet"],
        "lasso": {"alphas": [0.1, 1.0], "folds": 2},
        "dale": {"top_k": 1, "visualization": {"generator": "deepsim-fc6", "iterations": 1, "popsize": 2, "batch": 4}},
        "localization": {"circles": 3, "trials": 1},
        "n_permutations": 20,
    },
    "06_ei_networks": {
        # MNIST LC-CNN / LCEI-CNN pairs and two multi-cell variants on the procedural set, two
        # seeds each (the minimum for a spread), one epoch on a few hundred images at width 8;
        # one StandardEI network for the segregation tests with DeePSiM fc6 (stand-in), one
        # unit, one CMA-ES generation
        "recipes": Whole({
            "lateral": {"mnist": {"epochs": 1, "n_train": 64, "n_test": 64, "batch_size": 32,
                                  "l1": 0.001, "label_smoothing": 0.0}},
            "lcei": {"mnist": {"epochs": 1, "n_train": 64, "n_test": 64, "batch_size": 32,
                               "optimizer": "adamw", "lr": 0.003, "separation": 10.0}},
            "multicell": {"procedural": {"epochs": 1, "width": 8, "n_train": 64, "n_test": 64,
                                         "batch_size": 32, "data": {"n": 64}}},
        }),
        "lateral": {"datasets": ["mnist"], "seeds": [0, 1], "networks": ["fcnn", "lccnn_loop1"],
                    "lcei": ["lceicnn_none", "lceicnn_exp_sat"], "images": 16},
        "multicell": {"dataset": "procedural", "variants": ["standard_ei", "noconstraint"],
                      "seeds": [0, 1], "natural_images": 16},
        "segregation": {"models": ["eirnn_standard_ei"], "images": 16, "silencing_alphas": [1.0],
                        "figure_units": 1,
                        "visualization": {"units": [1], "alphas": [0.0, 1.0], "restarts": 2,
                                          "iterations": 1, "popsize": 2,
                                          "generators": ["deepsim-fc6"]}},
        "n_boot": 50,
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
        if isinstance(value, Whole):
            result[dotted] = dict(value)
        elif isinstance(value, dict) and isinstance(current, dict):
            result[dotted] = {**current, **value}
        else:
            result[dotted] = value
    return result


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory):
    """Stand-in weights in a temporary TORCH_HOME, stand-in stimulus sets in a fresh signseg
    cache; every notebook run."""
    tmp = tmp_path_factory.mktemp("paper-profile")
    decoded = cache.cache_dir("data", "decoded")  # decoded data sets are reused, nothing else
    patch = pytest.MonkeyPatch()
    patch.setenv("TORCH_HOME", str(tmp / "torch"))
    patch.setenv("SIGNSEG_VERIFY_CHECKPOINTS", "0")
    patch.setenv("SIGNSEG_CACHE", str(tmp / "cache"))
    (tmp / "cache" / "data").mkdir(parents=True)
    (tmp / "cache" / "data" / "decoded").symlink_to(decoded, target_is_directory=True)
    # a three-class ImageNet-layout folder: 03 trains the paper's ResNet-18 ReLU / Tanh pair on it
    folder = standins.write_image_folder(tmp / "imagenet", classes=3, per_class=4, seed=1)
    patch.setitem(OVERRIDES["03_training_regimes"], "imagenet_folder", str(folder))
    patch.setitem(OVERRIDES["03_training_regimes"], "folder_train",
                  {"epochs": 1, "batch_size": 8, "image_size": 32, "workers": 0})
    try:
        root = runner.project_root()
        stems = runner.notebook_stems(root)
        params = [runner.notebook_parameters(stem, "paper", overrides(stem), root)
                  for stem in stems]
        models, generators = standins.required_standins(params)
        # seed 1: the stand-in "trained" weights differ from the seed-0 initialisations
        written = standins.write_standins(tmp / "torch" / "hub" / "checkpoints", models,
                                          generators, seed=1)
        # where a download would have put Geirhos' and Xiao's sets: the readers find them there
        written += standins.write_challenges(cache.cache_dir("data"),
                                             standins.required_challenges(params), seed=1)
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


def _text(notebook: nbformat.NotebookNode) -> str:
    """Every printed, Markdown and HTML output of ``notebook``'s code cells."""
    return "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/markdown", ""))
                     + str(o.get("data", {}).get("text/html", ""))
                     for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))


def test_paper_ablation_uses_the_published_generators_and_every_metric(paper_run):
    _, stems, _, results = paper_run
    text = _text(nbformat.read(results[stems.index("02_ablation")].path, as_version=4))
    assert "was skipped" not in text  # LPIPS and objectness ran on their stand-ins
    assert "DeePSiM fc6" in text and "BigGAN-deep" in text
    assert "resnet50" in text and "alexnet" in text


def test_paper_regimes_use_the_published_models_and_stimulus_sets(paper_run):
    _, stems, written, results = paper_run
    names = {path.name for path in written}
    assert {"resnet50_linf_eps8.0.ckpt", "simsiam_100ep_checkpoint_0099.pth.tar",
            "simsiam_100ep_lincls_model_best.pth.tar", "cue-conflict.tar.gz",
            "backgrounds_challenge_data.tar.gz", "in_to_in9.json"} <= names
    text = _text(nbformat.read(results[stems.index("03_training_regimes")].path, as_version=4))
    assert "resnet50_linf8 (ε=8)" in text and "resnet50_simsiam" in text  # Tables 1 and 2
    # the captions name the published stimuli, read through the same loaders as on a GPU runner
    assert "Geirhos et al.'s 17 cue-conflict images (16 categories)" in text
    assert "Xiao et al.'s backgrounds challenge (IN-9, 2 variants)" in text
    # the project's Tiny ImageNet pair has 200 outputs: not scored on the ImageNet stimuli
    assert text.count("Not scored: tinyimagenet_resnet8, tinyimagenet_resnet8_tanh") == 2


def test_paper_neuron_models_use_alexnet_fc7_and_deepsim_and_label_standins(paper_run):
    _, stems, written, results = paper_run
    assert {"alexnet-owt-7be5be79.pth", "resnet18-f37072fd.pth", "upconvGAN_fc6.pt"} <= {p.name for p in written}
    text = _text(nbformat.read(results[stems.index("05_neuron_models")].path, as_version=4))
    assert "Backbone: alexnet penultimate layer (4096 units)" in text and "DeePSiM" in text
    # without a recordings path the neurons are stand-ins of another network, and every caption says so
    assert "in-silico stand-in neurons (units of resnet18, not recordings" in text
    assert text.count("in-silico stand-in neurons") >= 8
