"""Plots for module 02 (data quality audit). Each takes plain data and returns the matplotlib Axes it drew on.

Plots that need an exercise's answer say so, instead of failing, while the answer is still `...`.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from aipmlab.plots import rendered_once, waiting_for

COPY_KINDS = {"exact": "exact copy", "formatting": "case, spaces or punctuation", "small_edit": "one-word edit"}


@rendered_once
def copies_and_leakage(duplicate_counts: Any, leakage_effect: Any) -> np.ndarray | None:
    """Left: extra copies of each kind. Right: test accuracy as reported, without leaks, and on expert labels."""
    if waiting_for(duplicate_counts, "duplicate_counts") or waiting_for(leakage_effect, "leakage_effect"):
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [3, 3]})
    copies = pd.Series({label: duplicate_counts[key] for key, label in COPY_KINDS.items()})
    left.barh(copies.index, copies.to_numpy(), color=["#1f4e79", "#4f81bd", "#9db7d5"])
    for row, count in enumerate(copies):
        left.text(count, row, f" {count:,}", va="center")
    left.invert_yaxis()
    left.set_xlabel("extra copies (the first ticket of each group is not counted)")
    left.set_title(f"{int(copies.sum()):,} of {int(copies.sum() + duplicate_counts['distinct']):,} tickets are copies")
    left.set_xlim(0, copies.max() * 1.25)

    accuracy = pd.Series({"all test tickets,\nfirst-pass labels\n(reported)": leakage_effect["accuracy_reported"],
                          "unleaked,\nfirst-pass labels": leakage_effect["accuracy_unleaked"],
                          "unleaked,\nexpert labels": leakage_effect["accuracy_adjudicated"]})
    right.bar(accuracy.index, accuracy.to_numpy(), color=["#c0392b", "#9db7d5", "#1f4e79"], width=0.6)
    interval = [[leakage_effect["accuracy_adjudicated"] - leakage_effect["adjudicated_ci_low"]],
                [leakage_effect["adjudicated_ci_high"] - leakage_effect["accuracy_adjudicated"]]]
    right.errorbar([2], [leakage_effect["accuracy_adjudicated"]], yerr=interval, color="black", capsize=4)
    for column, value in enumerate(accuracy):
        right.text(column - 0.28, value, f"{value:.1%}", ha="left", va="bottom")
    low = max(0.0, min(accuracy.min(), leakage_effect["adjudicated_ci_low"]) - 0.08)
    right.set_ylim(low, min(1.0, leakage_effect["adjudicated_ci_high"] + 0.04))
    right.yaxis.set_major_locator(plt.MultipleLocator(0.05))
    right.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    right.tick_params(axis="x", labelsize=8)
    right.set_title(f"Test accuracy: {leakage_effect['leaked']} leaked tickets lift it,\n"
                    f"wrong test labels hide more (bar: 95% interval)")
    fig.tight_layout()
    return np.array([left, right])


@rendered_once
def confident_joint_heatmap(confident_joint: Any, ax: plt.Axes | None = None) -> plt.Axes | None:
    """The confident joint as a heatmap; off-diagonal cells are the likely label errors."""
    if waiting_for(confident_joint, "confident_joint"):
        return None
    counts = confident_joint.astype(int)
    ax = ax or plt.subplots(figsize=(7.5, 5.5))[1]
    off_diagonal = counts.where(~np.eye(len(counts), dtype=bool), 0)
    sns.heatmap(off_diagonal, annot=counts, fmt="d", cmap="Reds", cbar_kws={"label": "tickets (off-diagonal)"},
                linewidths=0.5, linecolor="white", ax=ax)
    for k in range(len(counts)):  # outline the diagonal: tickets whose label the model agrees with
        ax.add_patch(plt.Rectangle((k + 0.05, k + 0.05), 0.9, 0.9, fill=False, edgecolor="#1f4e79", linewidth=1.5))
    ax.set_xlabel("intent the ticket confidently belongs to (out-of-fold)")
    ax.set_ylabel("given label")
    ax.set_title("Confident joint: red cells are tickets whose label the model confidently disputes")
    return ax


@rendered_once
def slice_mix_bars(slice_mix: Any, below: float, ax: plt.Axes | None = None) -> plt.Axes | None:
    """Each channel's share of the training data next to its share of production traffic."""
    if waiting_for(slice_mix, "slice_mix"):
        return None
    ax = ax or plt.subplots(figsize=(7.5, 3.5))[1]
    shares = slice_mix[["train_share", "production_share"]].rename(
        columns={"train_share": "training data", "production_share": "production traffic"})
    shares.plot.bar(ax=ax, rot=0, color=["#9db7d5", "#1f4e79"], width=0.75)
    flagged = [bool(flag) for flag in slice_mix["under_represented"]]
    for label, flag in zip(ax.get_xticklabels(), flagged):
        if flag:
            label.set_color("#c0392b")
            label.set_fontweight("bold")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.set_ylabel("share of tickets")
    ax.set_xlabel("")
    ax.set_ylim(0, float(shares.to_numpy().max()) * 1.2)
    ax.set_title(f"Channel mix: training data against production\n(red: under-represented, below {below:.0%} of "
                 f"production's share)")
    return ax


@rendered_once
def accuracy_by_channel(test: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Test accuracy per channel, with the number of test tickets behind each bar."""
    correct = (test["predicted"] == test["label"])
    table = correct.groupby(test["channel"]).agg(["mean", "size"]).sort_values("mean")
    ax = ax or plt.subplots(figsize=(7.5, 3))[1]
    ax.barh(table.index, table["mean"], color="#1f4e79")
    for row, (accuracy, n) in enumerate(zip(table["mean"], table["size"])):
        ax.text(accuracy, row, f" {accuracy:.0%} (n={n})", va="center")
    ax.set_xlim(0, 1.15)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.set_xlabel("test accuracy")
    ax.set_title("Test accuracy by channel (n = test tickets from that channel)")
    return ax


def review_queue(label_issues: Any, tickets: pd.DataFrame, top: int = 8) -> pd.DataFrame | None:
    """The first `top` tickets of the re-labelling queue, with their text."""
    if waiting_for(label_issues, "label_issues"):
        return None
    text = tickets.set_index("ticket_id")["text"]
    queue = label_issues.head(top).copy()
    queue["text"] = [text[ticket] for ticket in queue.index]
    return queue
