"""Plots for module 06 (contaminated A/B tests). Each takes plain data and returns what it drew.

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

DESIGN_COLOURS = {"pooled": "#c0392b", "data_diverted": "#1f4e79", "cluster": "#7f8c8d"}


@rendered_once
def split_residuals(assignments: pd.DataFrame, srm_check: Any) -> plt.Axes | None:
    """For the experiment the SRM check refused: each arm and platform, observed minus expected users, in standard units."""
    if waiting_for(srm_check, "srm_check"):
        return None
    refused = [name for name, read in srm_check["read"].items() if not bool(read)]
    if not refused:
        print("Your SRM check reads every experiment, so there is no broken split to show.")
        return None
    cells = assignments[assignments["experiment"] == refused[0]].copy()
    totals = cells.groupby("platform")["users"].transform("sum")
    shares = cells.groupby("platform")["planned_share"].transform("sum")
    expected = totals * cells["planned_share"] / shares
    cells["residual"] = (cells["users"] - expected) / np.sqrt(expected)
    table = cells.pivot(index="arm", columns="platform", values="residual")
    ax = plt.subplots(figsize=(6, 0.6 * len(table) + 1.6))[1]
    limit = max(4.0, float(np.abs(table.to_numpy()).max()))
    sns.heatmap(table, annot=True, fmt=".1f", cmap="RdBu", center=0, vmin=-limit, vmax=limit, ax=ax,
                cbar_kws={"label": "(observed - expected) / sqrt(expected)"})
    ax.set_title(f"{refused[0]}: users off the planned split\n(|value| above 3 is rare by chance alone)")
    ax.set_xlabel("")
    ax.set_ylabel("")
    return ax


@rendered_once
def estimates_by_design(replays: pd.DataFrame, tolerance: float) -> plt.Axes:
    """Each design's replayed estimates against the true effect, with the band inside which an estimate does not mislead."""
    truth = float(replays["launch_effect"].iloc[0])
    ax = plt.subplots(figsize=(8, 3.6))[1]
    low, high = sorted((truth * (1 - tolerance), truth * (1 + tolerance)))
    ax.axvspan(low, high, color="#2ecc71", alpha=0.15, label="does not mislead")
    ax.axvline(truth, color="#27ae60", linewidth=2, label=f"true effect ({truth:+.2f})")
    ax.axvline(0, color="black", linewidth=0.8)
    designs = list(dict.fromkeys(replays["design"]))
    for row, design in enumerate(designs):
        values = replays.loc[replays["design"] == design, "estimate"].to_numpy()
        jitter = np.random.default_rng(row).uniform(-0.25, 0.25, values.size)
        ax.scatter(values, row + jitter, s=8, alpha=0.5, color=DESIGN_COLOURS.get(design, "#555555"))
        ax.plot([values.mean()] * 2, [row - 0.35, row + 0.35], color="black", linewidth=2)
    ax.set_yticks(range(len(designs)), designs)
    ax.invert_yaxis()
    ax.set_xlabel("estimated effect, minutes per user per week (black bar: the design's average)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title("The next test, replayed: where each design's estimates land")
    return ax


@rendered_once
def cuped_vs_raw(naive_effect: Any, cuped: Any, true_effect: float | None = None) -> plt.Axes | None:
    """The raw and CUPED-adjusted 95% intervals of the test as run, next to the true effect when it is known."""
    if waiting_for(naive_effect, "naive_effect") or waiting_for(cuped, "cuped"):
        return None
    ax = plt.subplots(figsize=(7, 2.4))[1]
    for row, (name, result) in enumerate((("raw", naive_effect), ("CUPED", cuped))):
        ax.errorbar(result["effect"], row, xerr=[[result["effect"] - result["ci_low"]], [result["ci_high"] - result["effect"]]],
                    fmt="o", color="#1f4e79", ecolor="#9db7d5", elinewidth=4, capsize=0)
        ax.text(result["ci_high"], row - 0.18, f"  ±{(result['ci_high'] - result['ci_low']) / 2:.2f}", fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    if true_effect is not None:
        ax.axvline(true_effect, color="#27ae60", linewidth=2, linestyle="--", label="true effect of launching")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_yticks([0, 1], ["raw", "CUPED"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel("treatment - control, minutes per user per week (95% interval)")
    ax.set_title("Less noise is not less bias")
    return ax


@rendered_once
def misleading_shares(misleading_share: Any) -> plt.Axes | None:
    """Each design's measured share of misleading tests, with its 99% interval."""
    if waiting_for(misleading_share, "misleading_share"):
        return None
    table = misleading_share.astype(float)
    ax = plt.subplots(figsize=(6.5, 2.4))[1]
    rows = np.arange(len(table))
    ax.errorbar(table["share"], rows, xerr=[(table["share"] - table["ci_low"]).clip(lower=0),
                                            (table["ci_high"] - table["share"]).clip(lower=0)],
                fmt="o", color="#1f4e79", ecolor="#9db7d5", elinewidth=4, capsize=0)
    ax.set_yticks(rows, list(table.index))
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlim(0, 1.02)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.set_xlabel("share of replayed tests that mislead (99% Wilson interval)")
    ax.set_title("How often would each design send the team the wrong way?")
    return ax
