"""The Section 6 experiments over networks and seeds: which recipe trains which network,
loading them, and the per-network tables a notebook cell plots.

A *recipe* is a set of training configurations per data set (a profile's
``recipes: {lateral: {mnist: {...}}, lcei: {...}, multicell: {...}}``): the lateral paper
trained LC-CNN with SGD and LCEI-CNN with Adam and its penalty, the multi-cell paper its
networks with SGD and L2, so each family gets its own (:func:`recipe`).

Every function returns a tidy table with ``network`` (the paper's label), ``name`` (the zoo
name), ``dataset`` and ``seed`` columns; statistics over networks are bootstrap intervals
over seeds (:func:`over_networks`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .. import profiles, zoo
from ..errors import InvalidInputError
from ..metrics.stats import bootstrap_ci
from ..dale import layer_dale_index
from ..metrics.stats import correlation_with_ci
from . import connectivity, kernels, selectivity
from .lateral import lateral_layers
from .registry import ei_arch

__all__ = ["RECIPES", "recipe", "model_name", "load_networks", "untrained_networks",
           "accuracy_table", "per_network", "over_networks", "kernel_correlations", "path_table",
           "ei_differences", "over_training"]

#: Recipe of each kind of network.
RECIPES = ("lateral", "lcei", "multicell")

Networks = Mapping[tuple[str, int], Any]
"""``(zoo name, seed) -> ZooModel``."""


def recipe(arch: str) -> str:
    """``"lateral"`` (F-CNN, LC-CNN), ``"lcei"`` (LCEI-CNN) or ``"multicell"``."""
    spec = ei_arch(arch)
    if spec.family == "multicell":
        return "multicell"
    return "lcei" if arch.startswith("lceicnn") else "lateral"


def model_name(dataset: str, arch: str) -> str:
    """The zoo name of ``arch`` trained on ``dataset`` (``model_name("mnist", "fcnn")``)."""
    ei_arch(arch)
    return f"{zoo.name_prefix(dataset)}_{arch}"


def _config(name: str, recipes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    entry = zoo.info(name)
    kind = recipe(entry.arch)
    if kind not in recipes:
        raise InvalidInputError(f"no recipe {kind!r} for {name}; the recipes given are {list(recipes)}")
    return (recipes[kind] or {}).get(entry.dataset)


def load_networks(names: Sequence[str], recipes: Mapping[str, Mapping[str, Any]],
                  seeds: Sequence[int], progress: bool = True) -> dict[tuple[str, int], Any]:
    """Every ``(name, seed)``, trained with its recipe when it is not in the cache.

    Parameters
    ----------
    names:
        Zoo names of E/I networks.
    recipes:
        Recipe -> data set -> :class:`~signseg.runs.TrainConfig` fields.
    seeds:
        Training seeds (initialisation and shuffling; the data subset is the same).
    """
    networks = {}
    for seed in seeds:
        for name in names:
            config = _config(name, recipes)
            loaded = profiles.load_models([name], {zoo.info(name).dataset: config} if config else {},
                                          seed=seed, progress=progress)
            networks[(name, seed)] = loaded[name]
    return networks


def untrained_networks(networks: Networks, recipes: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, int], Any]:
    """The initialisation of every network of ``networks`` (same seed and width)."""
    return {(name, seed): zoo.load(name, pretrained=False, seed=seed,
                                   train_config=_config(name, recipes))
            for name, seed in networks}


def _labels(name: str) -> dict[str, Any]:
    entry = zoo.info(name)
    return {"network": ei_arch(entry.arch).label, "name": name, "dataset": entry.dataset}


def per_network(networks: Networks, measure: Callable[[Any], pd.DataFrame | dict[str, Any]]) -> pd.DataFrame:
    """``measure(model)`` of every network, with its ``network``, ``name``, ``dataset``, ``seed``."""
    frames = []
    for (name, seed), model in networks.items():
        value = measure(model)
        frame = pd.DataFrame([value]) if isinstance(value, dict) else value.copy()
        for key, label in reversed(list({**_labels(name), "seed": seed}.items())):
            frame.insert(0, key, label)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def accuracy_table(networks: Networks) -> pd.DataFrame:
    """Test accuracy (%) per network and data set: ``mean``, ``std`` (over seeds, ``ddof=1``;
    NaN for one seed), ``n`` and the seeds' values (their Tables 1-2, Fig. 12)."""
    runs = per_network(networks, lambda model: {"accuracy": model.accuracy})
    table = runs.groupby(["network", "name", "dataset"], sort=False)["accuracy"].agg(
        mean="mean", std="std", n="count", runs=lambda v: ", ".join(f"{a:.1f}" for a in v))
    return table.reset_index()


