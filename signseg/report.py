"""Sentences the book states from measured numbers, never from expectations.

Each function takes the tables the analyses return and writes the Markdown sentence that
reports them, beside the paper's claim. The wording is decided by the confidence intervals
(an effect is "established" only when its interval excludes zero, "opposite" when it
excludes zero on the other side), so a build whose numbers differ from the paper's says so.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

__all__ = [
    "interval",
    "verdict",
    "dale_change",
    "accuracy_correlation",
    "depth_trend",
    "batchnorm",
    "convergence",
    "sign_similarity",
    "object_share",
    "occlusion",
    "naturalness",
    "segregation_gaps",
    "robustness_trend",
    "lateral_accuracy",
    "path_separation",
    "ei_selectivity",
    "population_similarity",
    "population_share",
]


def interval(value: float, low: float, high: float, digits: int = 3, signed: bool = False) -> str:
    """``"0.123 [0.100, 0.150]"`` (with ``+`` signs when ``signed``)."""
    form = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    return f"{form.format(value)} [{form.format(low)}, {form.format(high)}]"


def verdict(low: float, high: float, as_paper: str, opposite: str, unclear: str) -> str:
    """``as_paper`` if the interval ``[low, high]`` lies above 0, ``opposite`` if below, else ``unclear``."""
    if low > 0:
        return as_paper
    if high < 0:
        return opposite
    return unclear


def dale_change(readout: pd.DataFrame, paper: pd.DataFrame) -> str:
    """How the output-layer index changed with training, beside the paper's Table 3."""
    rose = int((readout["delta"] > 0).sum())
    gap = (readout["untrained"] - readout["random_expectation"]).abs().max()
    outputs = ", ".join(str(n) for n in sorted(readout["n_outgoing"].unique()))
    return (
        f"In this build the output-layer Dale index **rose with training in {rose} of {len(readout)} "
        f"models** (mean change {readout['delta'].mean():+.4f}, range {readout['delta'].min():+.4f} "
        f"to {readout['delta'].max():+.4f}; {outputs} outputs). The untrained values lie within "
        f"{gap:.4f} of the analytic expectation for random signs. The paper's ImageNet models "
        f"(Table 3, 1000 outputs) rose by {paper['delta'].min():+.4f} to {paper['delta'].max():+.4f} "
        "from about 0.5126."
    )


def accuracy_correlation(correlations: pd.DataFrame, dataset: str) -> str:
    """The Dale index vs top-1 correlation of one data set, with its CIs."""
    rows = correlations[correlations["dataset"] == dataset].set_index("method")
    if rows.empty:
        return f"Too few {dataset} models for a correlation."
    spearman, pearson = rows.loc["spearman"], rows.loc["pearson"]
    sentence = (
        f"Across the {int(spearman['n'])} {dataset} models, Spearman rho = "
        f"{interval(spearman['r'], spearman['ci_low'], spearman['ci_high'], 2)} (p = {spearman['p']:.2g}) "
        f"and Pearson r = {interval(pearson['r'], pearson['ci_low'], pearson['ci_high'], 2)} "
        "(bootstrap 95% CIs over models). "
    )
    return sentence + verdict(
        spearman["ci_low"], spearman["ci_high"],
        "As in the paper, more accurate models have more sign-consistent output layers, and the "
        "interval excludes zero.",
        "Unlike the paper, more accurate models have *less* sign-consistent output layers here.",
        "The paper's positive correlation is not established with this many models: the interval "
        "includes zero.",
    )


def depth_trend(trends: pd.DataFrame) -> str:
    """The output-layer index against depth within each family (Table 3's depth claim)."""
    if trends.empty:
        return "No family has models of two depths in this profile."
    parts = []
    for _, row in trends.iterrows():
        bn = " with BN" if row["batch_norm"] else ""
        steps = ", ".join(f"{d}: {v:.4f}" for d, v in zip(row["depths"], row["values"]))
        trend = "rises" if row["rho"] > 0 else "falls" if row["rho"] < 0 else "is flat"
        p = "" if pd.isna(row["p"]) else f", Spearman rho {row['rho']:+.2f}, p = {row['p']:.2g}"
        parts.append(f"{row['family']}{bn} ({steps}) {trend} with depth{p}")
    return ("Output-layer index by depth: " + "; ".join(parts) + ". In the paper (Table 3) it rises "
            "from ResNet-18 (0.5905) to ResNet-50/152 (0.6004/0.6007) and from VGG-11 (0.5570) to "
            "VGG-19 (0.5619).")


