"""Figures of the book. Each function takes tidy tables computed elsewhere and returns a
matplotlib Figure; none of them computes a result. :func:`caption` prints the caption that
names the models and data a figure was computed from."""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = [
    "stamp",
    "caption",
    "dale_trained_vs_untrained",
    "dale_vs_accuracy",
    "dale_across_depth",
    "dale_batchnorm_pairs",
    "dale_over_epochs",
    "convergence_vs_dale",
    "preferred_images",
    "condition_curves",
    "accuracy_by_variant",
    "image_rows",
    "spectrum_ratios",
    "regime_curves",
    "preferred_by_unit",
    "surround_colour",
    "curves_by_network",
    "intact_vs_ablated",
    "robustness_deltas",
    "channel_grid",
    "sign_contrasts",
]

POSITIVE, NEGATIVE, NEUTRAL = "#c0392b", "#2471a3", "#7f8c8d"


def caption(number: int | str, text: str) -> None:
    """Display ``**Figure number.** text`` as Markdown below a figure (plain print outside IPython)."""
    message = f"**Figure {number}.** {text}"
    try:
        from IPython.display import Markdown, display

        display(Markdown(message))
    except ImportError:  # pragma: no cover - plain Python
        print(message)


def stamp(fig: plt.Figure, text: str) -> plt.Figure:
    """Write ``text`` (e.g. ``"in-silico"``) in the figure's top right corner, so that a figure
    cut out of the book still says what its data are."""
    fig.text(0.995, 0.995, text, ha="right", va="top", fontsize=8, style="italic", color="0.35")
    return fig


