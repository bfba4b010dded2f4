"""Module 01 — failure boundaries of a smart-reply feature: exercise definitions."""

from __future__ import annotations

from typing import Any

import numpy as np

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Written

GOOD_RATING = 4          # a suggestion rated 4 or 5 out of 5 counts as good
LAUNCH_BAR = 0.70        # every slice needs at least this share of good suggestions to launch
QUALITY_FLOOR = 0.80     # the share of good suggestions among those actually shown, per slice
MIN_SHOWN = 20           # fewer shown suggestions than this is too little evidence to trigger on
THRESHOLD_GRID = tuple(round(step * 0.05, 2) for step in range(20))  # 0.00, 0.05, ..., 0.95
INTERVAL = ("ci_low", "ci_high")


def _messages(data: DataSource):
    return data.load("smart_reply_messages")


def _check_interval_columns(frame: Any, name: str, rate: str, low: str, high: str, hint: int) -> None:
    checks.require_numeric_columns(frame, name, [rate, low, high], 0.0, 1.0, hint=hint)
    inverted = frame[(frame[low] > frame[rate] + 1e-9) | (frame[rate] > frame[high] + 1e-9)]
    if len(inverted):
        raise Incorrect(f"In {name}, every `{low}` ≤ `{rate}` ≤ `{high}`; "
                        f"that fails for {str(inverted.index[0])!r}.", hint)


# --- Exercise 1 --------------------------------------------------------------------------------

def _overall_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["n", "good_rate", "ci_low", "ci_high"], "overall_quality")
    n = checks.require_number(answer["n"], "overall_quality['n']")
    if n != len(_messages(data)):
        raise Incorrect("overall_quality['n'] should count every rated message in `messages`.", 1)
    values = {k: checks.require_probability(answer[k], f"overall_quality[{k!r}]") for k in ("good_rate", *INTERVAL)}
    if not values["ci_low"] <= values["good_rate"] <= values["ci_high"]:
        raise Incorrect("The good rate should lie inside its interval: ci_low ≤ good_rate ≤ ci_high.", 2)


def _overall_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "good_rate": ("The good rate is off. A suggestion is good when its rating is 4 or 5.", 1),
        **{bound: (f"{bound} is off. Use a 95% Wilson score interval, not the normal (Wald) one.", 2)
           for bound in INTERVAL},
    })


OVERALL_QUALITY = Exercise(
    key="overall_quality", number=1, title="How good is smart reply overall?", points=1,
    expects="a dict with keys 'n', 'good_rate', 'ci_low' and 'ci_high'",
    hints=(
        "A suggestion is good when `rating >= 4`. The good rate is the share of messages whose "
        "suggestion is good: `messages['good'].mean()` once you have that column.",
        "For the interval: `from statsmodels.stats.proportion import proportion_confint`, then "
        "`proportion_confint(count, nobs, alpha=0.05, method='wilson')` returns (low, high).",
    ),
    check_structure=_overall_structure, compare=_overall_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

def _slice_structure(answer: Any, data: DataSource) -> None:
    slices = _messages(data)["slice"].unique()
    frame = checks.require_frame(answer, "slice_quality", "slice", slices, ["n", "good_rate", *INTERVAL], 1)
    checks.require_numeric_columns(frame, "slice_quality", ["n"], 1, None, hint=1)
    _check_interval_columns(frame, "slice_quality", "good_rate", *INTERVAL, hint=2)


def _slice_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected, "slice_quality",
                           {"n": 1, "good_rate": 1, "ci_low": 2, "ci_high": 2})


SLICE_QUALITY = Exercise(
    key="slice_quality", number=2, title="Quality by slice, with honest intervals", points=2,
    expects="a DataFrame indexed by `slice` with columns n, good_rate, ci_low, ci_high",
    hints=(
        "Group by the `slice` column: `messages.groupby('slice')['good'].agg(n='size', good='sum')` "
        "gives the count and the number of good suggestions per slice. good_rate is good / n.",
        "proportion_confint accepts whole columns: pass the good counts and the n column with "
        "method='wilson', and assign the two arrays it returns to ci_low and ci_high.",
    ),
    check_structure=_slice_structure, compare=_slice_compare,
)