def batchnorm(table: pd.DataFrame) -> str:
    """Whether batch normalisation raised the output-layer index in every pair."""
    pairs = table.pivot_table(index="pair", columns="batch_norm", values="output_dale")
    raised = int((pairs[True] > pairs[False]).sum())
    steps = "; ".join(f"{pair}: {row[False]:.4f} -> {row[True]:.4f}" for pair, row in pairs.iterrows())
    return (f"Batch normalisation raised the output-layer index in {raised} of {len(pairs)} pairs "
            f"({steps}); in the paper it raises it in all four VGG pairs (by 0.013 to 0.017).")


def convergence(rho: Mapping[str, float], spread: pd.DataFrame) -> str:
    """Fig. 25: convergence epoch vs Dale index, and the spread of the two halves."""
    std = spread.set_index("group")["std"]
    return (
        f"The paper saw no correlation between convergence epoch and Dale index (-0.03) but a "
        f"narrower spread for high-index channels. Here Spearman rho = "
        f"{interval(rho['r'], rho['ci_low'], rho['ci_high'], 2)} over {int(rho['n'])} channels, and "
        f"the standard deviation of convergence epochs is {std['high']:.2f} above the median Dale "
        f"index vs {std['low']:.2f} below it: "
        + ("narrower, as in the paper." if std["high"] < std["low"] else "not narrower, unlike the paper.")
    )


def sign_similarity(paired: Mapping[str, float], ceiling: float, alpha: float, what: str = "units") -> str:
    """Similarity to the control after positive vs negative ablation at ``alpha``."""
    return (
        f"At α = {alpha:g} the similarity to the control is {paired['positive']:.3f} after positive "
        f"and {paired['negative']:.3f} after negative ablation (control-vs-control ceiling "
        f"{ceiling:.3f}); paired over {int(paired['n'])} {what}, negative minus positive is "
        f"{interval(paired['difference'], paired['ci_low'], paired['ci_high'], 3, signed=True)} "
        "(95% CI). "
        + verdict(
            paired["ci_low"], paired["ci_high"],
            "As in the paper, removing positive weights changes the preferred images more, and the "
            "interval excludes zero.",
            "Here the opposite holds: negative ablation changes the preferred images more.",
            "The paper's effect (positive ablation changes the images more) is not established by "
            "this run: the interval includes zero.",
        )
    )


def object_share(shares: pd.DataFrame, chance: float, alpha: float) -> str:
    """The object's share of the remaining evidence after positive vs negative ablation."""

    def at(sign: str, column: str = "mean") -> float:
        rows = shares[(shares["sign"] == sign) & (shares["alpha"] == alpha)]
        return float(rows[column].iloc[0])

    intact = float(shares[shares["alpha"] == 0]["mean"].iloc[0])
    positive = interval(at("positive"), at("positive", "ci_low"), at("positive", "ci_high"))
    negative = interval(at("negative"), at("negative", "ci_low"), at("negative", "ci_high"))
    sentence = (
        f"With α = {alpha:g}, the object's share of the remaining evidence is {positive} after "
        f"positive and {negative} after negative ablation (intact {intact:.3f}; the objects cover "
        f"{chance:.3f} of the images). "
    )
    if at("positive", "ci_high") < at("negative", "ci_low"):
        return sentence + ("Removing the positive weights takes evidence off the object, as the paper "
                           "proposes, and the intervals do not overlap.")
    if at("negative", "ci_high") < at("positive", "ci_low"):
        return sentence + ("The opposite of the paper's proposal, with intervals that do not overlap: "
                           "removing the negative weights takes more of the evidence off the object.")
    return sentence + ("The intervals overlap: positive weights do not carry more of the object "
                       "evidence than negative ones in this model.")


