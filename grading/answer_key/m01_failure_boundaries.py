"""Answer key for module 01. Each function takes the learner's DataSource and returns the reference.

Never shipped to a candidate. The solution notebook computes the same answers its own way, so the
two cross-check each other in the tests.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from aipmlab.answer_key import Criterion, ExampleAnswer, Level, Rubric
from aipmlab.exercises.core import DataSource
from aipmlab.exercises.m01_failure_boundaries import (
    FEATURES, GOOD_RATING, LAUNCH_BAR, MIN_GROUP, MIN_SHOWN, QUALITY_FLOOR, SCAN_ALPHA, THRESHOLD_GRID,
    explore_and_confirm, group_label,
)


def _messages(data: DataSource) -> pd.DataFrame:
    messages = data.load("smart_reply_messages")
    messages["good"] = messages["rating"] >= GOOD_RATING
    return messages


def _wilson(good, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    low, high = proportion_confint(good, n, alpha=alpha, method="wilson")
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def overall_quality(data: DataSource) -> dict:
    messages = _messages(data)
    n, good = len(messages), int(messages["good"].sum())
    low, high = _wilson(good, n)
    return {"n": n, "good_rate": good / n, "ci_low": float(low), "ci_high": float(high)}


def slice_quality(data: DataSource) -> pd.DataFrame:
    table = _messages(data).groupby("slice")["good"].agg(n="size", good="sum")
    table["good_rate"] = table["good"] / table["n"]
    table["ci_low"], table["ci_high"] = _wilson(table["good"], table["n"])
    return table[["n", "good_rate", "ci_low", "ci_high"]]


def launch_evidence(data: DataSource) -> dict:
    table = _messages(data).groupby("slice")["good"].agg(n="size", good="sum")
    low, high = _wilson(table["good"], table["n"], SCAN_ALPHA)
    return {"below": sorted(table.index[high < LAUNCH_BAR]), "meets": sorted(table.index[low >= LAUNCH_BAR]),
            "not_shown": sorted(table.index[(high >= LAUNCH_BAR) & (low < LAUNCH_BAR)])}


def confirmed_boundary(data: DataSource) -> pd.DataFrame:
    explore, confirm = explore_and_confirm(_messages(data))
    proposals = {}
    for a, b in combinations(FEATURES, 2):
        groups = explore.groupby([a, b])["good"].agg(n="size", rate="mean")
        for (value_a, value_b), row in groups.iterrows():
            if row["n"] >= MIN_GROUP and row["rate"] < LAUNCH_BAR:
                proposals[group_label(a, value_a, b, value_b)] = (a, value_a, b, value_b, row["n"], row["rate"])
    rows = {}
    for label, (a, value_a, b, value_b, n, rate) in proposals.items():
        held_out = confirm.loc[(confirm[a] == value_a) & (confirm[b] == value_b), "good"]
        _, high = _wilson(int(held_out.sum()), len(held_out), 0.05 / len(proposals))
        rows[label] = {"explore_n": int(n), "explore_good_rate": float(rate), "confirm_n": len(held_out),
                       "confirm_good_rate": float(held_out.mean()), "confirm_ci_high": float(high),
                       "confirmed": bool(high < LAUNCH_BAR)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("group")


def emoji_quality(data: DataSource) -> pd.DataFrame:
    messages = _messages(data)
    raw = messages.groupby("emoji_level")["good"].mean()
    band_share = messages["length_band"].value_counts(normalize=True)
    cell_rate = messages.groupby(["emoji_level", "length_band"])["good"].mean().unstack("length_band")
    adjusted = (cell_rate[band_share.index] * band_share).sum(axis=1)
    return pd.DataFrame({"raw_good_rate": raw, "adjusted_good_rate": adjusted}).rename_axis("emoji_level")


def _lowest_threshold(slice_messages: pd.DataFrame) -> dict:
    confidence, good = slice_messages["confidence"].to_numpy(), slice_messages["good"].to_numpy()
    shown = np.array([(confidence >= t).sum() for t in THRESHOLD_GRID])
    good_shown = np.array([good[confidence >= t].sum() for t in THRESHOLD_GRID])
    low, _ = _wilson(good_shown, np.maximum(shown, 1), SCAN_ALPHA)
    keeps = (shown >= MIN_SHOWN) & (low >= QUALITY_FLOOR)
    if not keeps.any():
        return {"threshold": np.nan, "coverage": 0.0, "shown_good_rate": np.nan, "shown_ci_low": np.nan}
    first = int(keeps.argmax())
    return {"threshold": THRESHOLD_GRID[first], "coverage": shown[first] / len(slice_messages),
            "shown_good_rate": good_shown[first] / shown[first], "shown_ci_low": float(low[first])}


def trigger_thresholds(data: DataSource) -> pd.DataFrame:
    rows = {name: _lowest_threshold(group) for name, group in _messages(data).groupby("slice")}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("slice")


def invariance(data: DataSource) -> pd.DataFrame:
    pairs = data.load("smart_reply_invariance")
    pairs["good_before"] = pairs["rating_original"] >= GOOD_RATING
    pairs["good_after"] = pairs["rating_perturbed"] >= GOOD_RATING
    pairs["flipped"] = pairs["good_before"] & ~pairs["good_after"]
    table = pairs.groupby("perturbation").agg(
        pairs=("pair_id", "size"), good_before=("good_before", "mean"), good_after=("good_after", "mean"),
        were_good=("good_before", "sum"), flipped=("flipped", "sum"),
    )
    table["flip_rate"] = table["flipped"] / table["were_good"]
    table["flip_ci_low"], table["flip_ci_high"] = _wilson(table["flipped"], table["were_good"])
    return table[["pairs", "good_before", "good_after", "flip_rate", "flip_ci_low", "flip_ci_high"]]


RUBRICS = {
    "boundary_statement": Rubric((
        Criterion("Where it fails, with evidence", (
            Level(0, "No slice named, or slices called failing from point estimates alone."),
            Level(1, "Names the failing slices with their good rates, but no intervals, sample sizes or bins."),
            Level(2, "Separates slices shown to miss the bar from those not shown to meet it, with rates and "
                     "the evidence (intervals at a scan-wide error budget, or n) for each."),
        )),
        Criterion("Who is affected, and why", (
            Level(0, "Describes the model ('emoji hurt') as if it were the users' experience, or names no cause."),
            Level(1, "Names a cause (code-switching, emoji once length is held fixed) but mixes up what a group "
                     "of users receives with what hurts the model."),
            Level(2, "Keeps both questions apart with a figure for each (emoji-heavy senders' raw rate, the "
                     "length-adjusted rate or paired edits), and puts the boundary on the users truly below "
                     "the bar: medium/long messages with heavy emoji, code-switched writers."),
        )),
        Criterion("What the product does, and what would change it", (
            Level(0, "No decision, or 'launch everywhere' / 'do not launch' with no link to the evidence."),
            Level(1, "A decision per slice (threshold, no suggestions, hold), but no cost in coverage and "
                     "nothing on what would change it."),
            Level(2, "A decision per slice with its cost in coverage, a quality promise backed by a lower bound, "
                     "and what would change the decision (more ratings, recalibration, a metric watched "
                     "after launch)."),
        )),
    )),
}


# Example answers per written exercise, scored by hand against the rubric: anchors for reviewers, and what
# the tests feed the checks. The strong one quotes only figures true for the canonical seed (2024); a test
# recomputes each of them.
EXAMPLES = {
    "boundary_statement": (
        ExampleAnswer("weak", (
            "Smart reply works well: 74% of suggestions are good, above our 70% bar, so we should launch it "
            "everywhere. Some users write with emoji, and those messages actually do better than the others, "
            "so emoji are not a problem for the model. Code-switched messages are a bit worse but the overall "
            "number is fine. We will keep an eye on quality after launch and fix anything that comes up. The "
            "team is confident that users will like the feature."), {
            "Where it fails, with evidence": 0, "Who is affected, and why": 0,
            "What the product does, and what would change it": 0}),
        ExampleAnswer("middling", (
            "Smart reply is 74% good overall, but code-switched messages do badly: Hindi with code-switching "
            "is at 47% and English with code-switching at 56%, under the 70% bar. Emoji also hurt the model: "
            "once message length is held fixed, emoji-heavy messages fall to 66%. We will turn suggestions off "
            "for code-switched Hindi and English and launch everywhere else. The other slices look fine on "
            "their point estimates, so they can go ahead."), {
            "Where it fails, with evidence": 1, "Who is affected, and why": 1,
            "What the product does, and what would change it": 1}),
        ExampleAnswer("strong", (
            "Smart reply meets the 70% launch bar overall (73.9% good, 95% CI 72.8% to 75.0%, n=6000), but not "
            "for every group of users. Judging all 10 slices at once with intervals at a shared 5% error budget, "
            "it is shown to miss the bar for Hindi with code-switching (47%, n=429) and English with "
            "code-switching (56%, n=136), and shown to meet it only for English, Hindi, Portuguese and Spanish. "
            "French, and French, Portuguese and Spanish with code-switching, are not shown to meet the bar "
            "(French with code-switching has only 15 ratings), so they do not launch as they are; about four "
            "times their ratings would settle them. Emoji-heavy senders receive 80% good suggestions because they mostly "
            "write short messages, yet emoji do hurt the model: length-adjusted, heavy emoji fall to 66%, and "
            "adding emoji to the same message flips 12% of good suggestions against 0.5% for a neutral edit. "
            "Scanning every pair of features on half the data and confirming on the other half, 12 of 21 suspects "
            "held, 8 of them long-message groups: long messages get 52% good suggestions (n=1176) in every "
            "language. The users below the bar are those who send long messages, medium messages with heavy "
            "emoji (65%, n=218) and the code-switched writers above, on whom the model is overconfident. Decision: we launch "
            "only behind per-slice trigger thresholds whose lower bound keeps shown quality at 80% or more, above "
            "the bar; they show suggestions in 4 of 10 slices, at 68% to 89% coverage there, and none where no threshold can prove the floor. We "
            "would change this if the model team recalibrates confidence on code-switched messages, and after "
            "launch we watch shown quality and coverage per slice every week."), {
            "Where it fails, with evidence": 2, "Who is affected, and why": 2,
            "What the product does, and what would change it": 2}),
    ),
}
