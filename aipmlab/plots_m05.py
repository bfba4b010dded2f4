"""Plots for module 05 (drift, degradation and rollback). Each takes plain data and returns what it drew.

Like aipmlab.plots, each one says what it is waiting for, instead of failing, while an exercise's answer is
still `...`.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.patches import Rectangle

from aipmlab.exercises.m05_drift_and_rollback import PREDICTIVE, UPDATE_WEEK, auc_by_week
from aipmlab.plots import rendered_once, waiting_for


@rendered_once
def drift_heatmap(drift: Any, alarm: Any, ax: plt.Axes | None = None) -> plt.Axes | None:
    """PSI of every feature in every week as a heat map; feature-weeks over the calibrated alarm are boxed and show
    their PSI, and the colour bar marks the alarm line."""
    if waiting_for(drift, "drift") or waiting_for(alarm, "alarm"):
        return None
    frame = drift.reset_index() if drift.index.name is not None or isinstance(drift.index, pd.MultiIndex) else drift
    table = frame.pivot(index="feature", columns="week", values="psi").astype(float)
    table = table.loc[table.max(axis=1).sort_values(ascending=False).index]
    threshold = float(alarm["threshold"])
    ax = ax or plt.subplots(figsize=(10, 3.6))[1]
    colours = LinearSegmentedColormap.from_list("psi", ["#f7f7f7", "#fdd49e", "#ef6548", "#7f0000"])
    top = max(0.25, float(np.nanmax(table.to_numpy())))
    image = ax.imshow(table.to_numpy(), aspect="auto", cmap=colours, vmin=0, vmax=top)
    ax.set_xticks(range(table.shape[1]), [str(w) for w in table.columns])
    ax.set_yticks(range(table.shape[0]), list(table.index))
    for row, feature in enumerate(table.index):
        for column, week in enumerate(table.columns):
            value = table.at[feature, week]
            if value >= threshold:
                ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 * top else "black")
                ax.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="#08306b", lw=2))
    update = list(table.columns).index(UPDATE_WEEK) - 0.5 if UPDATE_WEEK in table.columns else None
    if update is not None:
        ax.axvline(update, color="#08306b", ls="--", lw=1.5)
        ax.text(update + 0.08, table.shape[0] - 0.55, "model update", color="#08306b", fontsize=8, va="bottom")
    bar = plt.colorbar(image, ax=ax, pad=0.01)
    bar.set_label("PSI against weeks 0-3")
    bar.ax.axhline(threshold, color="#08306b", lw=2)
    bar.ax.text(1.6, threshold, " alarm", color="#08306b", va="center", fontsize=8,
                transform=bar.ax.get_yaxis_transform())
    ax.set_xlabel("week (4-7: no shift, noise only)")
    ax.set_title(f"Input drift by feature and week: boxed cells reach the alarm (PSI ≥ {threshold:.3f})")
    return ax


@rendered_once
def psi_noise(noise_psi: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """How large PSI gets from noise alone, by rows per week and number of bins, against the conventional 0.1 band.
    Solid: the PSI one noise week in 100 exceeds; dotted: the median noise week. Each bin count is labelled where
    its lines start, so no legend is needed."""
    ax = ax or plt.subplots(figsize=(7.5, 3.6))[1]
    rows = sorted(noise_psi["rows"].unique())
    for bins, group in noise_psi.groupby("bins"):
        summary = group.groupby("rows")["psi"].quantile([0.5, 0.99]).unstack()
        line = ax.plot(summary.index, summary[0.99], marker="o")[0]
        ax.plot(summary.index, summary[0.5], ls=":", lw=1.2, color=line.get_color())
        ax.annotate(f"{bins} bins", (summary.index[0], summary[0.99].iloc[0]), xytext=(-7, 0),
                    textcoords="offset points", ha="right", va="center", color=line.get_color(), fontsize=8)
    ax.axhline(0.1, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(rows[0] / 1.6, rows[-1] * 1.15)
    ax.set_xticks(rows, [str(r) for r in rows])
    ax.minorticks_off()
    ax.text(rows[-1], 0.105, "conventional 0.1 band", ha="right", va="bottom", color="grey", fontsize=8)
    ax.text(0.98, 0.95, "solid: the PSI that 1 noise week in 100 exceeds\ndotted: the median noise week",
            transform=ax.transAxes, ha="right", va="top", fontsize=8, color="#525252")
    ax.set_xlabel("requests in the week compared (log scale)")
    ax.set_ylabel("PSI when nothing changed")
    ax.set_title("PSI from noise alone: fewer rows or more bins, more PSI")
    return ax


@rendered_once
def quality_over_time(quality: Any, rollback_rule: Any, ax: plt.Axes | None = None) -> plt.Axes | None:
    """The matured catch rate per week with its interval, the dashboard's known-so-far rate, the floor and the
    baseline, and the weeks whose labels have not matured enough to judge (shaded)."""
    if waiting_for(quality, "quality") or waiting_for(rollback_rule, "rollback_rule"):
        return None
    table = quality.astype(float)
    weeks = table.index.astype(int)
    ax = ax or plt.subplots(figsize=(9, 4))[1]
    immature = table["maturity"] < float(rollback_rule["min_label_maturity"])
    for week in weeks[immature.to_numpy()]:
        ax.axvspan(week - 0.5, week + 0.5, color="#d9d9d9", alpha=0.6, lw=0)
    ax.fill_between(weeks, table["ci_low"], table["ci_high"], color="#9ecae1", alpha=0.6, label="95% interval")
    ax.plot(weeks, table["catch_rate"], marker="o", color="#08519c", label="catch rate, misses scaled by maturity")
    ax.plot(weeks, table["known_catch_rate"], marker="x", ls=":", color="#e6550d",
            label="catch rate on labels known so far (a dashboard)")
    ax.axhline(float(rollback_rule["baseline"]), color="#31a354", lw=1, label="v1 before the update (baseline)")
    ax.axhline(float(rollback_rule["quality_floor"]), color="#a50f15", ls="--", lw=1.5, label="your floor")
    for week, maturity in zip(weeks, table["maturity"]):
        ax.text(week, 0.02, f"{maturity:.0%}", ha="center", fontsize=7, color="#525252")
    ax.text(weeks.min() - 0.45, 0.07, "labels settled:", fontsize=7, color="#525252")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(weeks)
    ax.set_xlabel("week (grey: too few labels settled to judge under your rule)")
    ax.set_ylabel("share of abusive requests\nsent to review")
    ax.set_title("v2's catch rate, week by week, while labels are still arriving")
    ax.legend(fontsize=7, loc="upper center", ncols=2)
    return ax


@rendered_once
def shift_evidence(logs: pd.DataFrame, shift_diagnosis: Any) -> np.ndarray | None:
    """Three panels, one per question, with the model update and the week you named marked on each: who sends
    traffic (P(x)), how much abuse there is with misses scaled by label maturity (P(y)), and how well each input
    alone separates abuse on settled labels (P(y|x), AUC, weeks at least half settled)."""
    if waiting_for(shift_diagnosis, "shift_diagnosis"):
        return None
    weeks = logs.assign(caught=(logs["reviewed"] == 1) & (logs["abuse"] == 1),
                        missed=(logs["reviewed"] == 0) & (logs["abuse"] == 1), unreviewed=logs["reviewed"] == 0,
                        settled=(logs["reviewed"] == 0) & logs["abuse"].notna()).groupby("week")
    maturity = weeks["settled"].sum() / weeks["unreviewed"].sum()
    abuse_share = ((weeks["caught"].sum() + weeks["missed"].sum() / maturity) / weeks.size()).where(maturity > 0)
    first_markets = set(logs.loc[logs["week"] < UPDATE_WEEK, "market"])
    new_share = logs.assign(new=~logs["market"].isin(first_markets)).groupby("week")["new"].mean()
    mature = (logs["week"] < UPDATE_WEEK) | (logs["week"].map(maturity) >= 0.5)
    settled = logs[logs["abuse"].notna() & mature]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    axes[0].plot(new_share.index, new_share.to_numpy(), marker="o", color="#756bb1")
    axes[0].set_title("P(x): share of traffic from markets\nnew since the update", fontsize=9)
    axes[0].set_ylim(0, max(0.5, float(new_share.max()) + 0.05))
    axes[1].plot(abuse_share.index, abuse_share.to_numpy(), marker="o", color="#d95f0e")
    axes[1].set_title("P(y): share of requests that are abuse\n(misses scaled by label maturity)", fontsize=9)
    axes[1].set_ylim(0, max(0.25, float(abuse_share.max()) + 0.03))
    for feature, auc in auc_by_week(settled, PREDICTIVE).items():
        auc = auc if auc[auc.index < UPDATE_WEEK].mean() >= 0.5 else 1 - auc
        axes[2].plot(auc.index, auc.to_numpy(), marker="o", label=feature)
    axes[2].axhline(0.5, color="grey", lw=1)
    axes[2].set_ylim(0.2, 1)
    axes[2].set_title("P(y|x): AUC of each input alone,\non settled labels", fontsize=9)
    axes[2].legend(fontsize=7, loc="lower left")
    named = (shift_diagnosis["covariate"]["week"], shift_diagnosis["label"]["week"], shift_diagnosis["concept"]["week"])
    for ax, week in zip(axes, named):
        top = ax.get_xaxis_transform()  # x in data (weeks), y in axes fractions: labels sit along the top edge
        ax.axvline(UPDATE_WEEK - 0.5, color="grey", ls="--", lw=1)
        ax.text(UPDATE_WEEK - 0.6, 0.97, "model update", transform=top, ha="right", va="top", fontsize=7, color="grey")
        ax.axvline(float(week) - 0.5, color="#a50f15", lw=1.5)
        near_edge = float(week) > ax.get_xlim()[1] - 2.5  # then the label goes left of the line, inside the panel
        ax.text(float(week) - (0.6 if near_edge else 0.4), 0.97, f"you: week {int(week)}", transform=top,
                ha="right" if near_edge else "left", va="top", fontsize=7, color="#a50f15")
        ax.set_xlabel("week")
        ax.set_xticks(range(0, int(logs["week"].max()) + 1, 2))
    fig.subplots_adjust(left=0.04, right=0.99, wspace=0.2)
    return axes