def occlusion(effects: pd.DataFrame, alpha: float) -> str:
    """How much the true-class logit depends on the object vs the background, per sign."""
    rows = effects.set_index(["sign", "alpha"])

    def value(sign: str, a: float, column: str) -> float:
        return float(rows.loc[(sign or str(effects["sign"].iloc[0]), a), column])

    parts = []
    for sign in ("positive", "negative"):
        parts.append(
            f"after {sign} ablation occluding the object costs "
            f"{interval(value(sign, alpha, 'object_drop'), value(sign, alpha, 'object_low'), value(sign, alpha, 'object_high'), 2)} "
            f"and occluding the background "
            f"{interval(value(sign, alpha, 'background_drop'), value(sign, alpha, 'background_low'), value(sign, alpha, 'background_high'), 2)}"
        )
    return (
        f"Intact, occluding the object lowers the true-class logit by {value('', 0.0, 'object_drop'):.2f} "
        f"and occluding the background by {value('', 0.0, 'background_drop'):.2f}; at α = {alpha:g}, "
        + "; ".join(parts) + " (logit units, 95% CIs over images)."
    )


def naturalness(table: pd.DataFrame, floor: str = "real (held out)") -> str:
    """Which generator's samples are closest to natural images, by slope, FD and KID.

    ``table`` is :func:`signseg.metrics.naturalness_table`'s (one row per embedder and set).
    The slope is the same in every embedder; the distances are reported per embedder, and a
    generator is called closest by a distance only if it is closest in every embedder.
    """
    generators = [name for name in dict.fromkeys(table["set"]) if name not in ("reference", floor)]
    if not generators:
        return "No generator to compare."
    slopes = table.drop_duplicates("set").set_index("set")
    reference = slopes.loc["reference", "slope"]
    flattest = min(generators, key=lambda name: slopes.loc[name, "slope_gap"])
    sentence = (f"Real images have a spectral slope of {reference:.2f} ("
                + ", ".join(f"{name} {slopes.loc[name, 'slope']:.2f}" for name in generators)
                + f"; closest: {flattest}). ")
    embedders = list(dict.fromkeys(table["embedder"]))
    parts = []
    winners: dict[str, list[str]] = {"frechet": [], "kid": []}
    for embedder in embedders:
        rows = table[table["embedder"] == embedder].set_index("set")
        for metric in winners:
            winners[metric].append(min(generators, key=lambda name: rows.loc[name, metric]))
        values = ", ".join(f"{name} {rows.loc[name, 'frechet']:.1f} / {rows.loc[name, 'kid']:.3g} "
                           f"± {rows.loc[name, 'kid_std']:.2g}"
                           for name in [*generators, floor] if name in rows.index)
        parts.append(f"{embedder}: {values}")
    sentence += ("Fréchet distance / KID ± its standard deviation over subsets, to real images, in "
                 "the penultimate features of "
                 + "; ".join(parts) + f" ({floor}: the finite-sample floor). ")
    verdicts = []
    for metric, label in (("frechet", "the Fréchet distance"), ("kid", "KID")):
        closest = winners[metric]
        if len(set(closest)) == 1:
            verdicts.append(f"by {label} {closest[0]}'s samples are the closest in "
                            f"{'every one' if len(embedders) > 1 else 'this network'}")
        else:
            counts = ", ".join(f"{name} in {closest.count(name)}" for name in generators
                               if closest.count(name))
            verdicts.append(f"by {label} the closest generator depends on the network ({counts} "
                            f"of {len(embedders)})")
    joined = "; ".join(verdicts)
    return sentence + joined[0].upper() + joined[1:] + "."


def segregation_gaps(gaps: pd.DataFrame, contrasts: Mapping[str, Mapping[str, float]]) -> str:
    """Each network's segregation gap, and the paired contrasts between networks.

    ``gaps`` is :func:`signseg.regimes.segregation_gap`'s table; ``contrasts`` maps a label
    such as ``"ReLU - Tanh"`` to :func:`signseg.regimes.gap_difference`'s result.
    """
    parts = [f"{row['network']} {interval(row['gap'], row['ci_low'], row['ci_high'], 3, signed=True)}"
             for _, row in gaps.iterrows()]
    sentence = ("Segregation gap (similarity after negative minus after positive ablation, mean "
                "over α > 0; 95% CI over units): " + "; ".join(parts) + ". ")
    for label, result in contrasts.items():
        sentence += (f"{label}: {interval(result['difference'], result['ci_low'], result['ci_high'], 3, signed=True)} "
                     f"over {int(result['n'])} paired units, ")
        sentence += verdict(result["ci_low"], result["ci_high"], "the first segregates more, and the "
                            "interval excludes zero. ", "the second segregates more, and the interval "
                            "excludes zero. ", "the interval includes zero. ")
    return sentence.strip()


