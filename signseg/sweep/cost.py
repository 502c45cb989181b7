"""What the paper's full visualization sweep would cost, from a measured cost per evaluation.

The paper visualized 11 (and 100) of the 1000 ImageNet classes "due to limited computing
time". Its full design (:data:`PAPER_SWEEP`) is 1000 classes x 8 networks (AlexNet, VGG16,
ResNet50 and five adversarially robust ResNet50s) x 21 ablation conditions (the control and
10 strengths for each sign) x 20 visualizations (10 per generator, DeePSiM fc6 and
BigGAN-deep-256), each 100 CMA-ES generations of 40 (DeePSiM's 4096-d code) or 28
(BigGAN's 256-d code) candidate images.

One *evaluation* renders one candidate image, runs one network on it and takes its share
of the CMA-ES update. The benchmark ``benchmarks/bench_sweep.py`` measures, on one device,
the seconds per image of each generator and each network architecture, amortized over
batches as the lockstep engine runs them, and the optimizer's seconds per candidate at each
generator's code size; it writes them under ``"per_evaluation"`` in its JSON result::

    {"per_evaluation": {"device": "...",
                        "generators": {"deepsim-fc6": 0.02, "biggan-deep-256": 0.3},
                        "networks": {"alexnet": 0.004, "vgg16": 0.1, "resnet50": 0.04},
                        "optimizer": {"deepsim-fc6": 2e-5, "biggan-deep-256": 2e-6}}}

:func:`projected_cost` turns that into the cost of every (network, generator) part of the
sweep, one evaluation costing generator + network + optimizer; robust ResNet50s cost what
ResNet50 costs (same architecture). The same benchmark checks separately that the lockstep
engine's end-to-end time stays within 15% of its generator + network time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ..errors import InvalidInputError
from ..evolve import default_popsize
from ..files import load_json

__all__ = ["SweepDesign", "PAPER_SWEEP", "per_evaluation", "projected_cost",
           "visualization_seconds"]


@dataclass(frozen=True)
class SweepDesign:
    """The size of a visualization sweep.

    Attributes
    ----------
    classes:
        Readout units visualized per network.
    networks:
        Network name -> the architecture whose measured cost it has.
    conditions:
        Ablation conditions per unit (paper: the control + 2 signs x 10 strengths = 21).
    restarts:
        Generator -> visualizations per unit and condition (paper: 10 each).
    iterations:
        CMA-ES generations per visualization (paper: 100).
    popsize:
        Generator -> candidates per generation (Wang & Ponce's ``4 + floor(3 log2 dim)``).
    """

    classes: int
    networks: Mapping[str, str]
    conditions: int
    restarts: Mapping[str, int]
    iterations: int
    popsize: Mapping[str, int] = field(default_factory=dict)


PAPER_SWEEP = SweepDesign(
    classes=1000,
    networks={"alexnet": "alexnet", "vgg16": "vgg16", "resnet50": "resnet50",
              **{f"resnet50 robust Linf {eps}": "resnet50" for eps in ("0.5", "1", "2", "4", "8")}},
    conditions=1 + 2 * 10,
    restarts={"deepsim-fc6": 10, "biggan-deep-256": 10},
    iterations=100,
    popsize={"deepsim-fc6": default_popsize(4096), "biggan-deep-256": default_popsize(256)},
)
"""The paper's full design: 1000 classes x 8 networks x 21 conditions x 20 visualizations."""


def per_evaluation(measured: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The ``"per_evaluation"`` section of a benchmark result (a JSON file or its data)."""
    if isinstance(measured, (str, Path)):
        measured = load_json(measured, "a benchmark result (benchmarks/bench_sweep.py)",
                             "Run benchmarks/bench_sweep.py again to rewrite it.")
    if not isinstance(measured, Mapping):
        raise InvalidInputError(f"measured must be a mapping or a JSON file, got {type(measured).__name__}")
    section = dict(measured.get("per_evaluation", measured))
    missing = [key for key in ("generators", "networks") if key not in section]
    if missing:
        raise InvalidInputError(
            f"the measured costs lack {missing}; expected the 'per_evaluation' section that "
            "benchmarks/bench_sweep.py writes (seconds per image of each generator and network)")
    section.setdefault("optimizer", {})
    return section


def _seconds(section: Mapping[str, Any], generator: str, architecture: str) -> float:
    """Seconds per evaluation: generator + network seconds per image + optimizer per candidate."""
    absent = ([f"generator {generator!r}"] if generator not in section["generators"] else []) + (
        [f"network {architecture!r}"] if architecture not in section["networks"] else [])
    if absent:
        raise InvalidInputError(
            f"no measured cost for the {' and the '.join(absent)}; measured: generators "
            f"{sorted(section['generators'])}, networks {sorted(section['networks'])}. Run "
            "benchmarks/bench_sweep.py with them")
    return (float(section["generators"][generator]) + float(section["networks"][architecture])
            + float(section["optimizer"].get(generator, 0.0)))


def projected_cost(
    measured: str | Path | Mapping[str, Any],
    design: SweepDesign = PAPER_SWEEP,
    *,
    devices: int = 1,
) -> pd.DataFrame:
    """The projected time of every (network, generator) part of ``design``.

    Parameters
    ----------
    measured:
        A result of ``benchmarks/bench_sweep.py`` (file or data), or its ``per_evaluation``
        section (see the module notes).
    design:
        The sweep (default: the paper's full design).
    devices:
        Devices like the measured one working at once (a perfectly parallel sweep:
        independent chunks, see :mod:`signseg.sweep`).

    Returns
    -------
    DataFrame
        One row per network and generator: ``network``, ``architecture``, ``generator``,
        ``visualizations``, ``evaluations``, ``seconds_per_evaluation``, ``seconds`` (wall
        time on ``devices`` devices) and ``days``. The sweep's total is ``seconds.sum()``.
    """
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise InvalidInputError(f"devices must be an integer >= 1, got {devices!r}")
    section = per_evaluation(measured)
    rows = []
    for network, architecture in design.networks.items():
        for generator, restarts in design.restarts.items():
            visualizations = design.classes * design.conditions * restarts
            evaluations = visualizations * design.iterations * _popsize(design, generator)
            cost = _seconds(section, generator, architecture)
            rows.append({"network": network, "architecture": architecture, "generator": generator,
                         "visualizations": visualizations, "evaluations": evaluations,
                         "seconds_per_evaluation": cost,
                         "seconds": evaluations * cost / devices})
    table = pd.DataFrame(rows)
    table["days"] = table["seconds"] / 86400
    return table


def _popsize(design: SweepDesign, generator: str) -> int:
    if generator not in design.popsize:
        raise InvalidInputError(
            f"the design has no population size for the generator {generator!r}; "
            f"give SweepDesign.popsize[{generator!r}]")
    return int(design.popsize[generator])


def visualization_seconds(
    measured: str | Path | Mapping[str, Any],
    generator: str = "deepsim-fc6",
    network: str = "alexnet",
    iterations: int = 100,
    popsize: int | None = None,
) -> float:
    """Seconds of one visualization (amortized over many in lockstep) at the measured cost.

    The default is the paper's DeePSiM + AlexNet visualization of 100 generations of 40
    images (about 180 s on an RTX 4090 in the paper; the project's GPU goal is 1.8 s).
    """
    popsize = popsize or PAPER_SWEEP.popsize.get(generator) or 0
    if popsize < 2:
        raise InvalidInputError(f"give the population size of the generator {generator!r} (>= 2)")
    return iterations * popsize * _seconds(per_evaluation(measured), generator, network)

