"""Module 01 — failure boundaries of a smart-reply feature: exercise definitions."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

GOOD_RATING = 4          # a suggestion rated 4 or 5 out of 5 counts as good
LAUNCH_BAR = 0.70        # every slice needs at least this share of good suggestions to launch
QUALITY_FLOOR = 0.80     # the share of good suggestions among those actually shown, per slice
MIN_SHOWN = 20           # fewer shown suggestions than this is too little evidence to trigger on
THRESHOLD_GRID = tuple(round(step * 0.05, 2) for step in range(20))  # 0.00, 0.05, ..., 0.95
SLICE_COUNT = 10         # five languages, each with and without code-switching
# Ten slices are ten claims at once: a 5% error budget shared among them (Bonferroni) gives each interval 0.5%.
SCAN_ALPHA = 0.05 / SLICE_COUNT
INTERVAL = ("ci_low", "ci_high")
EVIDENCE_BINS = ("below", "not_shown", "meets")
TOLERANCE = 5e-4         # answers rounded to 4 decimals pass; an error of a tenth of a point or more fails


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
        "Two numbers make this answer: how many suggestions are good (rating of GOOD_RATING or more), and how "
        "far that share could be from the truth given 6,000 ratings. Which interval stays honest on small "
        "samples too? Section 1 compares two.",
        "statsmodels' `proportion_confint(count, nobs, alpha=0.05, method=...)` returns (low, high); pick the "
        "method section 1 recommends.",
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
        "The same computation as exercise 1, once per slice: a count, a good rate and an interval for each. "
        "Which slices will have the widest intervals, and why?",
        "A groupby on `slice` gives counts and good counts per slice; proportion_confint accepts whole columns.",
    ),
    check_structure=_slice_structure, compare=_slice_compare,
)


# --- Exercise 3 --------------------------------------------------------------------------------

def _evidence_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, EVIDENCE_BINS, "launch_evidence")
    slices = set(_messages(data)["slice"].unique())
    placed: list[str] = []
    for name in EVIDENCE_BINS:
        placed += checks.require_labels(answer[name], slices, f"launch_evidence[{name!r}]")
    if len(placed) != len(set(placed)):
        raise Incorrect("Each slice goes in exactly one bin; one of them is in two.", 1)
    if set(placed) != slices:
        raise Incorrect(f"Every slice goes in one of the three bins; {len(slices) - len(placed)} are in none.", 1)


def _evidence_compare(answer: dict, expected: dict) -> None:
    given = {name: set(map(str, answer[name])) for name in EVIDENCE_BINS}
    if given["meets"] - set(expected["meets"]):
        raise Incorrect("Your 'meets' bin holds a slice whose interval still reaches below the launch bar: the "
                        "burden of proof is on the feature, so a slice meets the bar only when its whole "
                        "interval is at or above it. Did you use SCAN_ALPHA for the intervals?", 2)
    if given["below"] - set(expected["below"]):
        raise Incorrect("Your 'below' bin holds a slice whose interval still reaches the launch bar: a low "
                        "point estimate is not evidence on its own.", 1)
    if given != {name: set(expected[name]) for name in EVIDENCE_BINS}:
        raise Incorrect("Some slice is in a weaker bin than its evidence allows. Recompute the intervals at "
                        "SCAN_ALPHA and compare ci_low and ci_high with LAUNCH_BAR.", 2)


LAUNCH_EVIDENCE = Exercise(
    key="launch_evidence", number=3, title="Which slices are shown to meet the launch bar?", points=2,
    expects="a dict {'below': [slice, ...], 'not_shown': [slice, ...], 'meets': [slice, ...]} holding every slice once",
    hints=(
        "You are judging ten slices at once, so give each interval a share of the 5% error budget: recompute "
        "the Wilson intervals with alpha=SCAN_ALPHA. Then ask of each slice: does the whole interval sit on one "
        "side of LAUNCH_BAR, or does it straddle it?",
        "'below': the top of the interval is under the bar. 'meets': the bottom of the interval is at or above "
        "the bar. Everything else is 'not_shown': the data cannot yet say it meets the bar, so it does not launch.",
    ),
    check_structure=_evidence_structure, compare=_evidence_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

FEATURES = ("language", "code_switched", "length_band", "emoji_level")  # what a message can be grouped by
MIN_GROUP = 30           # a group needs this many explore-half messages before it is worth proposing
DISCOVERY_COLUMNS = ["explore_n", "explore_good_rate", "confirm_n", "confirm_good_rate", "confirm_ci_high", "confirmed"]


def group_label(feature_a: str, value_a: Any, feature_b: str, value_b: Any) -> str:
    """The name of the group of messages with feature_a == value_a and feature_b == value_b, features in FEATURES order."""
    if FEATURES.index(feature_a) > FEATURES.index(feature_b):
        feature_a, value_a, feature_b, value_b = feature_b, value_b, feature_a, value_a
    return f"{feature_a}={value_a} & {feature_b}={value_b}"


def explore_and_confirm(messages: Any) -> tuple[Any, Any]:
    """Split the messages in two halves: odd rows to find suspects, even rows to confirm them."""
    return messages.iloc[::2], messages.iloc[1::2]


def _discovery_structure(answer: Any, data: DataSource) -> None:
    messages = _messages(data)
    if not isinstance(answer, pd.DataFrame):
        raise Incorrect(f"confirmed_boundary should be a DataFrame, but it is {checks.type_name(answer)}.", 1)
    if answer.index.name != "group":
        raise Incorrect("confirmed_boundary should have one row per proposed group, indexed by `group` "
                        "(use group_label to name each one).", 1)
    valid = {group_label(a, va, b, vb) for i, a in enumerate(FEATURES) for b in FEATURES[i + 1:]
             for va in messages[a].unique() for vb in messages[b].unique()}
    unknown = [str(label) for label in answer.index if str(label) not in valid]
    if unknown:
        raise Incorrect(f"{unknown[0]!r} is not a group name that group_label makes from two features.", 1)
    if not len(answer):
        raise Incorrect("confirmed_boundary has no rows: propose every group under the bar in the explore half.", 1)
    missing = [column for column in DISCOVERY_COLUMNS if column not in answer.columns]
    if missing:
        raise Incorrect(f"confirmed_boundary is missing the column(s) {', '.join(f'`{c}`' for c in missing)}.", 1)
    checks.require_numeric_columns(answer, "confirmed_boundary", ["explore_n", "confirm_n"], 1, None, hint=1)
    _check_interval_columns(answer, "confirmed_boundary", "confirm_good_rate", "confirm_good_rate",
                            "confirm_ci_high", hint=2)
    checks.require_numeric_columns(answer, "confirmed_boundary", ["explore_good_rate"], 0.0, 1.0, hint=1)
    if ((answer["explore_n"] < MIN_GROUP) | (answer["explore_good_rate"] >= LAUNCH_BAR)).any():
        raise Incorrect("Propose only groups with at least MIN_GROUP explore-half messages and an explore good "
                        "rate under LAUNCH_BAR.", 1)
    confirmed = answer["confirmed"]
    if not all(isinstance(v, (bool, np.bool_)) for v in confirmed):
        raise Incorrect("The `confirmed` column holds True or False.", 2)
    if (confirmed != (answer["confirm_ci_high"].astype(float) < LAUNCH_BAR)).any():
        raise Incorrect("A group is confirmed exactly when its confirm-half interval lies wholly under the bar.", 2)


def _discovery_compare(answer: Any, expected: Any) -> None:
    given, wanted = {str(label) for label in answer.index}, set(expected.index)
    if given - wanted or wanted - given:
        raise Incorrect("Your proposals differ from the rule: every pair of two FEATURES, every group of the "
                        "explore half with at least MIN_GROUP messages and a good rate under the bar.", 1)
    answer = answer.set_axis([str(label) for label in answer.index]).rename_axis("group")
    checks.compare_columns(answer.astype({"confirmed": float}), expected.astype({"confirmed": float}),
                           "confirmed_boundary", {"explore_n": 1, "explore_good_rate": 1, "confirm_n": 2,
                                                  "confirm_good_rate": 2, "confirm_ci_high": 2, "confirmed": 2},
                           atol=TOLERANCE)


CONFIRMED_BOUNDARY = Exercise(
    key="confirmed_boundary", number=4, title="Find the boundary yourself, then confirm it", points=2,
    expects=f"a DataFrame indexed by `group` (named with group_label) with columns {', '.join(DISCOVERY_COLUMNS)}",
    hints=(
        "Look first, then test on data you did not look at. In the explore half, group the messages by every "
        "pair of two FEATURES and propose each group that is under the bar on at least MIN_GROUP messages. "
        "Only then open the confirm half. How many claims are you testing there, and what does that do to alpha?",
        "`itertools.combinations(FEATURES, 2)` gives the pairs; `explore.groupby([a, b])['good'].agg(...)` the "
        "groups. In the confirm half, each proposal's Wilson interval uses alpha = 0.05 / number of proposals; "
        "confirmed means confirm_ci_high < LAUNCH_BAR.",
    ),
    check_structure=_discovery_structure, compare=_discovery_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

EMOJI_LEVELS = ("none", "some", "heavy")


def _emoji_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "emoji_quality", "emoji_level", EMOJI_LEVELS,
                                 ["raw_good_rate", "adjusted_good_rate"], 1)
    checks.require_numeric_columns(frame, "emoji_quality", ["raw_good_rate", "adjusted_good_rate"], 0.0, 1.0, hint=1)


def _emoji_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected, "emoji_quality", {"raw_good_rate": 1, "adjusted_good_rate": 2})


EMOJI_QUALITY = Exercise(
    key="emoji_quality", number=5, title="Do emoji hurt? Compare like with like", points=2,
    expects="a DataFrame indexed by `emoji_level` with columns raw_good_rate and adjusted_good_rate",
    hints=(
        "Two questions, two numbers. raw_good_rate answers 'what do senders at this emoji level actually get?'. "
        "adjusted_good_rate answers 'would this level do as well if its messages were as long as everyone's?'.",
        "For the adjusted rate, take the good rate of each (emoji_level, length_band) cell and weight it by the "
        "share of that length band among *all* messages, not among that level's own messages.",
    ),
    check_structure=_emoji_structure, compare=_emoji_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

THRESHOLD_COLUMNS = ["threshold", "coverage", "shown_good_rate", "shown_ci_low"]


def _threshold_structure(answer: Any, data: DataSource) -> None:
    slices = _messages(data)["slice"].unique()
    frame = checks.require_frame(answer, "trigger_thresholds", "slice", slices, THRESHOLD_COLUMNS, 1)
    checks.require_numeric_columns(frame, "trigger_thresholds", ["threshold", "shown_good_rate", "shown_ci_low"],
                                   0.0, 1.0, allow_missing=True, hint=2)
    checks.require_numeric_columns(frame, "trigger_thresholds", ["coverage"], 0.0, 1.0, hint=1)
    off_grid = [s for s, t in frame["threshold"].items()
                if not np.isnan(float(t)) and min(abs(float(t) - g) for g in THRESHOLD_GRID) > 1e-9]
    if off_grid:
        raise Incorrect(f"Thresholds come from THRESHOLD_GRID; the one for {str(off_grid[0])!r} does not.", 1)
    never = frame["threshold"].isna()
    if ((frame.loc[never, "coverage"] != 0).any() or frame.loc[~never, "shown_good_rate"].isna().any()
            or frame.loc[~never, "shown_ci_low"].isna().any()):
        raise Incorrect("A slice with no threshold (NaN) shows nothing: coverage 0, shown_good_rate and "
                        "shown_ci_low NaN; a slice with a threshold has both.", 2)
    promised = frame.loc[~never, "shown_ci_low"].astype(float)
    if (promised < QUALITY_FLOOR - TOLERANCE).any():
        raise Incorrect("A slice has a threshold whose shown_ci_low is under QUALITY_FLOOR: that threshold does "
                        "not show, with evidence, that the floor holds.", 1)


def _threshold_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer, expected, "trigger_thresholds",
                           {"threshold": 1, "coverage": 1, "shown_good_rate": 1, "shown_ci_low": 2}, atol=TOLERANCE)


def deploy_thresholds(answer: Any, seed: int) -> Outcome:
    """Apply per-slice thresholds to the world of `seed`: true coverage and shown quality, against the best."""
    from aipmlab.datasets import smart_reply

    truth = smart_reply.slice_truth(smart_reply.world(seed), list(THRESHOLD_GRID))
    rows = {}
    for name, threshold in answer["threshold"].items():
        per_threshold = truth.xs(str(name), level="slice")
        feasible = per_threshold[per_threshold["shown_good_rate"] >= QUALITY_FLOOR]
        best_coverage = float(feasible["coverage"].max()) if len(feasible) else 0.0
        if pd.isna(threshold):
            coverage, quality = 0.0, np.nan
        else:
            at = per_threshold.iloc[int(np.argmin(np.abs(per_threshold.index.to_numpy() - float(threshold))))]
            coverage, quality = float(at["coverage"]), float(at["shown_good_rate"])
        rows[str(name)] = {"traffic_share": float(per_threshold["traffic_share"].iloc[0]), "coverage": coverage,
                           "true_shown_good_rate": quality, "best_coverage": best_coverage}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("slice")
    kept = table["true_shown_good_rate"].fillna(1.0) >= QUALITY_FLOOR
    # a slice shown under the floor breaks the promise: its coverage counts against the decision
    value = float((table["traffic_share"] * table["coverage"] * np.where(kept, 1.0, -1.0)).sum())
    best = float((table["traffic_share"] * table["best_coverage"]).sum())
    broken = sorted(table.index[~kept])
    summary = (f"In the world behind your data (its true quality, not your sample), {value:.1%} of all messages would get a suggestion that keeps the "
               f"{QUALITY_FLOOR:.0%} floor" + (f", but {', '.join(broken)} would be shown suggestions under the floor "
                                               f"(counted against you)" if broken else "")
               + f". The best thresholds in hindsight cover {best:.1%} (regret {max(0.0, best - value):.1%} of messages).")
    return Outcome("per-slice trigger thresholds", value, best, "share of messages with a suggestion at the floor",
                   True, summary, table.round(3))


TRIGGER_THRESHOLDS = Exercise(
    key="trigger_thresholds", number=6, title="A trigger threshold per slice", points=3,
    expects="a DataFrame indexed by `slice` with columns threshold, coverage, shown_good_rate, shown_ci_low",
    hints=(
        "A threshold is a promise that what users see is at least QUALITY_FLOOR good. Which number backs a "
        "promise: the shown good rate, or the bottom of its interval? You try 20 thresholds on 10 slices, so use "
        "the scan-wide alpha from exercise 3. Keep the lowest t that keeps the promise with at least MIN_SHOWN shown.",
        "For one slice and one t: shown = the messages with confidence >= t; shown_ci_low is the lower Wilson "
        "bound of their good rate at alpha=SCAN_ALPHA; coverage is len(shown) / len(slice). If no t works: "
        "threshold, shown_good_rate and shown_ci_low NaN, coverage 0.",
    ),
    check_structure=_threshold_structure, compare=_threshold_compare, deploy=deploy_thresholds,
)


# --- Exercise 7 --------------------------------------------------------------------------------

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
    key="invariance", number=7, title="See the boundary directly: paired edits", points=2,
    expects=f"a DataFrame indexed by `perturbation` with columns {', '.join(INVARIANCE_COLUMNS)}",
    hints=(
        "Per edit: how many pairs, the good rate before and after, and the flip rate. A flip is a good "
        "suggestion that stops being good after the edit, so ask: out of which pairs could a flip happen at all?",
        "The flip rate's denominator is the pairs that were good before the edit, and its Wilson interval uses "
        "that same count as n.",
    ),
    check_structure=_invariance_structure, compare=_invariance_compare,
)


# --- Exercise 8 --------------------------------------------------------------------------------

BOUNDARY_WRITTEN = Written(
    manual_points=6, min_words=60,
    must_mention=(("code-switch", "code switch", "code-switched", "code-switching"), ("emoji",)),
)
MIN_SENTENCES = 4
MIN_DISTINCT_WORD_SHARE = 0.5  # a real paragraph repeats few words; keyword salad repeats many


def _own_percentages(data: DataSource) -> set[int]:
    """Every slice's and emoji level's good rate in the learner's data, as whole percentages (rounded both ways)."""
    messages = _messages(data)
    good = messages["rating"] >= GOOD_RATING
    rates = [*good.groupby(messages["slice"]).mean(), *good.groupby(messages["emoji_level"]).mean(), good.mean()]
    return {int(np.floor(100 * r)) for r in rates} | {int(np.ceil(100 * r)) for r in rates}


