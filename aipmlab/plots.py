"""Plots the notebooks share. Each takes plain data and returns the matplotlib Axes it drew on.

Plots that need an exercise's answer say so, instead of failing, while the answer is still `...`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence, TypeVar

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from aipmlab.exercises.core import is_stub


Plot = TypeVar("Plot", bound=Callable[..., Any])


def rendered_once(plot: Plot) -> Plot:
    """Decorates each of the kit's plots. In a notebook (matplotlib's inline backend) a finished figure is rendered
    once, when the cell displays it, instead of first being redrawn unseen by pyplot's after-cell hook."""

    @functools.wraps(plot)
    def plot_rendered_once(*args: Any, **kwargs: Any) -> Any:
        drawn = plot(*args, **kwargs)
        axes = np.ravel(drawn)[0] if isinstance(drawn, (np.ndarray, list, tuple)) and len(drawn) else drawn
        if isinstance(axes, plt.Axes) and matplotlib.get_backend().endswith("inline"):
            # Marking the figure up to date skips only that unseen redraw; the inline backend still renders and
            # shows every figure of the cell. Drawing more on it later in the cell marks it changed again.
            axes.get_figure(root=True).stale = False
        return drawn

    return plot_rendered_once  # type: ignore[return-value]


def waiting_for(answer: Any, key: str) -> bool:
    """True (after saying so) while exercise `key` still holds `...`: the caller draws nothing yet."""
    if is_stub(answer):
        print(f"This appears once exercise `{key}` is done.")
        return True
    return False


@rendered_once
def slice_intervals(slice_quality: Any, launch_bar: float, ax: plt.Axes | None = None) -> plt.Axes | None:
    """Each slice's good rate with its interval, sorted, against the launch bar (a forest plot)."""
    if waiting_for(slice_quality, "slice_quality"):
        return None
    table = slice_quality.sort_values("good_rate")
    ax = ax or plt.subplots(figsize=(7, 0.45 * len(table) + 1))[1]
    rows = np.arange(len(table))
    ax.errorbar(table["good_rate"], rows,
                xerr=[table["good_rate"] - table["ci_low"], table["ci_high"] - table["good_rate"]],
                fmt="o", color="#1f4e79", ecolor="#9db7d5", elinewidth=3, capsize=0)
    ax.axvline(launch_bar, color="#c0392b", linestyle="--", label=f"launch bar ({launch_bar:.0%})")
    ax.set_yticks(rows, [f"{name}  (n={n})" for name, n in zip(table.index, table["n"])])
    ax.set_xlabel("share of good suggestions, with 95% Wilson interval")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.legend(loc="lower right")
    ax.set_title("Quality by slice: point estimates and how sure we are")
    return ax


@rendered_once
def boundary_map(messages: pd.DataFrame, row: str, column: str, column_order: Sequence[str],
                 launch_bar: float, min_count: int = 30, ax: plt.Axes | None = None) -> plt.Axes:
    """Heatmap of the good rate per (row, column) cell; cells with fewer than `min_count` messages are greyed out."""
    rates = messages.pivot_table(index=row, columns=column, values="good", aggfunc="mean")[list(column_order)]
    counts = messages.pivot_table(index=row, columns=column, values="good", aggfunc="size")[list(column_order)]
    counts = counts.reindex_like(rates).fillna(0)
    small = counts < min_count
    labels = rates.map(lambda r: "" if np.isnan(r) else f"{r:.0%}") + counts.map(lambda n: f"\nn={int(n)}")
    ax = ax or plt.subplots(figsize=(7, 0.5 * len(rates) + 1.5))[1]
    ax.set_facecolor("#d9d9d9")  # masked (small) cells show this grey
    sns.heatmap(rates, mask=small.to_numpy(), annot=labels.where(~small), fmt="", cmap="RdYlGn", center=launch_bar,
                vmin=0.3, vmax=1.0, cbar_kws={"label": "share of good suggestions"}, ax=ax)
    for (i, j) in zip(*np.nonzero(small.to_numpy())):
        ax.text(j + 0.5, i + 0.5, f"too few\nn={int(counts.iat[i, j])}", ha="center", va="center", fontsize=8,
                color="#555555")
    ax.set_title(f"Boundary map: red is under the {launch_bar:.0%} bar; grey cells have under {min_count} messages")
    return ax


