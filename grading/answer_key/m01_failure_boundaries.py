"""Answer key for module 01. Each function takes the learner's DataSource and returns the reference.

Never shipped to a candidate. The solution notebook computes the same answers its own way, so the
two cross-check each other in the tests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from aipmlab.answer_key import Criterion, Level, Rubric
from aipmlab.exercises.core import DataSource
from aipmlab.exercises.m01_failure_boundaries import (
    GOOD_RATING, LAUNCH_BAR, MIN_SHOWN, QUALITY_FLOOR, SCAN_ALPHA, THRESHOLD_GRID,
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


def emoji_quality(data: DataSource) -> pd.DataFrame:
    messages = _messages(data)
    raw = messages.groupby("emoji_level")["good"].mean()
    band_share = messages["length_band"].value_counts(normalize=True)
    cell_rate = messages.groupby(["emoji_level", "length_band"])["good"].mean().unstack("length_band")
    adjusted = (cell_rate[band_share.index] * band_share).sum(axis=1)
    return pd.DataFrame({"raw_good_rate": raw, "adjusted_good_rate": adjusted}).rename_axis("emoji_level")


def _lowest_threshold(slice_messages: pd.DataFrame) -> dict:
    for threshold in THRESHOLD_GRID:
        shown = slice_messages[slice_messages["confidence"] >= threshold]
        if len(shown) < MIN_SHOWN:
            continue
        low, _ = _wilson(int(shown["good"].sum()), len(shown), SCAN_ALPHA)
        if low >= QUALITY_FLOOR:
            return {"threshold": threshold, "coverage": len(shown) / len(slice_messages),
                    "shown_good_rate": shown["good"].mean(), "shown_ci_low": float(low)}
    return {"threshold": np.nan, "coverage": 0.0, "shown_good_rate": np.nan, "shown_ci_low": np.nan}


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
            Level(0, "No slice named, or slices named from point estimates alone."),
            Level(1, "Names the failing slices with their good rates, but no intervals or sample sizes."),
            Level(2, "Names the slices below the bar with rates and intervals, and keeps inconclusive slices "
                     "apart from confirmed ones."),
        )),
        Criterion("What the product does about it", (
            Level(0, "No decision, or 'launch everywhere' / 'do not launch' with no link to the evidence."),
            Level(1, "A decision per slice (threshold, no suggestions, hold), including what it costs in "
                     "coverage and why that cost is worth paying."),
        )),
        Criterion("What happens next", (
            Level(0, "Nothing on what is still unknown."),
            Level(1, "Says what would change the decision: more ratings for inconclusive slices, the emoji "
                     "effect once length is held fixed, and a metric to watch after launch."),
        )),
    )),
}


# A full-mark answer per written exercise: an anchor for reviewers, and what the tests feed the checks.
EXAMPLES = {
    "boundary_statement": (
        "Smart reply clears the 70% bar overall (73% good, 95% CI 72% to 74%, n=6000) but not everywhere. "
        "Hindi with code-switching (39%, CI 34% to 44%, n=429) and Spanish with code-switching (54%, CI 48% to 60%) "
        "are below the bar with evidence. English and Portuguese with code-switching are under it on point "
        "estimates but their intervals reach 70%, so we will quadruple their ratings before deciding. Emoji-heavy "
        "messages look fine only because they are short: length-adjusted they fall to 66%, and adding emoji to the "
        "same message flips 13% of good suggestions against 1% for a neutral edit. We launch with a per-slice "
        "trigger threshold that keeps shown quality at 80%, accept losing about 90% of coverage in code-switched "
        "Hindi, and review shown quality and coverage per slice every week after launch."
    ),
}

# TRANSITION (truth pass): each written answer still has only its full-mark example; weak and middling come next.
from aipmlab.answer_key import ExampleAnswer  # noqa: E402

EXAMPLES = {key: (ExampleAnswer("strong", text, {c.name: c.max_points for c in RUBRICS[key].criteria}),)
            for key, text in EXAMPLES.items()}
