"""Known-wrong answers for module 01 (failure boundaries)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from aipmlab.exercises.m01_failure_boundaries import LAUNCH_BAR, MIN_SHOWN, QUALITY_FLOOR, THRESHOLD_GRID


def _messages(data, good_from: int = 4) -> pd.DataFrame:
    messages = data.load("smart_reply_messages")
    messages["good"] = messages["rating"] >= good_from
    return messages


def _interval(good, n, method: str = "wilson", alpha: float = 0.05):
    low, high = proportion_confint(good, n, alpha=alpha, method=method)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def _overall(data, good_from=4, method="wilson", alpha=0.05, scale=1.0):
    messages = _messages(data, good_from)
    good, n = int(messages["good"].sum()), len(messages)
    low, high = _interval(good, n, method, alpha)
    return {"n": n, "good_rate": scale * good / n, "ci_low": scale * float(low), "ci_high": scale * float(high)}


def _slices(data, good_from=4, method="wilson", alpha=0.05):
    table = _messages(data, good_from).groupby("slice")["good"].agg(n="size", good="sum")
    table["good_rate"] = table["good"] / table["n"]
    table["ci_low"], table["ci_high"] = _interval(table["good"], table["n"], method, alpha)
    return table.drop(columns="good")


def _evidence(table: pd.DataFrame, below_mask, inconclusive_mask) -> dict:
    return {"below": sorted(table.index[below_mask]), "inconclusive": sorted(table.index[inconclusive_mask])}


def _emoji(data, weights: str):
    messages = _messages(data)
    cell = messages.pivot_table(index="emoji_level", columns="length_band", values="good", aggfunc="mean")
    raw = messages.groupby("emoji_level")["good"].mean()
    if weights == "raw":
        adjusted = raw
    elif weights == "uniform":
        adjusted = cell.mean(axis=1)
    else:  # every level weighted by the heavy-emoji messages' own length mix
        mix = messages.loc[messages["emoji_level"] == "heavy", "length_band"].value_counts(normalize=True)
        adjusted = (cell * mix).sum(axis=1)
    return pd.DataFrame({"raw_good_rate": raw, "adjusted_good_rate": adjusted})


def _thresholds(data, pick: str = "lowest", min_shown: int = MIN_SHOWN, per_slice: bool = True,
                coverage_of_all: bool = False):
    messages = _messages(data)
    total = len(messages)

    def feasible(group):
        out = []
        for t in THRESHOLD_GRID:
            shown = group[group["confidence"] >= t]
            if len(shown) >= min_shown and shown["good"].mean() >= QUALITY_FLOOR:
                out.append((t, shown))
        return out

    global_choice = feasible(messages)[0][0] if not per_slice else None
    rows = {}
    for name, group in messages.groupby("slice"):
        options = feasible(group)
        if global_choice is not None:
            shown = group[group["confidence"] >= global_choice]
            options = [(global_choice, shown)] if len(shown) else []
        if not options:
            rows[name] = {"threshold": np.nan, "coverage": 0.0, "shown_good_rate": np.nan}
            continue
        t, shown = options[0] if pick == "lowest" else max(options, key=lambda o: o[1]["good"].mean())
        rows[name] = {"threshold": t, "coverage": len(shown) / (total if coverage_of_all else len(group)),
                      "shown_good_rate": shown["good"].mean()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("slice")


def _invariance(data, flips_over_all: bool = False, method: str = "wilson", net_drop: bool = False):
    pairs = data.load("smart_reply_invariance")
    pairs["gb"], pairs["ga"] = pairs["rating_original"] >= 4, pairs["rating_perturbed"] >= 4
    pairs["flipped"] = pairs["gb"] & ~pairs["ga"]
    table = pairs.groupby("perturbation").agg(pairs=("pair_id", "size"), good_before=("gb", "mean"),
                                              good_after=("ga", "mean"), were_good=("gb", "sum"),
                                              flipped=("flipped", "sum"))
    base = table["pairs"] if flips_over_all else table["were_good"]
    table["flip_rate"] = table["flipped"] / base
    if net_drop:
        table["flip_rate"] = (table["good_before"] - table["good_after"]).clip(lower=0)
    table["flip_ci_low"], table["flip_ci_high"] = _interval(table["flipped"], base, method)
    table["flip_ci_low"] = np.minimum(table["flip_ci_low"], table["flip_rate"])
    table["flip_ci_high"] = np.maximum(table["flip_ci_high"], table["flip_rate"])
    return table.drop(columns=["were_good", "flipped"])


KNOWN_WRONG = {
    "overall_quality": {
        "good means rating >= 3": lambda d: _overall(d, good_from=3),
        # (a Wald interval is not listed: on 6,000 ratings it agrees with Wilson to 1e-4, so it is no mistake here)
        "90% interval": lambda d: _overall(d, alpha=0.10),
        "percentages instead of shares": lambda d: _overall(d, scale=100.0),
        "n counts good suggestions": lambda d: {**_overall(d), "n": int(_messages(d)["good"].sum())},
    },
    "slice_quality": {
        "normal (Wald) interval": lambda d: _slices(d, method="normal"),
        "good means rating >= 3": lambda d: _slices(d, good_from=3),
        "90% interval": lambda d: _slices(d, alpha=0.10),
        "slice left as a column": lambda d: _slices(d).reset_index(),
        "small slices dropped": lambda d: _slices(d).query("n >= 30"),
    },
    "launch_evidence": {
        "point estimate alone": lambda d: _evidence(t := _slices(d), t["good_rate"] < LAUNCH_BAR,
                                                    t["good_rate"] > 2),
        "lower bound under the bar": lambda d: _evidence(t := _slices(d), t["ci_low"] < LAUNCH_BAR,
                                                         t["good_rate"] > 2),
        "lists swapped": lambda d: (lambda e: {"below": e["inconclusive"], "inconclusive": e["below"]})(
            _evidence(t := _slices(d), t["ci_high"] < LAUNCH_BAR,
                      (t["good_rate"] < LAUNCH_BAR) & (t["ci_high"] >= LAUNCH_BAR))),
    },
    "emoji_quality": {
        "raw rate reported as adjusted": lambda d: _emoji(d, "raw"),
        "length bands weighted equally": lambda d: _emoji(d, "uniform"),
        "weighted by one level's own length mix": lambda d: _emoji(d, "heavy mix"),
    },
    "trigger_thresholds": {
        "one global threshold for every slice": lambda d: _thresholds(d, per_slice=False),
        "threshold with the best quality, not the most coverage": lambda d: _thresholds(d, pick="best"),
        "coverage as a share of all messages": lambda d: _thresholds(d, coverage_of_all=True),
        "too-few-shown rule ignored": lambda d: _thresholds(d, min_shown=1),
    },
    "invariance": {
        "flip rate over all pairs": lambda d: _invariance(d, flips_over_all=True),
        "normal (Wald) interval": lambda d: _invariance(d, method="normal"),
        "net drop in good rate as flip rate": lambda d: _invariance(d, net_drop=True),
    },
    "boundary_statement": {
        "one line": lambda d: "It fails on code-switched Hindi (39%).",
        "no figures": lambda d: " ".join(["The model struggles with code-switched messages and emoji."] * 12),
        "names no slice or cause": lambda d: " ".join(["Quality is 73% overall and we should launch it."] * 12),
        "placeholder text": lambda d: "YOUR ANSWER HERE",
    },
}