def over_networks(table: pd.DataFrame, value: str, by: Sequence[str], n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """Mean of ``value`` per network (seed) first, then its mean over networks with a
    percentile-bootstrap 95% CI over networks, per group ``by``.

    Returns ``*by``, ``mean``, ``ci_low``, ``ci_high``, ``n`` (networks); NaN values (silent
    cells) are left out, and the interval is NaN for a single network.
    """
    missing = [c for c in (value, "name", "seed", *by) if c not in table.columns]
    if missing:
        raise InvalidInputError(f"the table lacks the columns {missing}")
    means = table.groupby([*by, "name", "seed"], sort=False)[value].mean().dropna().reset_index()
    rows = []
    for key, group in means.groupby(list(by), sort=False):
        values = group[value].to_numpy()
        if len(values) > 1:
            mean, low, high = bootstrap_ci(np.mean, values, n_boot=n_boot, seed=seed)
        else:
            mean, low, high = float(values[0]), float("nan"), float("nan")
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "mean": mean,
                     "ci_low": low, "ci_high": high, "n": len(values)})
    return pd.DataFrame(rows)


def ei_differences(cells: pd.DataFrame, density: pd.DataFrame, n_boot: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """Their Figs. 4 and 7: per network and area, the image skewness of the principal cells
    minus that of the interneurons, and the connection density of interneuron -> principal
    connections minus that of principal -> principal ones; then mean and bootstrap CI over
    networks per ``network`` (variant) and ``area``.

    ``cells`` is :func:`signseg.ei.selectivity.selectivity_table` per network
    (:func:`per_network`), ``density`` :func:`signseg.ei.connectivity.density_table` per network.
    """
    rows = []
    for (label, name, seed, area), group in cells.groupby(["network", "name", "seed", "area"], sort=False):
        principal = group["cell"].isin(["PN", "E"])
        skew = group["image_skewness"]
        links = density[(density["name"] == name) & (density["seed"] == seed) & (density["area"] == area)]
        onto = links[links["target"].isin(["PN", "E"]) & (links["source"] != "X")]
        from_principal = onto["source"].isin(["PN", "E"])
        rows.append({"network": label, "name": name, "seed": seed, "area": area,
                     "skewness_difference": skew[principal].mean() - skew[~principal].mean(),
                     "density_difference": onto.loc[~from_principal, "density"].mean()
                     - onto.loc[from_principal, "density"].mean()})
    table = pd.DataFrame(rows)
    return pd.concat([over_networks(table, column, ["network", "area"], n_boot, seed).assign(measure=column)
                      for column in ("skewness_difference", "density_difference")], ignore_index=True)


def over_training(name: str, recipes: Mapping[str, Mapping[str, Any]], seed: int,
                  gratings: torch.Tensor, table: pd.DataFrame, natural: torch.Tensor) -> pd.DataFrame:
    """Their Fig. 5: mean orientation skewness, image skewness and connection density per
    cell (connection) type and area after every epoch of one network (0 = initial), trained
    with its recipe first when it is not in the cache.

    Returns ``epoch``, ``area``, ``kind`` (cell or connection type), ``measure``, ``value``.
    """
    config = _config(name, recipes)
    last = len(load_networks([name], recipes, [seed])[(name, seed)].checkpoints) - 1
    rows = []
    for epoch in range(last + 1):
        model = zoo.load(name, seed=seed, epoch=epoch, train_config=config)
        cells = selectivity.selectivity_table(model, gratings, table, natural)
        for (area, cell), group in cells.groupby(["area", "cell"], sort=False):
            for measure in ("orientation_skewness", "image_skewness"):
                rows.append({"epoch": epoch, "area": area, "kind": cell, "measure": measure,
                             "value": float(group[measure].mean())})
        links = connectivity.density_table(model.model)
        for _, link in links[links["source"] != "X"].iterrows():
            rows.append({"epoch": epoch, "area": link["area"], "kind": link["connection"],
                         "measure": "density", "value": float(link["density"])})
    return pd.DataFrame(rows)


def kernel_correlations(networks: Networks, n_boot: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Afferent vs lateral kernel distances of every LC-CNN (their Fig. 9) and, per network,
    Pearson's r between the two distances over channel pairs with a bootstrap 95% CI.

    Returns ``(distances, correlations)``; ``correlations`` has ``network``, ``name``,
    ``seed``, ``r``, ``ci_low``, ``ci_high``, ``p``, ``n`` (pairs).
    """
    def distances_of(model: Any) -> pd.DataFrame:
        layers = lateral_layers(model.model)
        if "lateral" not in layers:
            raise InvalidInputError(f"{model.name} has no lateral convolution (LC-CNN only)")
        return kernels.kernel_distances(layers["afferent"], layers["lateral"])

    distances = per_network(networks, distances_of)
    rows = []
    for (label, name, seed_), group in distances.groupby(["network", "name", "seed"], sort=False):
        result = correlation_with_ci(group["afferent"], group["lateral"], method="pearson",
                                     n_boot=n_boot, seed=seed)
        rows.append({"network": label, "name": name, "seed": seed_,
                     **{k: result[k] for k in ("r", "ci_low", "ci_high", "p", "n")}})
    return distances, pd.DataFrame(rows)


def path_table(networks: Networks, thresholds: Sequence[float]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The E and I lateral paths of every LCEI-CNN (their Fig. 10 and Table 3).

    Paths are relabelled so that the excitatory one has the larger mean
    (:func:`signseg.ei.kernels.oriented_paths`).

    Returns
    -------
    (weights, counts, stats)
        ``weights``: every weight (``path``, ``weight``); ``counts``: :func:`~signseg.ei.kernels.ei_count_ratio`
        per network; ``stats``: per network and seed ``mean_excitatory``, ``mean_inhibitory``,
        ``positive_excitatory`` (share of ``W_E > 0``), ``negative_inhibitory``, ``swapped``,
        ``dale_excitatory`` / ``dale_inhibitory`` (the layers' Dale index, :mod:`signseg.dale`).
    """
    def oriented(model: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
        layers = lateral_layers(model.model)
        if "excitatory" not in layers:
            raise InvalidInputError(f"{model.name} has no E and I paths (LCEI-CNN only)")
        return kernels.oriented_paths(layers["excitatory"], layers["inhibitory"])

    def stats_of(model: Any) -> dict[str, Any]:
        we, wi, swapped = oriented(model)
        return {"mean_excitatory": float(we.mean()), "mean_inhibitory": float(wi.mean()),
                "positive_excitatory": float((we > 0).double().mean()),
                "negative_inhibitory": float((wi < 0).double().mean()), "swapped": swapped,
                "dale_excitatory": layer_dale_index(we), "dale_inhibitory": layer_dale_index(wi)}

    weights = per_network(networks, lambda m: kernels.weight_values(
        dict(zip(("excitatory", "inhibitory"), oriented(m)[:2]))))
    counts = per_network(networks, lambda m: kernels.ei_count_ratio(*oriented(m)[:2], thresholds))
    return weights, counts, per_network(networks, stats_of)