# --- Exercise 3 --------------------------------------------------------------------------------

def _evidence_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["below", "inconclusive"], "launch_evidence")
    slices = _messages(data)["slice"].unique()
    below = checks.require_labels(answer["below"], slices, "launch_evidence['below']")
    inconclusive = checks.require_labels(answer["inconclusive"], slices, "launch_evidence['inconclusive']")
    if set(below) & set(inconclusive):
        raise Incorrect("A slice is either clearly below the bar or inconclusive, not both.", 1)


def _evidence_compare(answer: dict, expected: dict) -> None:
    below, inconclusive = set(map(str, answer["below"])), set(map(str, answer["inconclusive"]))
    if below - set(expected["below"]):
        raise Incorrect("Your 'below' list includes a slice whose interval still reaches the launch bar: "
                        "a low point estimate is not evidence on its own.", 1)
    if set(expected["below"]) - below:
        raise Incorrect("Your 'below' list misses a slice whose whole interval lies under the launch bar.", 1)
    if inconclusive != set(expected["inconclusive"]):
        raise Incorrect("Your 'inconclusive' list is off: it should hold exactly the slices whose point "
                        "estimate is under the bar while their interval still reaches it.", 2)


LAUNCH_EVIDENCE = Exercise(
    key="launch_evidence", number=3, title="Which slices miss the launch bar, with evidence?", points=2,
    expects="a dict {'below': [slice, ...], 'inconclusive': [slice, ...]}",
    hints=(
        "A slice is below the bar *with evidence* when even the top of its interval, ci_high, is under "
        "LAUNCH_BAR.",
        "Inconclusive: the point estimate good_rate is under LAUNCH_BAR, but ci_high is not. Those "
        "slices need more ratings before anyone can say.",
    ),
    check_structure=_evidence_structure, compare=_evidence_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

EMOJI_LEVELS = ("none", "some", "heavy")


def _emoji_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "emoji_quality", "emoji_level", EMOJI_LEVELS,
                                 ["raw_good_rate", "adjusted_good_rate"], 1)
    checks.require_numeric_columns(frame, "emoji_quality", ["raw_good_rate", "adjusted_good_rate"], 0.0, 1.0, hint=1)


def _emoji_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected, "emoji_quality", {"raw_good_rate": 1, "adjusted_good_rate": 2})


EMOJI_QUALITY = Exercise(
    key="emoji_quality", number=4, title="Do emoji hurt? Compare like with like", points=2,
    expects="a DataFrame indexed by `emoji_level` with columns raw_good_rate and adjusted_good_rate",
    hints=(
        "raw_good_rate is the plain good rate of each emoji level. adjusted_good_rate answers: what would "
        "that level's good rate be if its messages had the same length mix as all messages?",
        "Compute the good rate of each (emoji_level, length_band) cell, and the share of each length band "
        "among *all* messages. The adjusted rate of a level is the sum over bands of cell rate × band share.",
    ),
    check_structure=_emoji_structure, compare=_emoji_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

def _threshold_structure(answer: Any, data: DataSource) -> None:
    slices = _messages(data)["slice"].unique()
    frame = checks.require_frame(answer, "trigger_thresholds", "slice", slices,
                                 ["threshold", "coverage", "shown_good_rate"], 1)
    checks.require_numeric_columns(frame, "trigger_thresholds", ["threshold", "shown_good_rate"], 0.0, 1.0,
                                   allow_missing=True, hint=2)
    checks.require_numeric_columns(frame, "trigger_thresholds", ["coverage"], 0.0, 1.0, hint=1)
    off_grid = [s for s, t in frame["threshold"].items()
                if not np.isnan(float(t)) and min(abs(float(t) - g) for g in THRESHOLD_GRID) > 1e-9]
    if off_grid:
        raise Incorrect(f"Thresholds come from THRESHOLD_GRID; the one for {str(off_grid[0])!r} does not.", 1)
    never = frame["threshold"].isna()
    if (frame.loc[never, "coverage"] != 0).any() or frame.loc[~never, "shown_good_rate"].isna().any():
        raise Incorrect("A slice with no threshold (NaN) shows nothing: coverage 0 and shown_good_rate NaN; "
                        "a slice with a threshold has a shown_good_rate.", 2)


def _threshold_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected, "trigger_thresholds",
                           {"threshold": 1, "coverage": 1, "shown_good_rate": 1}, atol=5e-4)


