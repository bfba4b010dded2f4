"""Known-wrong answers for module 01 (failure boundaries)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from itertools import combinations

from aipmlab.exercises.m01_failure_boundaries import (
    FEATURES, LAUNCH_BAR, MIN_GROUP, MIN_SHOWN, QUALITY_FLOOR, SCAN_ALPHA, THRESHOLD_GRID, explore_and_confirm,
    group_label,
)


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


def _evidence(data, alpha: float = SCAN_ALPHA, rule: str = "interval") -> dict:
    table = _slices(data, alpha=alpha)
    if rule == "point":  # point estimate decides meets / below; nothing is left uncalled
        below, meets = table["good_rate"] < LAUNCH_BAR, table["good_rate"] >= LAUNCH_BAR
    elif rule == "two bins":  # the old two-bin reading: every slice not shown to miss is 'meets'
        below, meets = table["ci_high"] < LAUNCH_BAR, table["ci_high"] >= LAUNCH_BAR
        meets &= ~(table["good_rate"] < LAUNCH_BAR)
    else:
        below, meets = table["ci_high"] < LAUNCH_BAR, table["ci_low"] >= LAUNCH_BAR
    middle = ~below & ~meets
    return {"below": sorted(table.index[below]), "not_shown": sorted(table.index[middle]),
            "meets": sorted(table.index[meets])}


def _discovery(data, confirm_on: str = "confirm", alpha: str = "shared", min_group: int = MIN_GROUP,
               propose_on: str = "explore") -> pd.DataFrame:
    messages = _messages(data)
    explore, confirm = explore_and_confirm(messages)
    finder = {"explore": explore, "all": messages}[propose_on]
    judge_on = {"confirm": confirm, "explore": explore, "all": messages}[confirm_on]
    suspects = {}
    for a, b in combinations(FEATURES, 2):
        groups = finder.groupby([a, b])["good"].agg(n="size", rate="mean")
        for (va, vb), row in groups.iterrows():
            if row["n"] >= min_group and row["rate"] < LAUNCH_BAR:
                suspects[group_label(a, va, b, vb)] = (a, va, b, vb, row)
    rows = {}
    for label, (a, va, b, vb, row) in suspects.items():
        held = judge_on.loc[(judge_on[a] == va) & (judge_on[b] == vb), "good"]
        each = 0.05 / len(suspects) if alpha == "shared" else 0.05
        high = float(_interval(int(held.sum()), len(held), alpha=each)[1])
        rows[label] = {"explore_n": int(row["n"]), "explore_good_rate": row["rate"], "confirm_n": len(held),
                       "confirm_good_rate": held.mean(), "confirm_ci_high": high, "confirmed": bool(high < LAUNCH_BAR)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("group")


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


def _thresholds(data, rule: str = "lower bound", alpha: float = SCAN_ALPHA, min_shown: int = MIN_SHOWN,
                per_slice: bool = True, pick: str = "lowest", coverage_of_all: bool = False, rounded: int | None = None,
                report_alpha: float | None = None):
    messages = _messages(data)
    total = len(messages)

    def options(group, grid):
        out = []
        for t in grid:
            shown = group[group["confidence"] >= t]
            if len(shown) < min_shown or not len(shown):
                continue
            low = float(_interval(int(shown["good"].sum()), len(shown), alpha=alpha)[0])
            rate = shown["good"].mean()
            if (low if rule == "lower bound" else rate) >= QUALITY_FLOOR:
                out.append((t, shown, low))
        return out

    global_choice = options(messages, THRESHOLD_GRID)[0][0] if not per_slice else None
    rows = {}
    for name, group in messages.groupby("slice"):
        found = options(group, [global_choice] if global_choice is not None else THRESHOLD_GRID)
        if global_choice is not None:
            shown = group[group["confidence"] >= global_choice]
            found = [(global_choice, shown, float(_interval(int(shown["good"].sum()), len(shown), alpha=alpha)[0]))]
        if not found:
            rows[name] = {"threshold": np.nan, "coverage": 0.0, "shown_good_rate": np.nan, "shown_ci_low": np.nan}
            continue
        t, shown, low = found[0] if pick == "lowest" else max(found, key=lambda o: o[1]["good"].mean())
        if report_alpha is not None:  # the choice made at one alpha, the bound reported at another
            low = float(_interval(int(shown["good"].sum()), len(shown), alpha=report_alpha)[0])
        rows[name] = {"threshold": t, "coverage": len(shown) / (total if coverage_of_all else len(group)),
                      "shown_good_rate": shown["good"].mean(), "shown_ci_low": min(low, shown["good"].mean())}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("slice")
    return table.round(rounded) if rounded is not None else table


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
        "point estimate alone": lambda d: _evidence(d, rule="point"),
        "two bins: not shown to miss counted as meeting": lambda d: _evidence(d, rule="two bins"),
        "95% intervals with no allowance for scanning ten slices": lambda d: _evidence(d, alpha=0.05),
        "bins swapped": lambda d: (lambda e: {"below": e["meets"], "not_shown": e["not_shown"],
                                              "meets": e["below"]})(_evidence(d)),
        "a slice left out": lambda d: (lambda e: {**e, "not_shown": e["not_shown"][1:]})(_evidence(d)),
    },
    "confirmed_boundary": {
        "confirmed on the same half that found the suspects": lambda d: _discovery(d, confirm_on="explore"),
        "95% intervals with no allowance for the number of suspects": lambda d: _discovery(d, alpha="each"),
        "suspects found on all the data, not the explore half": lambda d: _discovery(d, propose_on="all",
                                                                                    min_group=2 * MIN_GROUP),
        "small groups proposed too": lambda d: _discovery(d, min_group=5),
        "every suspect marked confirmed": lambda d: _discovery(d).assign(confirmed=True),
    },
    "emoji_quality": {
        "raw rate reported as adjusted": lambda d: _emoji(d, "raw"),
        "length bands weighted equally": lambda d: _emoji(d, "uniform"),
        "weighted by one level's own length mix": lambda d: _emoji(d, "heavy mix"),
    },
    "trigger_thresholds": {
        "point estimate clears the floor (the lucky threshold)": lambda d: _thresholds(d, rule="point"),
        "95% lower bound with no allowance for the scan": lambda d: _thresholds(d, alpha=0.05),
        "one global threshold for every slice": lambda d: _thresholds(d, per_slice=False),
        "threshold with the best quality, not the most coverage": lambda d: _thresholds(d, pick="best"),
        "coverage as a share of all messages": lambda d: _thresholds(d, coverage_of_all=True),
        # (MIN_SHOWN ignored is not listed: under the lower-bound rule, fewer than 20 shown never proves the floor)
        "shown_ci_low reported as the shown good rate": lambda d: (t := _thresholds(d)).assign(
            shown_ci_low=t["shown_good_rate"]),
        "bound reported from a 95% interval, choice at the scan-wide alpha": lambda d: _thresholds(d,
                                                                                                report_alpha=0.05),
        "rounded to 2 decimals": lambda d: _thresholds(d, rounded=2),
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
        "keyword salad": lambda d: " ".join(
            ["code-switch emoji Hindi Spanish interval 74% bar launch threshold coverage evidence"] * 8),
        "keyword salad with distinct words": lambda d: (
            "code-switch emoji Hindi Spanish English Portuguese French interval 74% bar launch threshold coverage "
            "evidence floor Wilson Bonferroni slice regret calibration overconfident length adjusted raw heavy "
            "medium long short paired edits flips control McNemar rubric reviewer decision metric weekly watch "
            "recalibrate ratings burden proof scan budget alpha lower bound upper shown hold users messages "
            "senders groups model"),
        "sentences with figures not from the data": lambda d: (
            "Smart reply is 12% good overall and fails on code-switched messages. Emoji users get 3% good "
            "suggestions and this is clearly bad for them. We will switch the feature off for code-switch "
            "writers until the model improves. After launch we will check quality every single week with the "
            "team. The launch review should also know that emoji hurt the model a great deal in our tests. "
            "We will collect more ratings for the small slices before deciding anything for them."),
    },
}
