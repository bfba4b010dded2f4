"""Plots and displays for module 03 (data collection plan). Each takes plain data and returns what it drew.

Like aipmlab.plots, each one says what it is waiting for, instead of failing, while an exercise's answer is
still `...`.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from aipmlab.plots import rendered_once, waiting_for


@rendered_once
def kappa_heatmap(pairwise_kappa: Any, ax: plt.Axes | None = None) -> plt.Axes | None:
    """Cohen's kappa of every pair of raters, with each rater's mean kappa against the others in the labels."""
    if waiting_for(pairwise_kappa, "pairwise_kappa"):
        return None
    table = pairwise_kappa.astype(float)
    mean_kappa = (table.sum() - 1) / (len(table) - 1)
    names = [f"{rater}\n(mean {mean_kappa[rater]:.2f})" for rater in table.index]
    ax = ax or plt.subplots(figsize=(6, 5))[1]
    masked = table.where(~np.eye(len(table), dtype=bool))
    sns.heatmap(masked, annot=True, fmt=".2f", cmap="RdYlGn", vmin=0, vmax=1, square=True,
                xticklabels=list(table.columns), yticklabels=names, cbar_kws={"label": "Cohen's kappa"}, ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title("Pairwise Cohen's kappa: does one rater stand apart?")
    return ax


@rendered_once
def paradox_chart(kappa_paradox: Any, ax: plt.Axes | None = None) -> plt.Axes | None:
    """For each label's yes/no view: raw agreement next to kappa, labels sorted from common to rare."""
    if waiting_for(kappa_paradox, "kappa_paradox"):
        return None
    table = kappa_paradox.sort_values("prevalence", ascending=False)
    ax = ax or plt.subplots(figsize=(7.5, 3.8))[1]
    rows = np.arange(len(table))
    ax.bar(rows - 0.2, table["percent_agreement"], width=0.4, color="#9db7d5", label="raw agreement")
    ax.bar(rows + 0.2, table["kappa"], width=0.4, color="#1f4e79", label="kappa")
    ax.set_xticks(rows, [f"{label}\n{share:.0%} of ratings" for label, share in table["prevalence"].items()])
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}" if y else "0"))
    ax.legend(loc="upper left", ncols=2)
    ax.set_title("Each label as a yes/no question: raw agreement climbs as labels get rarer; kappa does not")
    return ax


@rendered_once
def confusion_heatmap(diagnosis: Any, cost: Any = None) -> np.ndarray | None:
    """The kept raters' disagreements (diagonal blanked): counted, and, given a cost function, weighed by harm."""
    if waiting_for(diagnosis, "diagnosis"):
        return None
    confusion = diagnosis["confusion"].astype(float)
    off_diagonal = confusion.where(~np.eye(len(confusion), dtype=bool))
    panels = [("How often: rating pairs", off_diagonal, "Reds")]
    if cost is not None:
        harm = off_diagonal * np.array([[cost(a, b) for b in confusion.columns] for a in confusion.index])
        panels.append(("What it costs users: pairs x cost", harm, "Purples"))
    axes = np.atleast_1d(plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 5))[1])
    for ax, (title, table, cmap) in zip(axes, panels):
        sns.heatmap(table, annot=True, fmt=".0f", cmap=cmap, square=True, cbar=False, ax=ax)
        ax.set_xlabel("label given by the other rater")
        ax.set_ylabel("label given by one rater")
        ax.set_title(title)
    axes[0].figure.suptitle("Where the kept raters disagree (agreements left blank)")
    axes[0].figure.tight_layout()
    return axes


def disputed_items(items: pd.DataFrame, labels: pd.DataFrame, diagnosis: Any, rows: int = 10) -> None:
    """Print comments on which the kept raters used both labels of the confused pair, with the votes they got."""
    if waiting_for(diagnosis, "diagnosis"):
        return None
    kept = labels.drop(columns=list(diagnosis["excluded_raters"]))
    first, second = diagnosis["confused_pair"]
    split = kept[(kept == first).any(axis=1) & (kept == second).any(axis=1)]
    print(f"{len(split)} of {len(kept)} comments got both {first!r} and {second!r} from the kept raters. "
          f"The first {min(rows, len(split))}:\n")
    text = items.set_index("item_id")
    for item_id, votes in split.head(rows).iterrows():
        tally = ", ".join(f"{label} x{count}" for label, count in votes.value_counts().items())
        print(f"{item_id} [{text.at[item_id, 'surface']}] {text.at[item_id, 'text']!r}\n      votes: {tally}")
    return None


@rendered_once
def agreement_against_targets(go_no_go: Any, tentative: float, target: float,
                              ax: plt.Axes | None = None) -> plt.Axes | None:
    """Alpha for all raters, for the kept raters (with its interval) and for the what-if (with its lower end)."""
    if waiting_for(go_no_go, "go_no_go"):
        return None
    ax = ax or plt.subplots(figsize=(7.5, 3))[1]
    rows = {
        "all five raters": (go_no_go["alpha_all_raters"], None),
        "raters kept by the rule, 95% interval": (go_no_go["alpha"], (go_no_go["ci_low"], go_no_go["ci_high"])),
        "what if the pair were resolved": (go_no_go["alpha_if_pair_resolved"],
                                           (go_no_go["resolved_ci_low"], go_no_go["alpha_if_pair_resolved"])),
    }
    for position, (name, (value, interval)) in enumerate(rows.items()):
        if interval:
            ax.plot(interval, [position, position], color="#9db7d5", linewidth=6, solid_capstyle="butt")
        ax.plot(value, position, "o", color="#1f4e79")
    ax.axvline(tentative, color="#e67e22", linestyle=":", label=f"{tentative:.3f}: tentative conclusions at best")
    ax.axvline(target, color="#c0392b", linestyle="--", label=f"{target:.3f}: the team's target")
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(min(0.3, go_no_go["alpha_all_raters"] - 0.05), 1.0)
    ax.set_xlabel("Krippendorff's alpha")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Agreement against thresholds set before the pilot")
    return ax


def plan_summary(collection_plan: Any) -> pd.DataFrame | None:
    """The plan's surfaces as a table, with its budget printed underneath."""
    if waiting_for(collection_plan, "collection_plan"):
        return None
    budget = collection_plan["budget"]
    print(f"{budget['items']:,} items, {budget['labels']:,} labels, {budget['adjudicated_items']:,} adjudicated: "
          f"${budget['labelling_cost']:,.2f} + ${budget['adjudication_cost']:,.2f} = ${budget['total']:,.2f}")
    return pd.DataFrame.from_dict(collection_plan["slices"], orient="index").rename_axis("surface")