TRIGGER_THRESHOLDS = Exercise(
    key="trigger_thresholds", number=5, title="A trigger threshold per slice", points=3,
    expects="a DataFrame indexed by `slice` with columns threshold, coverage, shown_good_rate",
    hints=(
        "For one slice, try each threshold t in THRESHOLD_GRID from the lowest up. Shown messages are those "
        "with confidence >= t. Keep the first t where at least MIN_SHOWN messages are shown and their good "
        "rate is at least QUALITY_FLOOR: the lowest such t keeps the most coverage.",
        "coverage is shown messages / all messages in the slice. If no t on the grid works, the slice gets "
        "threshold NaN, coverage 0 and shown_good_rate NaN: suggest nothing there.",
    ),
    check_structure=_threshold_structure, compare=_threshold_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

INVARIANCE_COLUMNS = ["pairs", "good_before", "good_after", "flip_rate", "flip_ci_low", "flip_ci_high"]


def _invariance_structure(answer: Any, data: DataSource) -> None:
    perturbations = data.load("smart_reply_invariance")["perturbation"].unique()
    frame = checks.require_frame(answer, "invariance", "perturbation", perturbations, INVARIANCE_COLUMNS, 1)
    checks.require_numeric_columns(frame, "invariance", ["pairs"], 1, None, hint=1)
    checks.require_numeric_columns(frame, "invariance", ["good_before", "good_after"], 0.0, 1.0, hint=1)
    _check_interval_columns(frame, "invariance", "flip_rate", "flip_ci_low", "flip_ci_high", hint=2)


def _invariance_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected, "invariance",
                           {"pairs": 1, "good_before": 1, "good_after": 1, "flip_rate": 2,
                            "flip_ci_low": 2, "flip_ci_high": 2})


INVARIANCE = Exercise(
    key="invariance", number=6, title="See the boundary directly: paired edits", points=2,
    expects=f"a DataFrame indexed by `perturbation` with columns {', '.join(INVARIANCE_COLUMNS)}",
    hints=(
        "Mark each pair good before (rating_original >= 4) and good after (rating_perturbed >= 4), then "
        "group by perturbation: pairs is the count, good_before and good_after are the two good rates.",
        "flip_rate is measured only on pairs that were good before: the share of them that are no longer "
        "good after the edit. Its Wilson interval uses that count of good-before pairs as n.",
    ),
    check_structure=_invariance_structure, compare=_invariance_compare,
)


# --- Exercise 7 --------------------------------------------------------------------------------

BOUNDARY_WRITTEN = Written(
    manual_points=4, min_words=60,
    must_mention=(("code-switch", "code switch", "code-switched", "code-switching", "emoji", "Hindi", "Spanish"),),
)


BOUNDARY_STATEMENT = Exercise(
    key="boundary_statement", number=7, title="Write the failure-boundary statement", points=0,
    expects="your statement as text in triple quotes",
    hints=(
        "A launch reviewer wants four things: where quality drops (the slices, with the numbers and their "
        "intervals), how sure you are (which slices are inconclusive), what the product does about it "
        "(trigger thresholds, no suggestions in a slice), and what you will measure next.",
        "Keep it to one paragraph of plain words. Every claim gets a figure from your analysis.",
    ),
    written=BOUNDARY_WRITTEN,
)


MODULE = Module(
    slug="01-failure-boundaries",
    title="Failure boundaries",
    purpose="Find where a smart-reply model fails, with evidence, and decide what the product does there.",
    minutes=75,
    tables=("smart_reply_messages", "smart_reply_invariance"),
    exercises=(OVERALL_QUALITY, SLICE_QUALITY, LAUNCH_EVIDENCE, EMOJI_QUALITY, TRIGGER_THRESHOLDS, INVARIANCE,
               BOUNDARY_STATEMENT),
)