def dale_trained_vs_untrained(table: pd.DataFrame, paper: pd.DataFrame | None = None) -> plt.Figure:
    """Dumbbell plot: output-layer Dale index untrained -> trained per model.

    ``table`` has columns ``model``, ``untrained``, ``trained``, ``random_expectation``;
    ``paper`` (optional) has ``model`` and ``trained`` (Table 3) and is drawn as crosses, on
    the row whose ``paper_model`` (else ``model``) names it.
    """
    order = table.sort_values("trained")
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(order) + 1.4))
    ax.hlines(y, order["untrained"], order["trained"], color=NEUTRAL, lw=1.5)
    ax.scatter(order["untrained"], y, color="white", edgecolor=NEUTRAL, zorder=3, label="untrained")
    ax.scatter(order["trained"], y, color=POSITIVE, zorder=3, label="trained (this book)")
    for value in sorted(order["random_expectation"].unique()):
        ax.axvline(value, ls="--", color="k", lw=0.8)
    ax.plot([], [], ls="--", color="k", lw=0.8, label="random-sign expectation")
    if paper is not None:
        key = "paper_model" if "paper_model" in order.columns else "model"
        counterpart = paper[["model", "trained"]].rename(columns={"model": key})
        merged = order.merge(counterpart, on=key, suffixes=("", "_paper"))
        ypos = [int(np.flatnonzero(order["model"].to_numpy() == m)[0]) for m in merged["model"]]
        ax.scatter(merged["trained_paper"], ypos, marker="x", color="k", zorder=4,
                   label="trained (paper, Table 3)")
    ax.set_yticks(y, order["model"])
    ax.set_xlabel("output-layer Dale index")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def dale_vs_accuracy(table: pd.DataFrame, stats: Mapping[str, Mapping[str, float]]) -> plt.Figure:
    """Scatter of output-layer Dale index vs top-1 accuracy with the correlation statistics.

    ``table`` has ``model``, ``trained`` (Dale index), ``top1`` and optionally ``dataset``;
    ``stats`` maps a method name (``spearman``, ``pearson``) to ``r``, ``ci_low``, ``ci_high``, ``p``.
    """
    fig, ax = plt.subplots(figsize=(6, 4.2))
    groups = table.groupby("dataset") if "dataset" in table else [("", table)]
    for dataset, group in groups:
        ax.scatter(group["trained"], group["top1"], label=dataset or None, zorder=3)
        for _, row in group.iterrows():
            ax.annotate(row["model"], (row["trained"], row["top1"]), fontsize=7,
                        xytext=(3, 2), textcoords="offset points")
    lines = [f"{name}: r = {s['r']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}], p = {s['p']:.2g}"
             for name, s in stats.items()]
    ax.text(0.02, 0.98, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=8)
    ax.set_xlabel("output-layer Dale index")
    ax.set_ylabel("top-1 accuracy (%)")
    if "dataset" in table and table["dataset"].nunique() > 1:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def dale_across_depth(tables: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Dale index of every layer vs relative depth, one line per model, with the
    random-sign expectation of each layer (which depends on its fan-out) as a dotted line."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    for name, table in tables.items():
        line, = axes[0].plot(table["relative_depth"], table["dale_index"], marker="o", ms=3,
                             label=name)
        axes[0].plot(table["relative_depth"], table["random_expectation"], ls=":",
                     color=line.get_color(), lw=0.8)
        axes[1].plot(table["relative_depth"], table["dale_index"] - table["random_expectation"],
                     marker="o", ms=3, color=line.get_color())
    axes[0].set_ylabel("layer Dale index (dotted: random expectation)")
    axes[1].set_ylabel("Dale index - random expectation")
    axes[1].axhline(0, color="k", lw=0.8)
    for ax in axes:
        ax.set_xlabel("relative depth (0 = first layer, 1 = output layer)")
    axes[0].legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    return fig


def dale_batchnorm_pairs(table: pd.DataFrame) -> plt.Figure:
    """Paired bars: output-layer and mean-over-layers Dale index without vs with batch norm.

    ``table`` has ``pair``, ``batch_norm`` (bool), ``output_dale`` and ``mean_dale``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    pairs = list(dict.fromkeys(table["pair"]))
    x = np.arange(len(pairs))
    for ax, column, title in zip(axes, ["output_dale", "mean_dale"],
                                 ["output layer", "mean over all layers"]):
        for offset, (bn, color) in zip((-0.2, 0.2), ((False, NEUTRAL), (True, POSITIVE))):
            sub = table[table["batch_norm"] == bn].set_index("pair").reindex(pairs)
            ax.bar(x + offset, sub[column], width=0.4, color=color,
                   label="with BN" if bn else "without BN")
        low = table[column].min()
        ax.set_ylim(low - 0.05 * abs(low), table[column].max() * 1.01)
        ax.set_xticks(x, pairs, fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("Dale index")
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def dale_over_epochs(table: pd.DataFrame, accuracy: pd.DataFrame | None = None) -> plt.Figure:
    """Dale index per layer across training epochs (``epoch``, ``layer``, ``dale_index``),
    with test accuracy (``epoch``, ``test_acc``) on a twin axis when given."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    layers = list(dict.fromkeys(table["layer"]))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(layers)))
    for color, layer in zip(colors, layers):
        sub = table[table["layer"] == layer]
        ax.plot(sub["epoch"], sub["dale_index"], color=color, marker="o", ms=3,
                lw=2.5 if layer == layers[-1] else 1,
                label=f"{layer} (output)" if layer == layers[-1] else layer)
    ax.set_xlabel("epoch (0 = initialisation)")
    ax.set_ylabel("layer Dale index")
    ax.legend(fontsize=7, frameon=False, ncol=2, loc="upper left")
    if accuracy is not None:
        twin = ax.twinx()
        twin.plot(accuracy["epoch"], accuracy["test_acc"], color="k", ls="--", lw=1)
        twin.set_ylabel("test accuracy (%, dashed)")
    fig.tight_layout()
    return fig


def convergence_vs_dale(table: pd.DataFrame) -> plt.Figure:
    """Fig. 25: per channel, convergence epoch vs Dale index, coloured by negative fraction."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    rng = np.random.default_rng(0)  # jitter only for display of integer epochs
    jitter = rng.uniform(-0.15, 0.15, len(table))
    points = ax.scatter(table["dale_index"], table["convergence_epoch"] + jitter,
                        c=table["frac_negative"], cmap="coolwarm", s=10, vmin=0, vmax=1)
    fig.colorbar(points, ax=ax, label="fraction of negative outgoing weights")
    ax.set_xlabel("Dale index of the channel")
    ax.set_ylabel("epoch reaching 90% of final cosine similarity\n(jittered for display)")
    fig.tight_layout()
    return fig



SIGN_COLORS = {"positive": POSITIVE, "negative": NEGATIVE, "ceiling": NEUTRAL,
               "excitatory": POSITIVE, "inhibitory": NEGATIVE}  # silenced cell populations (Section 6)


def preferred_images(
    frames: Mapping[tuple[str, float], np.ndarray], title: str = "", size: float = 2.0
) -> plt.Figure:
    """Grid of preferred images: one row per sign, one column per alpha (Fig. 2B-C).

    ``frames`` maps ``(sign, alpha)`` to an ``[H, W, 3]`` uint8 image; each is drawn ``size``
    inches wide (pixels enlarged without smoothing, so small images stay legible).
    """
    signs = list(dict.fromkeys(s for s, _ in frames))
    alphas = sorted({a for _, a in frames})
    fig, axes = plt.subplots(len(signs), len(alphas), squeeze=False,
                             figsize=(size * len(alphas), (size + 0.15) * len(signs) + 0.4))
    for i, sign in enumerate(signs):
        for j, alpha in enumerate(alphas):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if (sign, alpha) in frames:
                ax.imshow(frames[(sign, alpha)], interpolation="nearest")
            if i == 0:
                ax.set_title(f"α = {alpha:g}", fontsize=8)
            if j == 0:
                ax.set_ylabel(sign, fontsize=9, color=SIGN_COLORS.get(sign, "k"))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def condition_curves(
    summary: pd.DataFrame, ylabel: str, *, ax: plt.Axes | None = None, reference: float | None = None,
    reference_label: str = "",
) -> plt.Figure:
    """Mean with 95% CI band against alpha, one line per sign (Figs. 2D, 11, 13, 16-17).

    ``summary`` has ``sign``, ``alpha``, ``mean``, ``ci_low``, ``ci_high``.
    """
    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 3.6))
    ax = ax or fig.add_subplot()
    for sign, group in summary.groupby("sign", sort=False):
        group = group.sort_values("alpha")
        color = SIGN_COLORS.get(sign)
        ax.plot(group["alpha"], group["mean"], marker="o", ms=3, color=color, label=f"{sign} ablated")
        ax.fill_between(group["alpha"], group["ci_low"], group["ci_high"], color=color, alpha=0.2)
    if reference is not None:
        ax.axhline(reference, ls="--", color="k", lw=0.8, label=reference_label)
    ax.set_xlabel("ablation strength α")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def image_rows(rows: Mapping[str, "np.ndarray | object"], size: float = 1.1, columns: int = 12) -> plt.Figure:
    """Rows of images with a label each (reconstructions, samples): ``label -> [n, 3, H, W]``
    tensors in ``[0, 1]`` (or ``[n, H, W, 3]`` uint8 arrays); the first ``columns`` of each."""
    fig, axes = plt.subplots(len(rows), columns, squeeze=False,
                             figsize=(size * columns, (size + 0.05) * len(rows)))
    for i, (label, images) in enumerate(rows.items()):
        array = np.asarray(images)
        if array.ndim == 4 and array.shape[1] in (1, 3) and array.shape[-1] not in (1, 3):
            array = array.transpose(0, 2, 3, 1)
        for j in range(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(array):
                ax.imshow(np.clip(array[j], 0, 255 if array.dtype == np.uint8 else 1), interpolation="nearest")
        axes[i, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def accuracy_by_variant(accuracy: pd.DataFrame, chance: float) -> plt.Figure:
    """Accuracy under sign ablation on each background-challenge variant, one panel each.

    ``accuracy`` has ``variant``, ``sign``, ``alpha``, ``accuracy``, ``ci_low``, ``ci_high``
    (from :func:`signseg.analysis.accuracy_under_ablation`).
    """
    variants = list(dict.fromkeys(accuracy["variant"]))
    fig, axes = plt.subplots(1, len(variants), figsize=(3.2 * len(variants), 3.2), sharey=True,
                             squeeze=False)
    for ax, variant in zip(axes[0], variants):
        panel = accuracy[accuracy["variant"] == variant].rename(columns={"accuracy": "mean"})
        condition_curves(panel, "top-1 accuracy", ax=ax, reference=chance, reference_label="chance")
        ax.set_title(variant, fontsize=9)
    fig.tight_layout()
    return fig


def spectrum_ratios(table: pd.DataFrame) -> plt.Figure:
    """Control / ablated radial power vs spatial frequency, one panel per sign (Figs. 14-15)."""
    signs = list(dict.fromkeys(table["sign"]))
    fig, axes = plt.subplots(1, len(signs), figsize=(5 * len(signs), 3.6), sharey=True, squeeze=False)
    for ax, sign in zip(axes[0], signs):
        sub = table[table["sign"] == sign]
        alphas = sorted(sub["alpha"].unique())
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(alphas)))
        for color, alpha in zip(colors, alphas):
            line = sub[sub["alpha"] == alpha].sort_values("frequency")
            ax.plot(line["frequency"], line["ratio"], color=color, label=f"α = {alpha:g}")
            ax.fill_between(line["frequency"], line["ci_low"], line["ci_high"], color=color, alpha=0.15)
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("spatial frequency (cycles / pixel)")
        ax.set_title(f"{sign} ablated", fontsize=10, color=SIGN_COLORS.get(sign, "k"))
    axes[0, 0].set_ylabel("power ratio control / ablated")
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def regime_curves(per_unit: pd.DataFrame, networks: list[str], size: float = 4.2) -> plt.Figure:
    """Similarity to the control against alpha, one panel per network (Figs. 3, 18).

    ``per_unit`` is :func:`signseg.regimes.similarity_per_unit`'s table; each panel shows the
    mean over units with a 95% t interval per sign and the control-vs-control ceiling.
    """
    from .metrics.stats import summarize

    fig, axes = plt.subplots(1, len(networks), figsize=(size * len(networks), 3.4), sharey=True,
                             squeeze=False)
    for ax, network in zip(axes[0], networks):
        rows = per_unit[per_unit["network"] == network]
        ablated = rows[rows["sign"].isin(["positive", "negative"])]
        ceiling = float(rows.loc[rows["sign"] == "ceiling", "similarity"].mean())
        condition_curves(summarize(ablated, "similarity", by=["sign", "alpha"], nested="unit"),
                         "cosine similarity to control", ax=ax, reference=ceiling,
                         reference_label="control vs control")
        ax.set_title(network, fontsize=9)
    fig.tight_layout()
    return fig


def robustness_deltas(delta: pd.DataFrame, epsilon: Mapping[str, float]) -> plt.Figure:
    """Delta(cosine similarity) against the robustness radius, one line per alpha (Fig. 5).

    ``delta`` is :func:`signseg.regimes.delta_to_ceiling`'s table; ``epsilon`` maps each
    network to its L-inf radius. One panel per sign; mean over units with a 95% t interval.
    """
    from .metrics.stats import summarize

    table = delta[delta["alpha"] > 0].assign(epsilon=delta["network"].map(lambda n: float(epsilon[n])))
    summary = summarize(table, "delta", by=["sign", "alpha", "epsilon"], nested="unit")
    signs = [s for s in ("positive", "negative") if s in set(summary["sign"])]
    fig, axes = plt.subplots(1, len(signs), figsize=(5 * len(signs), 3.6), sharey=True, squeeze=False)
    alphas = sorted(summary["alpha"].unique())
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(alphas)))
    for ax, sign in zip(axes[0], signs):
        for color, alpha in zip(colors, alphas):
            line = summary[(summary["sign"] == sign) & (summary["alpha"] == alpha)].sort_values("epsilon")
            ax.errorbar(line["epsilon"], line["mean"], yerr=[line["mean"] - line["ci_low"],
                        line["ci_high"] - line["mean"]], color=color, marker="o", ms=3, capsize=2,
                        label=f"α = {alpha:g}")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xlabel("robustness radius ε (L∞, /255)")
        ax.set_title(f"{sign} ablated", fontsize=10, color=SIGN_COLORS.get(sign, "k"))
    axes[0, 0].set_ylabel("Δ(cosine similarity) to control")
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def preferred_by_unit(
    frames: Mapping[tuple[int, str, float], np.ndarray], units: list[int],
    labels: Mapping[int, str], title: str, size: float = 2.0,
) -> list[plt.Figure]:
    """One :func:`preferred_images` grid per unit from ``(unit, sign, alpha) -> image`` frames
    (as :func:`signseg.analysis.best_frames` returns them), titled ``"<title>, unit u (label)"``."""
    return [preferred_images({(s, a): image for (u, s, a), image in frames.items() if u == unit},
                             title=f"{title}, unit {unit} ({labels[unit]})", size=size)
            for unit in units]


def surround_colour(colour: pd.DataFrame, epsilon: Mapping[str, float], alpha: float) -> plt.Figure:
    """Brightness and saturation of the preferred images' surround against robustness (Fig. 4).

    ``colour`` is :func:`signseg.analysis.background_colour_by_condition`'s table with a
    ``network`` column; one line per condition (intact, each sign at ``alpha``), mean over
    units with 95% CI, against the networks' ``epsilon``.
    """
    from .metrics.stats import summarize

    table = colour.assign(epsilon=colour["network"].map(lambda n: float(epsilon[n])))
    intact = table[table["alpha"] == 0].assign(sign="intact")
    ablated = table[np.isclose(table["alpha"], alpha)]
    table = pd.concat([intact.drop_duplicates(subset=[c for c in intact.columns if c != "sign"]), ablated])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, value in zip(axes, ("brightness", "saturation")):
        summary = summarize(table, value, by=["sign", "epsilon"], nested="unit")
        for sign, line in summary.groupby("sign", sort=False):
            line = line.sort_values("epsilon")
            label = "intact" if sign == "intact" else f"{sign} ablated, α = {alpha:g}"
            ax.errorbar(line["epsilon"], line["mean"], yerr=[line["mean"] - line["ci_low"],
                        line["ci_high"] - line["mean"]], marker="o", ms=3, capsize=2,
                        color=SIGN_COLORS.get(sign, "k"), label=label)
        ax.set_xlabel("robustness radius ε (L∞, /255)")
        ax.set_ylabel(f"surround {value}")
    axes[-1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def curves_by_network(table: pd.DataFrame, value: str, ylabel: str, *, reference: float | None = None,
                      reference_label: str = "", columns: int = 4) -> plt.Figure:
    """One :func:`condition_curves` panel per network, from a table with ``network``, ``sign``,
    ``alpha``, ``value``, ``ci_low`` and ``ci_high`` (e.g. shape bias under ablation, Fig. 16)."""
    networks = list(dict.fromkeys(table["network"]))
    rows = -(-len(networks) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(networks)), squeeze=False, sharey=True,
                             figsize=(3.4 * min(columns, len(networks)), 3.0 * rows))
    for ax, network in zip(axes.flat, networks):
        panel = table[table["network"] == network].rename(columns={value: "mean"})
        condition_curves(panel, ylabel, ax=ax, reference=reference, reference_label=reference_label)
        ax.set_title(network, fontsize=8)
    for ax in list(axes.flat)[len(networks):]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def intact_vs_ablated(accuracy: pd.DataFrame, alpha: float, chance: float) -> plt.Figure:
    """Accuracy per variant and network, intact vs each sign ablated at ``alpha`` (Fig. 17).

    ``accuracy`` is :func:`signseg.analysis.accuracy_under_ablation`'s table with a
    ``network`` column; one panel per variant, bars with Wilson 95% CIs.
    """
    variants = list(dict.fromkeys(accuracy["variant"]))
    networks = list(dict.fromkeys(accuracy["network"]))
    conditions = [("intact", 0.0), *[(s, alpha) for s in ("positive", "negative")]]
    fig, axes = plt.subplots(1, len(variants), figsize=(2.6 * len(variants) + 1, 3.8), sharey=True,
                             squeeze=False)
    width = 0.8 / len(conditions)
    for ax, variant in zip(axes[0], variants):
        for k, (sign, a) in enumerate(conditions):
            rows = accuracy[(accuracy["variant"] == variant) & np.isclose(accuracy["alpha"], a)]
            rows = rows if sign == "intact" else rows[rows["sign"] == sign]
            rows = rows.drop_duplicates("network").set_index("network").reindex(networks)
            x = np.arange(len(networks)) + (k - 1) * width
            ax.bar(x, rows["accuracy"], width, color=SIGN_COLORS.get(sign, NEUTRAL),
                   yerr=[rows["accuracy"] - rows["ci_low"], rows["ci_high"] - rows["accuracy"]],
                   capsize=1.5, label="intact" if sign == "intact" else f"{sign} ablated, α = {alpha:g}")
        ax.axhline(chance, ls="--", color="k", lw=0.8)
        ax.set_xticks(np.arange(len(networks)))
        ax.set_xticklabels(networks, rotation=90, fontsize=6)
        ax.set_title(variant, fontsize=9)
    axes[0, 0].set_ylabel("top-1 accuracy")
    axes[0, -1].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def channel_grid(rows: Mapping[str, tuple[np.ndarray, list[int]]], size: float = 1.2,
                 title: str = "") -> plt.Figure:
    """Fig. 19: for each layer and list, its channels' preferred images side by side.

    ``rows`` maps a row label (``"conv4 → conv5 · positive"``) to ``(images, channels)``:
    uint8 ``[k, H, W, 3]`` images and the channel index under each (as the paper lists them).
    A row label ending in ``positive`` / ``negative`` is coloured by its sign.
    """
    columns = max(len(images) for images, _ in rows.values())
    fig, axes = plt.subplots(len(rows), columns, squeeze=False,
                             figsize=(size * columns + 1.2, (size + 0.25) * len(rows) + 0.3))
    for i, (label, (images, channels)) in enumerate(rows.items()):
        for j in range(columns):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(images):
                ax.imshow(images[j], interpolation="nearest")
                ax.set_xlabel(str(channels[j]), fontsize=7, labelpad=1)
            else:
                ax.axis("off")
        sign = label.rsplit(" ", 1)[-1]
        axes[i, 0].set_ylabel(label.replace(" · ", "\n"), fontsize=8, rotation=0, ha="right",
                              va="center", color=SIGN_COLORS.get(sign, "k"))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sign_contrasts(table: pd.DataFrame, labels: Mapping[str, str] | None = None,
                   size: float = 3.0) -> plt.Figure:
    """Positive minus negative channels per layer (in depth order), one panel per measure,
    with 95% CIs; a star marks p < 0.05 (permutation test); the title gives the paper's
    predicted direction.

    ``table`` is :func:`signseg.channel_analysis.sign_contrasts`' output.
    """
    measures = list(dict.fromkeys(table["measure"]))
    fig, axes = plt.subplots(1, len(measures), squeeze=False, figsize=(size * len(measures), 2.9))
    for ax, measure in zip(axes[0], measures):
        rows = table[table["measure"] == measure].reset_index(drop=True)
        x = np.arange(len(rows))
        ax.axhline(0, color="k", lw=0.6)
        ax.errorbar(x, rows["difference"], yerr=[rows["difference"] - rows["ci_low"],
                                                 rows["ci_high"] - rows["difference"]],
                    fmt="o", color=NEUTRAL, ecolor=NEUTRAL, capsize=3, ms=4)
        for xi, (difference, p) in enumerate(zip(rows["difference"], rows["p"])):
            if p < 0.05:
                ax.annotate("*", (xi, difference), xytext=(5, 2), textcoords="offset points")
        names = [labels.get(layer, layer) if labels else layer for layer in rows["layer"]]
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
        predicted = rows["predicted"].iloc[0] if "predicted" in rows else ""
        ax.set_title(f"{measure}\n(paper: positive {predicted})", fontsize=9)
        ax.set_ylabel("positive − negative", fontsize=8)
    fig.tight_layout()
    return fig