@rendered_once
def stratified_rates(messages: pd.DataFrame, group: str, group_order: Sequence[str], stratum: str,
                     stratum_order: Sequence[str], ax: plt.Axes | None = None) -> plt.Axes:
    """Good rate of each group within each stratum, next to the group's overall rate."""
    within = messages.groupby([stratum, group])["good"].mean().unstack(group)[list(group_order)]
    within = within.reindex(list(stratum_order))
    within.loc["all messages (raw)"] = messages.groupby(group)["good"].mean()[list(group_order)]
    ax = ax or plt.subplots(figsize=(7.5, 3.8))[1]
    within.plot.bar(ax=ax, rot=0, colormap="viridis", width=0.8)
    ax.set_ylabel("share of good suggestions")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.legend(title=group, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(f"Within each {stratum}, and overall")
    return ax


@rendered_once
def coverage_quality_curves(messages: pd.DataFrame, slices: Sequence[str], grid: Sequence[float], floor: float,
                            ax: plt.Axes | None = None) -> plt.Axes:
    """For each slice, coverage against the quality of what is shown as the threshold rises; code-switched dashed."""
    ax = ax or plt.subplots(figsize=(8.5, 4.5))[1]
    languages = sorted({name.replace(" + code-switch", "") for name in slices})
    colours = dict(zip(languages, sns.color_palette("colorblind", len(languages))))
    for name in slices:
        group = messages[messages["slice"] == name]
        shown = [group["confidence"] >= t for t in grid]
        points = [(mask.mean(), group.loc[mask, "good"].mean()) for mask in shown if mask.sum() >= 5]
        if not points:
            continue
        coverage, quality = zip(*points)
        switched = name.endswith("code-switch")
        ax.plot(coverage, quality, marker=".", color=colours[name.replace(" + code-switch", "")],
                linestyle="--" if switched else "-", label=name)
    ax.axhline(floor, color="#c0392b", linestyle=":", label=f"quality floor ({floor:.0%})")
    ax.set_xlabel("coverage: share of the slice's messages that get a suggestion")
    ax.set_ylabel("share of shown suggestions that are good")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title="solid: one language\ndashed: code-switched")
    ax.set_title("Raising the threshold trades coverage for quality\n(each point is a threshold; at least 5 shown)")
    return ax


@rendered_once
def calibration_by_group(messages: pd.DataFrame, group: str, bins: Sequence[float] = tuple(np.linspace(0, 1, 11)),
                         min_count: int = 20, ax: plt.Axes | None = None) -> plt.Axes:
    """Reliability diagram: the actual good rate against the model's confidence, one line per value of `group`."""
    ax = ax or plt.subplots(figsize=(6.5, 4.5))[1]
    binned = pd.cut(messages["confidence"], list(bins), include_lowest=True)
    for (value, frame), colour in zip(messages.groupby(group), sns.color_palette("colorblind")):
        table = frame.groupby(binned.loc[frame.index], observed=True).agg(
            confidence=("confidence", "mean"), good=("good", "mean"), n=("good", "size"))
        table = table[table["n"] >= min_count]
        ax.plot(table["confidence"], table["good"], marker="o", color=colour, label=f"{group} = {value}")
    ax.plot([0, 1], [0, 1], color="#888888", linestyle=":", label="calibrated: good rate = confidence")
    ax.set_xlabel("model confidence (mean within each bin of 0.1)")
    ax.set_ylabel("actual share of good suggestions")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"Does confidence mean the same for every {group} value?")
    return ax
