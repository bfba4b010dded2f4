"""Plots for module 04 (success metrics beyond accuracy). Each takes plain data and returns what it drew.

Like aipmlab.plots, each one says what it is waiting for, instead of failing, while an exercise's answer is
still `...`.
"""

from __future__ import annotations

from typing import Any, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from aipmlab.plots import rendered_once, waiting_for

MARKET_COLOURS = {"north": "#1f4e79", "south": "#c0392b"}


@rendered_once
def cost_curve(tune: pd.DataFrame, error_costs: Any, launch_cost_curve: Any,
               ax: plt.Axes | None = None) -> plt.Axes | None:
    """Expected cost per 1,000 launch-market payments against the threshold, with the cheapest one and Elkan's t*."""
    if waiting_for(error_costs, "error_costs") or waiting_for(launch_cost_curve, "launch_cost_curve"):
        return None
    from aipmlab.exercises.m04_success_metrics import THRESHOLD_GRID, cost_per_1000

    part = tune[tune["market"] == launch_cost_curve["launch_market"]]
    thresholds = np.array(THRESHOLD_GRID)
    costs = np.array([cost_per_1000(part["score"], part["is_fraud"], t, error_costs["cost_false_positive"],
                                    error_costs["cost_false_negative"]) for t in thresholds])
    closed_form = error_costs["threshold"]
    ax = ax or plt.subplots(figsize=(7.5, 4))[1]
    ax.plot(thresholds, costs, color="#1f4e79", lw=2, label="raw score held at this threshold")
    best = launch_cost_curve["best_threshold"]
    ax.axvline(best, color="#1f4e79", ls="--", lw=1)
    ax.scatter([best], [launch_cost_curve["cost_at_best"]], color="#1f4e79", zorder=3,
               label=f"cheapest: {best:.2f} (${launch_cost_curve['cost_at_best']:,.0f})")
    ax.axvline(closed_form, color="#c0392b", ls=":", lw=1.5)
    at_closed_form = launch_cost_curve["cost_at_closed_form"]
    ax.scatter([closed_form], [at_closed_form], color="#c0392b", marker="s", zorder=3,
               label=f"Elkan's t* = {closed_form:.2f} on the raw score (${at_closed_form:,.0f})")
    ax.set_xlim(0, 0.6)
    upper = float(costs[thresholds <= 0.6].max())
    ax.set_ylim(0, upper * 1.05)
    ax.set_xlabel("threshold on the score (hold the payment when score ≥ threshold)")
    ax.set_ylabel("expected cost per 1,000 payments ($)")
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title(f"Cost curve in {launch_cost_curve['launch_market']} (tuning split)")
    return ax