def robustness_trend(table: pd.DataFrame, alpha: float) -> str:
    """Table 1 at one ``alpha``: does the change under ablation grow with robustness?"""
    row = table.set_index("alpha").loc[alpha]
    parts = []
    for sign in ("positive", "negative"):
        rho = interval(row[f"{sign}_rho"], row[f"{sign}_ci_low"], row[f"{sign}_ci_high"], 2)
        parts.append(f"{sign} ablation rho = {rho} (p = {row[f'{sign}_p']:.2g})")
    sentence = (f"At α = {alpha:g}, Spearman's rho between Δ(cosine similarity) and the robustness "
                f"radius over {int(row['n'])} (network, unit) pairs: " + "; ".join(parts)
                + " (bootstrap 95% CIs). The paper finds rho from -0.47 to -0.62 at α = 1 "
                "(more robust networks change more). ")
    below = [s for s in ("positive", "negative") if row[f"{s}_ci_high"] < 0]
    above = [s for s in ("positive", "negative") if row[f"{s}_ci_low"] > 0]
    if below:
        return sentence + (f"Here too the change grows with robustness for {' and '.join(below)} "
                           "ablation, and the interval excludes zero.")
    if above:
        return sentence + (f"Here the opposite holds for {' and '.join(above)} ablation: more robust "
                           "networks change *less*.")
    return sentence + "Here no trend is established: both intervals include zero."


# --------------------------------------------------------------------------- Section 6 (E/I networks)


def lateral_accuracy(table: pd.DataFrame, baseline: str = "F-CNN") -> str:
    """Table 1: how the LC-CNNs compare with the F-CNN on each data set (means over seeds)."""
    parts = []
    for dataset, group in table.groupby("dataset", sort=False):
        rows = group.set_index("network")
        if baseline not in rows.index:
            continue
        loops = [n for n in rows.index if n.startswith("LC-CNN")]
        better = [n for n in loops if rows.loc[n, "mean"] > rows.loc[baseline, "mean"]]
        values = ", ".join(f"{n.split(': ')[-1]} {rows.loc[n, 'mean']:.1f}" for n in loops)
        rising = all(np.diff([rows.loc[n, "mean"] for n in loops]) > 0) if len(loops) > 1 else False
        parts.append(f"{dataset}: F-CNN {rows.loc[baseline, 'mean']:.1f}%, {values} "
                     f"({len(better)} of {len(loops)} above the baseline"
                     + ("; accuracy rises with every added loop" if rising else "") + ")")
    return ("Mean test accuracy over seeds — " + "; ".join(parts) + ". The paper finds every LC-CNN "
            "above the F-CNN on all four data sets, rising with the loops on three.")


def path_separation(stats: pd.DataFrame) -> str:
    """Whether each penalty drove its E path positive and its I path negative.

    ``stats`` has ``network``, ``mean_excitatory``, ``mean_inhibitory`` (mean weights over
    seeds, after relabelling) and ``swapped`` (runs whose labels were exchanged).
    """
    parts = []
    for _, row in stats.iterrows():
        apart = row["mean_excitatory"] > 0 > row["mean_inhibitory"]
        parts.append(f"{row['network']}: mean W_E {row['mean_excitatory']:+.4f}, W_I "
                     f"{row['mean_inhibitory']:+.4f}" + (" (separated)" if apart else " (not separated)")
                     + (f", {int(row['swapped'])} run(s) relabelled" if row["swapped"] else ""))
    return "; ".join(parts) + "."


