"""Plots for module 07 (isolating components). Each takes plain data and returns the Axes it drew on.

Like aipmlab.plots, each one says what it is waiting for, instead of failing, while an exercise's answer is
still `...`.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aipmlab.plots import rendered_once, waiting_for

GENERATOR_COLOURS = {"old": "#9db7d5", "new": "#1f4e79"}
EFFECT_LABELS = {"candidate_generator": "candidate generator\n(main effect)", "ranker": "ranker\n(main effect)",
                 "interaction": "interaction", "launch": "whole launch\n(new + new vs old + old)"}


@rendered_once
def attribution_2x2(experiment: pd.DataFrame, factorial_effects: Any) -> np.ndarray | None:
    """Left: the four cell means as an interaction plot. Right: each effect with its 95% interval."""
    if waiting_for(factorial_effects, "factorial_effects"):
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    cells = experiment.groupby(["candidate_generator", "ranker"])["clicks"].agg(["mean", "sem"])
    for generator in ("old", "new"):
        means = [cells.at[(generator, ranker), "mean"] for ranker in ("old", "new")]
        errors = [1.96 * cells.at[(generator, ranker), "sem"] for ranker in ("old", "new")]
        left.errorbar([0, 1], means, yerr=errors, marker="o", capsize=4, linewidth=2,
                      color=GENERATOR_COLOURS[generator], label=f"{generator} candidate generator")
    left.set_xticks([0, 1], ["old ranker", "new ranker"])
    left.set_xlim(-0.3, 1.3)
    left.set_ylabel("clicks per user-week (mean, 95% interval)")
    left.legend(loc="upper left", frameon=False)
    left.set_title("Cell means: parallel lines would mean no interaction")
    table = factorial_effects.loc[list(EFFECT_LABELS)].astype(float)
    rows = np.arange(len(table))[::-1]
    colours = ["#1f4e79", "#1f4e79", "#c0392b", "#555555"]
    right.errorbar(table["estimate"], rows, xerr=[table["estimate"] - table["ci_low"],
                                                  table["ci_high"] - table["estimate"]],
                   fmt="none", ecolor="#999999", elinewidth=3, capsize=0)
    right.scatter(table["estimate"], rows, color=colours, zorder=3, s=50)
    right.axvline(0, color="#333333", linewidth=1)
    right.set_yticks(rows, [EFFECT_LABELS[effect] for effect in table.index])
    right.set_xlabel("clicks per user-week, with 95% interval")
    right.set_title("What the 2×2 attributes")
    fig.tight_layout()
    return np.array([left, right])


@rendered_once
def loop_concentration(feedback_concentration: Any, ax: plt.Axes | None = None) -> plt.Axes | None:
    """Catalogue coverage and Gini of impressions, round by round, as the system retrains on its own clicks."""
    if waiting_for(feedback_concentration, "feedback_concentration"):
        return None
    table = feedback_concentration.astype(float)
    ax = ax or plt.subplots(figsize=(7.5, 3.6))[1]
    ax.plot(table.index, table["coverage"], marker="o", color="#1f4e79", label="coverage: share of the catalogue shown")
    ax.plot(table.index, table["gini"], marker="s", color="#c0392b", label="concentration: Gini of impressions")
    ax.set_ylim(0, 1)
    ax.set_xticks(table.index)
    ax.set_xlabel("retraining round")
    ax.set_ylabel("share (coverage) or Gini (0 even, 1 one video)")
    ax.legend(loc="lower left", frameon=False)
    ax.set_title("A system that retrains on its own clicks narrows what users see")
    return ax