def _statement_structure(answer: str, data: DataSource) -> None:
    sentences = [part for part in re.split(r"[.!?]+\s", answer.strip() + " ") if len(part.split()) >= 4]
    if len(sentences) < MIN_SENTENCES:
        raise Incorrect(f"boundary_statement should be a paragraph of at least {MIN_SENTENCES} full sentences, "
                        f"not a list of words.", 2)
    words = re.findall(r"[a-z]+", answer.lower())
    if len(set(words)) < MIN_DISTINCT_WORD_SHARE * len(words):
        raise Incorrect("boundary_statement repeats the same words over and over; write it for a reviewer.", 2)
    quoted = {int(match) for match in re.findall(r"(\d{1,3})(?:\.\d+)?\s?%", answer)}
    if not quoted & _own_percentages(data):
        raise Incorrect("boundary_statement quotes no good rate from your own results (as a percentage, e.g. "
                        "the rate of a slice you name). Every claim gets a figure from your analysis.", 2)


BOUNDARY_STATEMENT = Exercise(
    key="boundary_statement", number=8, title="Write the failure-boundary statement", points=0,
    expects="your statement as text in triple quotes",
    hints=(
        "A launch reviewer asks four things. Where does quality drop, and how sure are you (which slices are "
        "shown to miss the bar, which are merely not shown to meet it)? Who does that hit (a group of users, "
        "not a model weakness)? What does the product do in each place, at what cost in coverage? What would "
        "change the decision?",
        "Keep two questions apart: 'do emoji hurt the model?' and 'do emoji-heavy senders get good "
        "suggestions?' have different answers here. Every claim gets a figure from your analysis.",
    ),
    check_structure=_statement_structure, written=BOUNDARY_WRITTEN,
)


MODULE = Module(
    slug="01-failure-boundaries",
    title="Failure boundaries",
    purpose="Find where a smart-reply model fails, with evidence, and decide what the product does there.",
    minutes=115,
    tables=("smart_reply_messages", "smart_reply_invariance"),
    exercises=(OVERALL_QUALITY, SLICE_QUALITY, LAUNCH_EVIDENCE, CONFIRMED_BOUNDARY, EMOJI_QUALITY, TRIGGER_THRESHOLDS,
               INVARIANCE, BOUNDARY_STATEMENT),
)