@rendered_once
def reliability_diagrams(curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                         calibration_by_market: Any, recalibrated: Mapping[str, tuple[np.ndarray, np.ndarray]]
                         | None = None) -> np.ndarray | None:
    """One reliability diagram per market: fraud rate against mean score per bin (dot size: payments in the bin)."""
    if waiting_for(calibration_by_market, "calibration_by_market"):
        return None
    fig, axes = plt.subplots(1, len(curves), figsize=(5.2 * len(curves), 4.6), sharey=True)
    for ax, (market, (observed, predicted, counts)) in zip(np.atleast_1d(axes), curves.items()):
        ax.plot([0, 1], [0, 1], color="#888888", ls="--", lw=1, label="calibrated")
        size = 20 + 280 * np.sqrt(counts / counts.max())
        ax.plot(predicted, observed, color=MARKET_COLOURS.get(market, "#333333"), lw=1.5)
        ax.scatter(predicted, observed, s=size, color=MARKET_COLOURS.get(market, "#333333"), alpha=0.8,
                   label="raw score (dot size: payments)")
        if recalibrated is not None and market in recalibrated:
            after_observed, after_predicted = recalibrated[market]
            ax.plot(after_predicted, after_observed, color="#27ae60", marker="^", lw=1.2,
                    label="after Platt scaling (test split)")
        row = calibration_by_market.loc[market]
        ax.set_title(f"{market}: fraud rate {row['fraud_rate']:.1%}, mean score {row['mean_score']:.1%}, "
                     f"ECE {row['ece']:.3f}", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean score in the bin")
        ax.legend(loc="upper left", fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("share of payments that were fraud")
    fig.suptitle("Reliability diagrams per market: on the dashed line, a score of 0.3 means 30% fraud")
    fig.tight_layout()
    return axes


@rendered_once
def ppv_by_prevalence(base_rate_precision: Any, prevalence: Mapping[str, float], launch_market: str,
                      ax: plt.Axes | None = None) -> plt.Axes | None:
    """Precision of one fixed classifier as fraud gets rarer, with both markets marked."""
    if waiting_for(base_rate_precision, "base_rate_precision"):
        return None
    sensitivity, specificity = base_rate_precision["sensitivity"], base_rate_precision["specificity"]
    grid = np.linspace(0.002, 0.12, 200)
    ppv = sensitivity * grid / (sensitivity * grid + (1 - specificity) * (1 - grid))
    ax = ax or plt.subplots(figsize=(7.5, 4))[1]
    ax.plot(grid, ppv, color="#555555", lw=2, label="same sensitivity and specificity, other fraud rates")
    for market, rate in prevalence.items():
        value = sensitivity * rate / (sensitivity * rate + (1 - specificity) * (1 - rate))
        kind = "launch market" if market == launch_market else "new market"
        ax.scatter([rate], [value], s=80, color=MARKET_COLOURS.get(market, "#333333"), zorder=3,
                   label=f"{market} ({kind}): {value:.0%} of holds are fraud")
    ax.set_xlabel("fraud rate (prevalence)")
    ax.set_ylabel("precision (PPV): share of holds that are fraud")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.set_ylim(0, 1)
    ax.legend(loc="lower right", fontsize=9)
    ax.set_title("Same model, same threshold: precision falls with the base rate")
    return ax


@rendered_once
def guardrail_intervals(pilot_guardrails: Any, tolerance: Mapping[str, float],
                        ax: plt.Axes | None = None) -> plt.Axes | None:
    """Each guardrail's effect (treatment − control) with its 95% interval, against its tolerance, in points."""
    if waiting_for(pilot_guardrails, "pilot_guardrails"):
        return None
    table = pilot_guardrails["table"].loc[list(tolerance)] * 100
    breached = set(pilot_guardrails["breached"])
    ax = ax or plt.subplots(figsize=(7.5, 3.4))[1]
    rows = np.arange(len(table))[::-1]
    for row, (name, values) in zip(rows, table.iterrows()):
        colour = "#c0392b" if name in breached else "#1f4e79"
        ax.errorbar(values["difference"], row, xerr=[[values["difference"] - values["ci_low"]],
                                                     [values["ci_high"] - values["difference"]]],
                    fmt="o", color=colour, ecolor=colour, elinewidth=3, capsize=0)
        limit = tolerance[name] * 100
        ax.plot([limit, limit], [row - 0.35, row + 0.35], color="#e67e22", lw=2)
        ax.text(limit, row + 0.38, "tolerance", color="#e67e22", fontsize=8, ha="center")
    ax.axvline(0, color="#888888", lw=1)
    ax.set_yticks(rows, [f"{name}{'  (breached)' if name in breached else ''}" for name in table.index])
    ax.set_xlabel("treatment − control, percentage points, with 95% interval")
    ax.set_title("Guardrails in the pilot: breached when the whole interval is past the tolerance")
    return ax


@rendered_once
def deployed_costs(outcomes: Mapping[str, Any], ax: plt.Axes | None = None) -> plt.Axes | None:
    """Expected cost per 1,000 fresh payments of each deployed decision, next to the best in hindsight."""
    shown = {name: outcome for name, outcome in outcomes.items() if outcome is not None}
    if not shown:
        return None
    ax = ax or plt.subplots(figsize=(7.5, 0.6 * len(shown) + 1.6))[1]
    names = list(shown)
    rows = np.arange(len(names))[::-1]
    ax.barh(rows, [shown[n].value for n in names], color="#9db7d5", label="expected cost")
    ax.axvline(next(iter(shown.values())).best_value, color="#27ae60", ls="--", label="best in hindsight")
    for row, name in zip(rows, names):
        ax.text(shown[name].value, row, f" ${shown[name].value:,.0f}", va="center", fontsize=9)
    ax.set_yticks(rows, names)
    ax.set_xlim(0, 1.15 * max(outcome.value for outcome in shown.values()))
    ax.set_xlabel("expected cost per 1,000 fresh payments ($)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    ax.set_title("What each decision costs on fresh payments")
    return ax