def ei_selectivity(differences: pd.DataFrame) -> str:
    """Their Figs. 4 and 7 in words: is the principal cells' image skewness higher than the
    interneurons', and are connections onto principal cells from interneurons denser than
    among principal cells? (95% CIs over networks.)"""
    sentences = []
    for measure, what, claim in (
            ("skewness_difference", "image skewness PN - Int", "principal cells more selective"),
            ("density_difference", "density Int->PN - PN->PN", "connections among principal cells sparser")):
        rows = differences[differences["measure"] == measure]
        parts = [f"{row['network']} {row['area']} "
                 f"{interval(row['mean'], row['ci_low'], row['ci_high'], 2, signed=True)}"
                 for _, row in rows.iterrows()]
        held = [f"{r['network']} {r['area']}" for _, r in rows.iterrows() if r["ci_low"] > 0]
        sentences.append(f"{what}: " + "; ".join(parts) + ". "
                         + (f"{claim.capitalize()} (interval above zero) in: {', '.join(held)}."
                            if held else f"No network shows {claim} with an interval above zero."))
    return " ".join(sentences)


def population_similarity(paired: Mapping[str, float], ceiling: float, alpha: float) -> str:
    """Similarity to the control after silencing E-cell vs I-cell inputs at ``alpha``.

    ``paired`` is :func:`signseg.analysis.compare_signs`'s result with the excitatory
    population in the ``positive`` slot and the inhibitory one in the ``negative`` slot (in a
    Dale's-law network they are the positive and the negative weights)."""
    return (
        f"At α = {alpha:g} the similarity to the intact unit's preferred images is "
        f"{paired['positive']:.3f} with the principal cells' excitatory inputs silenced and "
        f"{paired['negative']:.3f} with their inhibitory inputs silenced (ceiling {ceiling:.3f}); "
        f"inhibitory minus excitatory "
        f"{interval(paired['difference'], paired['ci_low'], paired['ci_high'], 3, signed=True)} "
        f"over {int(paired['n'])} (network, unit) pairs. "
        + verdict(paired["ci_low"], paired["ci_high"],
                  "Silencing the excitatory inputs changes the preferred images more, as removing "
                  "positive weights does in the paper; the interval excludes zero.",
                  "Silencing the inhibitory inputs changes the preferred images more; the interval "
                  "excludes zero.",
                  "The interval includes zero: no difference between the populations is established.")
    )


def population_share(shares: pd.DataFrame, chance: float, alpha: float) -> str:
    """The object's share of the evidence with the principal cells' excitatory vs inhibitory
    inputs silenced at ``alpha`` (rows ``sign`` = ``"excitatory"`` / ``"inhibitory"``)."""
    rows = shares.set_index(["sign", "alpha"])
    intact = float(shares.loc[shares["alpha"] == 0, "mean"].iloc[0])
    dead = [p for p in ("excitatory", "inhibitory") if rows.loc[(p, alpha), "n"] == 0]
    if dead:
        return (f"With α = {alpha:g} of the principal cells' {' and '.join(dead)} input silenced the "
                "true class's logit no longer depends on the image (no attribution left), so the "
                f"object's share is undefined there (intact {intact:.3f}).")
    text = {p: interval(rows.loc[(p, alpha), "mean"], rows.loc[(p, alpha), "ci_low"],
                        rows.loc[(p, alpha), "ci_high"]) for p in ("excitatory", "inhibitory")}
    sentence = (f"With α = {alpha:g} of the principal cells' input silenced, the object's share of "
                f"the evidence is {text['excitatory']} without their excitatory and "
                f"{text['inhibitory']} without their inhibitory inputs (intact {intact:.3f}; objects "
                f"cover {chance:.3f} of the images). ")
    if rows.loc[("excitatory", alpha), "ci_high"] < rows.loc[("inhibitory", alpha), "ci_low"]:
        return sentence + ("Silencing the excitatory inputs takes evidence off the object — what "
                           "removing positive weights does in the paper's proposal.")
    if rows.loc[("inhibitory", alpha), "ci_high"] < rows.loc[("excitatory", alpha), "ci_low"]:
        return sentence + ("Silencing the inhibitory inputs takes more evidence off the object: the "
                           "opposite of the paper's proposal carried over to cell types.")
    return sentence + "The intervals overlap: neither population carries more of the object evidence."
