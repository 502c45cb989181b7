"""Figures of Section 6 (the E/I networks). Like :mod:`signseg.plots`, each function takes
tidy tables computed elsewhere and returns a matplotlib Figure; none computes a result."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..plots import NEGATIVE, NEUTRAL, POSITIVE

__all__ = ["feature_maps", "sparsity_over_loops", "response_distributions", "kernel_scatter",
           "weight_histograms", "cell_measures", "weight_magnitudes", "over_training",
           "ei_differences"]

#: Colours of the cell types: principal (excitatory) red, interneurons blue.
CELL_COLORS = {"PN": POSITIVE, "E": POSITIVE, "IG": NEGATIVE, "OG": "#5dade2", "I": NEGATIVE}


def feature_maps(maps: Sequence[np.ndarray], labels: Sequence[str], size: float = 1.4) -> plt.Figure:
    """One row per image, one column per step: the maps ``[images, H, W]`` of each step (their
    Fig. 5), every column on its own grey scale from 0 to its maximum."""
    rows, columns = maps[0].shape[0], len(maps)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for j, (step, label) in enumerate(zip(maps, labels)):
        for i in range(rows):
            axes[i, j].imshow(step[i], cmap="gray", vmin=0, vmax=max(float(step.max()), 1e-9))
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[0, j].set_title(label, fontsize=9)
    fig.tight_layout()
    return fig


def sparsity_over_loops(table: pd.DataFrame) -> plt.Figure:
    """Kurtosis and fraction of zeros against the lateral step, one line per network (Fig. 6);
    ``table`` has ``network``, ``step``, ``kurtosis``, ``zero_fraction`` (means over seeds)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, column, label in zip(axes, ("kurtosis", "zero_fraction"), ("kurtosis", "fraction of zeros")):
        for network, group in table.groupby("network", sort=False):
            ax.plot(group["step"], group[column], marker="o", ms=3, label=network)
        ax.set_xlabel("lateral step t (0: afferent only)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def response_distributions(densities: pd.DataFrame, crossings: pd.DataFrame) -> plt.Figure:
    """Log-log response densities of every step against the matching half-normal (dashed), with
    the tail crossing marked (Fig. 7); a silent step (every response zero) gets an empty panel
    that says so."""
    steps = sorted(crossings["step"].unique())
    fig, axes = plt.subplots(1, len(steps), figsize=(2.8 * len(steps), 2.8), sharey=True, squeeze=False)
    for ax, step in zip(axes[0], steps):
        panel = densities[(densities["step"] == step) & (densities["density"] > 0)]
        if panel.empty:
            ax.text(0.5, 0.5, "silent: every\nresponse is 0", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
            ax.set_title(f"V_{step}", fontsize=9)
            continue
        ax.loglog(panel["response"], panel["density"], ".", ms=3, color=POSITIVE, label="responses")
        ax.loglog(panel["response"], panel["gaussian"], "--", color=NEUTRAL, label="Gaussian, same s")
        crossing = crossings.loc[crossings["step"] == step, "crossing"]
        if len(crossing) and np.isfinite(crossing.iloc[0]):
            ax.axvline(crossing.iloc[0], color="k", lw=0.8)
        ax.set_title(f"V_{step}", fontsize=9)
        ax.set_xlabel("response")
    axes[0, 0].set_ylabel("density")
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def kernel_scatter(distances: pd.DataFrame) -> plt.Figure:
    """Lateral against afferent kernel distance of every channel pair (+- SE), one colour per
    network (Fig. 9); ``distances`` has ``network``, ``afferent``, ``lateral``, ``lateral_se``."""
    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    for network, group in distances.groupby("network", sort=False):
        ax.errorbar(group["afferent"], group["lateral"], yerr=group["lateral_se"], fmt="o", ms=3,
                    lw=0.6, label=network)
    ax.set_xlabel("afferent kernel distance")
    ax.set_ylabel("outgoing lateral kernel distance")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def weight_histograms(values: pd.DataFrame, bins: int = 40) -> plt.Figure:
    """Histograms of the E and I path weights, one panel per network (Fig. 10); ``values`` has
    ``network``, ``path`` (``"excitatory"``/``"inhibitory"``), ``weight``."""
    networks = list(dict.fromkeys(values["network"]))
    fig, axes = plt.subplots(1, len(networks), figsize=(2.8 * len(networks), 2.6), sharey=True, squeeze=False)
    edges = np.linspace(values["weight"].min(), values["weight"].max(), bins + 1)
    for ax, network in zip(axes[0], networks):
        for path, color in (("excitatory", POSITIVE), ("inhibitory", NEGATIVE)):
            ax.hist(values.loc[(values["network"] == network) & (values["path"] == path), "weight"],
                    edges, color=color, alpha=0.5, label=f"W_{path[0].upper()}")
        ax.axvline(0, color="k", lw=0.6)
        ax.set_title(network, fontsize=8)
        ax.set_xlabel("weight")
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def cell_measures(summary: pd.DataFrame, measures: Mapping[str, str]) -> plt.Figure:
    """Mean and 95% CI over networks per cell type, area and variant (Figs. 2, 7, 13-15): one
    row of panels per measure (``measures`` maps its column in ``summary['measure']`` to a label),
    one panel per variant; bars grouped by area."""
    variants = list(dict.fromkeys(summary["network"]))
    fig, axes = plt.subplots(len(measures), len(variants), figsize=(2.9 * len(variants), 2.5 * len(measures)),
                             squeeze=False, sharey="row")
    for i, (measure, label) in enumerate(measures.items()):
        for j, variant in enumerate(variants):
            ax = axes[i, j]
            panel = summary[(summary["measure"] == measure) & (summary["network"] == variant)]
            positions = np.arange(len(panel))
            colors = [CELL_COLORS.get(c, NEUTRAL) for c in panel["kind"]]
            error = np.vstack([panel["mean"] - panel["ci_low"], panel["ci_high"] - panel["mean"]])
            ax.bar(positions, panel["mean"], color=colors,
                   yerr=np.nan_to_num(error, nan=0.0), capsize=2)
            ax.set_xticks(positions, [f"{a[-1]}:{k}" for a, k in zip(panel["area"], panel["kind"])],
                          fontsize=7, rotation=90)
            if i == 0:
                ax.set_title(variant, fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    return fig


def weight_magnitudes(table: pd.DataFrame, threshold: float, bins: int = 40) -> plt.Figure:
    """Histograms of ``log |w|`` of the recurrent connections onto principal cells (Fig. 3a-d)
    with the density threshold; ``table`` has ``connection``, ``log_magnitude``."""
    connections = list(dict.fromkeys(table["connection"]))
    fig, axes = plt.subplots(1, len(connections) + 1, figsize=(2.5 * (len(connections) + 1), 2.5),
                             squeeze=False)
    finite = table[np.isfinite(table["log_magnitude"])]
    edges = np.linspace(min(finite["log_magnitude"].min(), np.log(threshold)) - 0.5,
                        finite["log_magnitude"].max() + 0.5, bins + 1)
    panels = [("all recurrent", finite)] + [(c, finite[finite["connection"] == c]) for c in connections]
    for ax, (title, panel) in zip(axes[0], panels):
        ax.hist(panel["log_magnitude"], edges, color=NEUTRAL)
        ax.axvline(np.log(threshold), color=NEGATIVE, lw=1)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("ln |w|")
    fig.tight_layout()
    return fig


def over_training(table: pd.DataFrame) -> plt.Figure:
    """Measures per cell or connection type against the epoch (Fig. 5): one panel per measure
    and area; ``table`` from :func:`signseg.ei.experiments.over_training`."""
    measures = list(dict.fromkeys(table["measure"]))
    areas = list(dict.fromkeys(table["area"]))
    fig, axes = plt.subplots(len(areas), len(measures), figsize=(3.3 * len(measures), 2.6 * len(areas)),
                             squeeze=False)
    for i, area in enumerate(areas):
        for j, measure in enumerate(measures):
            ax = axes[i, j]
            panel = table[(table["area"] == area) & (table["measure"] == measure)]
            for kind, group in panel.groupby("kind", sort=False):
                color = CELL_COLORS.get(kind.split("->")[0] if "->" in kind else kind)
                ax.plot(group["epoch"], group["value"], marker="o", ms=3, color=color, label=kind)
            ax.set_title(f"{area}: {measure.replace('_', ' ')}", fontsize=8)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def ei_differences(differences: pd.DataFrame, experiment: tuple[float, float] | None = None) -> plt.Figure:
    """Connection-density difference (Int->PN - PN->PN) against image-skewness difference
    (PN - Int) per variant and area, with 95% CIs over networks (Figs. 4, 7); ``experiment`` is
    the experimental estimate ``(skewness difference, density difference)``."""
    wide = differences.pivot_table(index=["network", "area"], columns="measure",
                                   values=["mean", "ci_low", "ci_high"]).reset_index()
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    markers = {"area3": "o", "area4": "^"}
    for network, group in wide.groupby("network", sort=False):
        for _, row in group.iterrows():
            x, y = row[("mean", "skewness_difference")], row[("mean", "density_difference")]
            xerr = [[x - row[("ci_low", "skewness_difference")]], [row[("ci_high", "skewness_difference")] - x]]
            yerr = [[y - row[("ci_low", "density_difference")]], [row[("ci_high", "density_difference")] - y]]
            ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr),
                        fmt=markers.get(row[("area", "")], "o"), ms=5, lw=0.7,
                        label=f"{network} ({row[('area', '')]})")
    if experiment is not None:
        ax.plot(*experiment, "k*", ms=10, label="experiment")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("image skewness, PN - Int")
    ax.set_ylabel("connection density, Int->PN - PN->PN")
    ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig
