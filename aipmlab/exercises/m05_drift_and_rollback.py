"""Module 05 — drift, degradation and rollback: exercise definitions, and the rule written before looking.

The rollback rule is fixed with `fix_rule` before the post-update weeks load: it records the rule's
SHA-256 and how many times the evaluation data had been loaded in this kernel when it was fixed.
`load_evaluation` refuses to load the post-update weeks without a fixed rule, and counts each load.
The check (in the kernel, under papermill, and in the grading engine, which runs the notebook top to
bottom and reads `rollback_rule` as plain data) accepts the rule only if its hash matches its content
and no evaluation data had been loaded before it was fixed: a rule re-fixed after loading, changed
after fixing, or written below the data is caught.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

FEATURES = ("account_age_days", "prior_refund_rate", "hours_to_request", "order_value", "delivery_km")
PREDICTIVE = FEATURES[:3]
CONTEXT = FEATURES[3:]
UPDATE_WEEK = 8
NOW_WEEK = 15
WEEKS = tuple(range(16))
REFERENCE_WEEKS = (0, 1, 2, 3)          # the drift reference: the first four weeks of the old model
NOISE_WEEKS = (4, 5, 6, 7)              # pre-update weeks with no shift: what noise alone looks like
POST_WEEKS = tuple(range(UPDATE_WEEK, 16))
DRIFT_WEEKS = NOISE_WEEKS + POST_WEEKS
BINS = 10                               # PSI and JS on the reference's deciles
SHARE_FLOOR = 1e-4                      # an empty bin counts as this share, so PSI stays finite (a convention)
ALARM_QUANTILE = 0.99                   # the alarm: noise alone crosses it about once in 100 feature-weeks
PSI_BANDS = ((0.1, "small"), (0.25, "moderate"), (math.inf, "large"))  # conventions, no error-rate guarantee
Z = 1.959963984540054
RULE_KEYS = ("metric", "baseline", "quality_floor", "min_label_maturity", "consecutive_weeks", "on_drift_alone")
DRIFT_ACTIONS = ("investigate", "roll_back")
DECISIONS = ("roll_back", "roll_forward", "hold")
QUALITY_COLUMNS = ("requests", "review_rate", "caught", "missed_known", "maturity", "known_catch_rate",
                   "catch_rate", "ci_low", "ci_high")
SHIFT_KINDS = ("covariate", "label", "concept")
WEEK_TOLERANCE = 1                      # a shift's week is found within one week (weekly evidence is noisy)

# Tolerances, each a stated choice: answers rounded to 4 decimals pass, a material error fails.
SHARE_ATOL = 5e-4
PSI_ATOL = 5e-4
COUNT_ATOL = 5e-3                       # estimated counts (a count divided by a maturity)


# --- the rule written before looking ------------------------------------------------------------------------

_EVALUATION_LOADS = [0]  # loads of the post-update weeks in this process (a kernel, a grader's sandbox, a test)


def rule_digest(rule: Mapping) -> str:
    """SHA-256 of a rule's fields (not its seal), in a canonical JSON form."""
    from aipmlab.serialize import to_json

    fields = to_json({key: rule[key] for key in sorted(rule) if key != "fixed"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


def seal(rule: Mapping, loads_before: int) -> dict:
    """The rule with its seal: its hash and how often the evaluation data had loaded before it was fixed."""
    fields = {key: value for key, value in rule.items() if key != "fixed"}
    return {**fields, "fixed": {"sha256": rule_digest(fields), "evaluation_loads_before": int(loads_before)}}


def fix_rule(rule: Mapping) -> dict:
    """Fix the rollback rule now, before the post-update weeks load: returns it sealed with its hash."""
    if not isinstance(rule, Mapping):
        raise TypeError("fix_rule takes the rule as a dict.")
    return seal(rule, _EVALUATION_LOADS[0])


def load_evaluation(lab: Any, rule: Any) -> pd.DataFrame:
    """The post-update weeks, only once a rule is fixed; each load is counted, so a rule fixed later shows it.
    While the rule is still `...`, says so and returns the table with no rows, so later cells can wait."""
    from aipmlab.exercises.core import is_stub
    from aipmlab.lab import IncorrectAnswer

    if is_stub(rule):
        print("The post-update weeks stay closed until you fix your rollback rule (exercise 1).")
        return lab.load("refund_requests_before").iloc[0:0]
    try:
        _rule_seal(rule)
    except Incorrect as missing:
        raise IncorrectAnswer(f"The post-update weeks stay closed until the rollback rule is fixed. "
                              f"{missing.message}") from None
    _EVALUATION_LOADS[0] += 1
    return lab.load("refund_requests_after")


def _rule_seal(rule: Any) -> dict:
    if not isinstance(rule, Mapping) or not isinstance(rule.get("fixed"), Mapping):
        raise Incorrect("rollback_rule has no seal: write it as `rollback_rule = fix_rule({...})` in its own cell, "
                        "above the cell that loads the post-update weeks.", 1)
    stamp = rule["fixed"]
    if set(stamp) != {"sha256", "evaluation_loads_before"}:
        raise Incorrect("rollback_rule['fixed'] is the seal fix_rule writes; leave it as it is.", 1)
    if stamp["sha256"] != rule_digest(rule):
        raise Incorrect("rollback_rule was changed after it was fixed: its content no longer matches its hash. A rule "
                        "written before looking is not edited after looking; restart the kernel, fix the rule you "
                        "wrote first and run from the top.", 1)
    return dict(stamp)


# --- shared definitions a learner uses --------------------------------------------------------------------

def wilson_interval(successes: float, n: float, z: float = Z) -> tuple[float, float]:
    """Wilson score interval for a share of `successes` out of `n` (n may be an estimated, non-whole count)."""
    if not n > 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return (centre - half, centre + half)


def apply_rule(rule: Mapping, quality: pd.DataFrame) -> dict:
    """The pre-registered rule on a weekly quality table: which weeks it judges, and what it decides."""
    table = quality.loc[[w for w in quality.index if int(w) >= UPDATE_WEEK]]
    eligible = [int(w) for w in table.index if table.at[w, "maturity"] >= float(rule["min_label_maturity"])]
    judged = eligible[-int(rule["consecutive_weeks"]):] if eligible else []
    floor = float(rule["quality_floor"])
    if len(judged) < int(rule["consecutive_weeks"]):
        decision = "hold"
    elif all(table.at[w, "ci_high"] < floor for w in judged):
        decision = "roll_back"
    elif all(table.at[w, "ci_low"] >= floor for w in judged):
        decision = "roll_forward"
    else:
        decision = "hold"
    return {"decision": decision, "judged_weeks": judged}


def auc_by_week(rows: pd.DataFrame, features: Sequence[str], label: str = "abuse") -> pd.DataFrame:
    """Each feature's AUC alone, week by week, on the rows whose label is known: roc_auc_score's figure, the chance
    that a random abusive row has the higher value (ties count half). NaN for a week without both classes."""
    known = rows[rows[label].notna()]
    week = known["week"].to_numpy()
    positive = known[label].to_numpy(dtype=float) == 1
    positives = pd.Series(positive).groupby(week).sum()
    pairs = positives * (pd.Series(~positive).groupby(week).sum())
    rank_sums = known.groupby("week")[list(features)].rank()[positive].groupby(week[positive]).sum()
    auc = rank_sums.reindex(positives.index, fill_value=0.0).sub(positives * (positives + 1) / 2, axis=0)
    return auc.div(pairs.where(pairs > 0), axis=0).rename_axis("week")


def psi_band(value: float) -> str:
    """The conventional PSI band of a value: small, moderate or large (a convention, not a test)."""
    return next(name for upper, name in PSI_BANDS if value < upper)


# --- Exercise 1: the rollback rule --------------------------------------------------------------------------

def _rule_structure(answer: Any, data: DataSource) -> None:
    stamp = _rule_seal(answer)
    checks.require_mapping({k: v for k, v in answer.items() if k != "fixed"}, RULE_KEYS, "rollback_rule", 2)
    if stamp["evaluation_loads_before"] != 0:
        raise Incorrect("rollback_rule was fixed after the post-update weeks had been loaded in this kernel, so it "
                        "may have been written after looking. Restart the kernel and run from the top: the rule "
                        "cell runs before the data cell.", 1)
    if answer["metric"] != "catch_rate":
        raise Incorrect("rollback_rule['metric'] should be 'catch_rate': the share of abusive requests sent to "
                        "review, the quality the rule protects.", 2)
    baseline = checks.require_probability(answer["baseline"], "rollback_rule['baseline']", 2)
    floor = checks.require_probability(answer["quality_floor"], "rollback_rule['quality_floor']", 3)
    if not baseline - 0.15 <= floor <= baseline:
        raise Incorrect("rollback_rule['quality_floor'] should sit at or a little below the baseline (within 0.15): "
                        "the worst catch rate you would accept from the new model.", 3)
    maturity = checks.require_probability(answer["min_label_maturity"], "rollback_rule['min_label_maturity']", 3)
    if maturity < 0.5:
        raise Incorrect("rollback_rule['min_label_maturity'] below 0.5 judges weeks whose misses mostly have not "
                        "arrived yet; choose at least 0.5.", 3)
    weeks = checks.require_whole_number(answer["consecutive_weeks"], "rollback_rule['consecutive_weeks']", 1, 3)
    if weeks > 3:
        raise Incorrect("rollback_rule['consecutive_weeks'] above 3 waits a month for evidence while users pay; "
                        "choose 1, 2 or 3.", 3)
    if answer["on_drift_alone"] not in DRIFT_ACTIONS:
        raise Incorrect(f"rollback_rule['on_drift_alone'] should be one of {', '.join(map(repr, DRIFT_ACTIONS))}.", 4)
    if answer["on_drift_alone"] == "roll_back":
        raise Incorrect("A drift alarm alone says the inputs moved, not that users are served worse. What should "
                        "happen when inputs drift but the catch rate holds?", 4)


def _rule_compare(answer: dict, expected: dict) -> None:
    if not checks.numbers_match(answer["baseline"], expected["baseline"], SHARE_ATOL):
        raise Incorrect("rollback_rule['baseline'] is off. It is the old model's catch rate over the eight "
                        "pre-update weeks: of the abusive requests, the share that went to review.", 2)


LAST_READING_WEEK = 19  # deploying a rule reads the logs each week until this one


def _weekly_quality(logs: pd.DataFrame, read_at: int) -> pd.DataFrame:
    """The quality table as it reads at the end of `read_at`: post-update weeks so far, labels settled by then."""
    return _quality_readings(logs, [read_at])[read_at]


def _quality_readings(logs: pd.DataFrame, read_ats: Iterable[int]) -> dict[int, pd.DataFrame]:
    """`_weekly_quality` at each week of `read_ats`, reading the logs' columns once."""
    week = logs["week"].to_numpy()
    settled_week = logs["settled_week"].to_numpy(dtype=float)
    reviewed = logs["reviewed"].to_numpy() == 1
    abusive = logs["abuse"].to_numpy(dtype=float) == 1
    caught, uncaught, unreviewed = reviewed & abusive, ~reviewed & abusive, ~reviewed
    readings = {}
    for read_at in read_ats:
        seen = (week >= UPDATE_WEEK) & (week <= read_at)
        settled = settled_week <= read_at
        weeks, position = np.unique(week[seen], return_inverse=True)
        flags = {"caught": caught, "missed_known": uncaught & settled, "unreviewed": unreviewed,
                 "settled_unreviewed": unreviewed & settled}
        table = pd.DataFrame({name: np.bincount(position, weights=flag[seen], minlength=weeks.size)
                              for name, flag in flags.items()}, index=pd.Index(weeks, name="week"))
        table["maturity"] = table["settled_unreviewed"] / table["unreviewed"]
        missed = (table["missed_known"] / table["maturity"]).where(table["maturity"] > 0)
        bounds = [wilson_interval(c, c + m) if m == m else (math.nan, math.nan)
                  for c, m in zip(table["caught"], missed)]
        table["ci_low"], table["ci_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
        readings[read_at] = table
    return readings


def _deploy_rule(answer: dict, seed: int) -> Outcome:
    """Run the shop again from the world of `seed` and read it weekly with the rule: when it fires, and what the
    weeks before cost users, against rolling back the week v2 fell behind v1 (the best in hindsight)."""
    from aipmlab.datasets import refund_requests as simulator

    world = simulator.cached_world(seed)
    logs, _ = simulator.draw_weeks(world, np.random.default_rng([seed, 5050]), range(LAST_READING_WEEK + 1),
                                   now=10**6)
    tables = _quality_readings(logs, range(UPDATE_WEEK + 1, LAST_READING_WEEK + 1))
    readings = {week: apply_rule(answer, table) for week, table in tables.items()}
    fired = next((week for week, reading in readings.items() if reading["decision"] == "roll_back"), None)
    served_v2_until = fired if fired is not None else LAST_READING_WEEK
    gap = {week: simulator.weekly_harm(world, "v2", week)["abuse_missed"]
           - simulator.weekly_harm(world, "v1", week)["abuse_missed"] for week in range(LAST_READING_WEEK + 1)}
    behind = [week for week in range(UPDATE_WEEK, LAST_READING_WEEK + 1) if gap[week] > 0]
    start = behind[0] if behind else LAST_READING_WEEK + 1
    late_cost = sum(gap[week] for week in range(start, served_v2_until + 1))
    early_cost = sum(-gap[week] for week in range((fired or LAST_READING_WEEK) + 1, start)) if fired else 0.0
    value = late_cost + early_cost
    when = (f"fires at the end of week {fired}" if fired is not None
            else f"has not fired by the end of week {LAST_READING_WEEK}")
    weekly = gap[LAST_READING_WEEK]
    if not behind:
        story = (f"v2 never fell behind v1 up to week {LAST_READING_WEEK}, so every week v1 served instead cost "
                 f"users: about {value:,.0f} more abusive refunds in all.")
    elif fired is not None and fired < start:
        story = (f"It fired before v2 fell behind v1 (from week {start}), so v1 served weeks in which v2 was "
                 f"better: about {value:,.0f} more abusive refunds paid.")
    else:
        story = (f"v2 fell behind v1 from week {start}; the weeks it kept serving after that paid about {value:,.0f} "
                 f"more abusive refunds than v1 would have. Rolling back the week it fell behind (possible only in "
                 f"hindsight) would have saved them; each week of waiting costs about {max(weekly, 0):,.0f}.")
    summary = f"Run again on the same shop and read weekly, your rule {when}. {story}"
    table = pd.DataFrame({"decision": {w: r["decision"] for w, r in readings.items()},
                          "judged_weeks": {w: r["judged_weeks"] for w, r in readings.items()}}).rename_axis("read_at")
    return Outcome(f"rule firing at week {fired}" if fired is not None else "rule never firing", value, 0.0,
                   "extra abusive refunds paid before the rollback", False, summary, table)


RULE_TEMPLATE = {"metric": "catch_rate", "baseline": "v1's catch rate before the update",
                 "quality_floor": "...", "min_label_maturity": "...", "consecutive_weeks": "...",
                 "on_drift_alone": "investigate or roll_back"}

ROLLBACK_RULE = Exercise(
    key="rollback_rule", number=1, title="The rollback rule, fixed before looking", points=2,
    expects="the rule as `fix_rule({...})`, a dict with keys " + ", ".join(map(repr, RULE_KEYS)),
    hints=(
        "Write the rule as `rollback_rule = fix_rule({...})` and run it before the cell that loads the post-update "
        "weeks. If you re-run it after loading, it records that, and the check will ask you to restart and run "
        "from the top.",
        "The baseline is what the old model achieved: in `before`, among rows with abuse == 1, the share with "
        "reviewed == 1. Every label of those weeks has arrived, so no correction is needed.",
        "Before you choose numbers, ask: how much worse than v1 may v2 be before users are better off with v1 "
        "(quality_floor)? How much of a week's labels must have arrived before its catch rate means anything "
        "(min_label_maturity)? How many bad weeks in a row before you act (consecutive_weeks)?",
        "What does a drift alarm tell you about users? Inputs can move while the catch rate holds (a new market, "
        "say); the rule should say what happens then.",
    ),
    check_structure=_rule_structure, compare=_rule_compare, deploy=_deploy_rule,
)


# --- Exercise 2: drift per feature and week ------------------------------------------------------------------

DRIFT_COLUMNS = ["feature", "week", "psi", "ks", "js"]


def _drift_structure(answer: Any, data: DataSource) -> None:
    if not isinstance(answer, pd.DataFrame):
        raise Incorrect(f"drift should be a DataFrame, but it is {checks.type_name(answer)}.", 1)
    frame = answer.reset_index() if answer.index.name is not None or isinstance(answer.index, pd.MultiIndex) \
        else answer
    missing = [column for column in DRIFT_COLUMNS if column not in frame.columns]
    if missing:
        raise Incorrect(f"drift should have the columns {', '.join(DRIFT_COLUMNS)}; missing "
                        f"{', '.join(missing)}.", 1)
    pairs = set(zip(frame["feature"].astype(str), frame["week"].astype(int)))
    expected = {(f, w) for f in FEATURES for w in DRIFT_WEEKS}
    if pairs != expected or len(frame) != len(expected):
        raise Incorrect(f"drift should have one row per feature and week, for the {len(FEATURES)} features and "
                        f"weeks {DRIFT_WEEKS[0]} to {DRIFT_WEEKS[-1]} (the reference weeks 0-3 are the baseline, "
                        f"not rows).", 1)
    checks.require_numeric_columns(frame, "drift", ["psi"], 0.0, None, hint=2)
    checks.require_numeric_columns(frame, "drift", ["ks", "js"], 0.0, 1.0, hint=3)


def _long(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index() if frame.index.name is not None or isinstance(frame.index, pd.MultiIndex) else frame
    frame = frame.assign(feature=frame["feature"].astype(str), week=frame["week"].astype(int))
    return frame.set_index(["feature", "week"]).sort_index()


def _drift_compare(answer: Any, expected: Any) -> None:
    got, want = _long(answer), _long(expected)
    advice = {"psi": ("psi is off. Bin each feature on the reference weeks' deciles, take each week's share per "
                      "bin, floor empty shares at SHARE_FLOOR, and sum (actual - expected) x ln(actual / expected).",
                      2),
              "ks": ("ks is off. It is the largest gap between the two empirical distribution functions, the "
                     "reference weeks' and the week's (scipy.stats.ks_2samp gives it).", 3),
              "js": ("js is off. Use the same decile bins as PSI, and scipy.spatial.distance.jensenshannon with "
                     "base=2 (a distance: the square root of the divergence).", 3)}
    for column, (message, hint) in advice.items():
        gap = (got[column].astype(float) - want[column].reindex(got.index).astype(float)).abs()
        if (gap > PSI_ATOL).any():
            raise Incorrect(message, hint)


DRIFT = Exercise(
    key="drift", number=2, title="Drift per feature and week: PSI, KS and Jensen-Shannon", points=3,
    expects="a DataFrame with columns feature, week, psi, ks, js: one row per feature and week 4 to 15",
    hints=(
        "The reference is weeks 0-3 of `before` (`REFERENCE_WEEKS`); compare every later week with it, feature by "
        "feature. A long table (one row per feature and week) is easiest to build as a list of dicts.",
        "Bins: `edges = np.quantile(reference_values, np.linspace(0, 1, BINS + 1))[1:-1]`, then "
        "`np.searchsorted(edges, values, side='right')` gives each value's bin, 0 to BINS - 1. Shares per bin with "
        "`np.bincount(..., minlength=BINS) / len(values)`, floored at SHARE_FLOOR. Which of the two is 'expected' "
        "in the PSI formula?",
        "KS needs no bins: `scipy.stats.ks_2samp(reference_values, week_values).statistic`. JS uses the PSI bins: "
        "`jensenshannon(reference_shares, week_shares, base=2)`.",
    ),
    check_structure=_drift_structure, compare=_drift_compare,
)


# --- Exercise 3: the alarm threshold ----------------------------------------------------------------------

ALARM_KEYS = ["threshold", "noise_alarms", "alarms"]


def _alarm_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ALARM_KEYS, "alarm", 1)
    threshold = checks.require_number(answer["threshold"], "alarm['threshold']", 0.0, 1.0, 1)
    if threshold >= 0.1:
        raise Incorrect("alarm['threshold'] is at or above the conventional 0.1 band. Calibrate it on noise at this "
                        "week's sample size, as hint 1 says.", 1)
    checks.require_whole_number(answer["noise_alarms"], "alarm['noise_alarms']", 0, 2)
    alarms = answer["alarms"]
    if isinstance(alarms, (str, Mapping)) or not isinstance(alarms, (list, tuple)):
        raise Incorrect("alarm['alarms'] should be a list of [feature, week] pairs.", 2)
    for pair in alarms:
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2 or pair[0] not in FEATURES
                or not isinstance(pair[1], (int, np.integer)) or int(pair[1]) not in POST_WEEKS):
            raise Incorrect("Each entry of alarm['alarms'] should be [feature, week] with a feature of the data and a "
                            "post-update week (8 to 15).", 2)


def _alarm_compare(answer: dict, expected: dict) -> None:
    if not checks.numbers_match(answer["threshold"], expected["threshold"], 1e-4):
        raise Incorrect("alarm['threshold'] is off. Under no drift, PSI x (1/n + 1/m)^-1 is close to a chi-square "
                        "with BINS - 1 degrees of freedom; take its ALARM_QUANTILE quantile and scale back, with n the "
                        "week's rows and m the reference's.", 1)
    if int(answer["noise_alarms"]) != expected["noise_alarms"]:
        raise Incorrect("alarm['noise_alarms'] is off: count the feature-weeks of the noise weeks (4-7) whose PSI "
                        "reaches the threshold.", 2)
    if {(str(f), int(w)) for f, w in answer["alarms"]} != {(f, w) for f, w in expected["alarms"]}:
        raise Incorrect("alarm['alarms'] is off: list every post-update [feature, week] whose PSI reaches the "
                        "threshold, and nothing else.", 2)


ALARM = Exercise(
    key="alarm", number=3, title="An alarm calibrated on noise, not on a convention", points=2,
    expects="a dict with keys 'threshold' (a PSI value), 'noise_alarms' (a count) and 'alarms' (a list of "
            "[feature, week])",
    hints=(
        "How large is PSI when nothing changed? With n rows in a week, m in the reference and BINS bins, PSI / "
        "(1/n + 1/m) behaves like a chi-square with BINS - 1 degrees of freedom. So the threshold noise crosses "
        "once in 100 is `chi2.ppf(ALARM_QUANTILE, BINS - 1) * (1/n + 1/m)`.",
        "Then test it where you know nothing happened: the noise weeks 4-7. How many of their feature-weeks cross? "
        "And which post-update feature-weeks do?",
    ),
    check_structure=_alarm_structure, compare=_alarm_compare,
)


# --- Exercise 4: quality with delayed labels ---------------------------------------------------------------

def _quality_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "quality", "week", POST_WEEKS, QUALITY_COLUMNS, 1)
    checks.require_numeric_columns(frame, "quality", ["requests", "caught", "missed_known"], 0, None, hint=1)
    checks.require_numeric_columns(frame, "quality", ["review_rate", "maturity"], 0.0, 1.0, hint=2)
    checks.require_numeric_columns(frame, "quality", ["known_catch_rate", "catch_rate", "ci_low", "ci_high"], 0.0,
                                   1.0, allow_missing=True, hint=3)
    rows = frame.loc[[w for w in frame.index if frame.at[w, "maturity"] > 0]]
    if ((rows["ci_low"] > rows["catch_rate"] + 1e-9) | (rows["catch_rate"] > rows["ci_high"] + 1e-9)).any():
        raise Incorrect("In every week with settled labels, ci_low <= catch_rate <= ci_high.", 4)


def _quality_compare(answer: Any, expected: Any) -> None:
    got = answer.copy()
    got.index = got.index.astype(int)
    want = expected.copy()
    checks.compare_columns(got.loc[list(want.index), ["requests", "caught", "missed_known"]],
                           want[["requests", "caught", "missed_known"]], "quality", {c: 1 for c in want}, 0.5)
    checks.compare_columns(got.loc[list(want.index)], want[["review_rate", "maturity", "known_catch_rate"]],
                           "quality", {"review_rate": 1, "maturity": 2, "known_catch_rate": 2}, SHARE_ATOL)
    checks.compare_columns(got.loc[list(want.index)], want[["catch_rate", "ci_low", "ci_high"]], "quality",
                           {"catch_rate": 3, "ci_low": 4, "ci_high": 4}, SHARE_ATOL)


QUALITY = Exercise(
    key="quality", number=4, title="Quality while labels are still arriving", points=3,
    expects="a DataFrame indexed by `week` (8 to 15) with columns " + ", ".join(QUALITY_COLUMNS),
    hints=(
        "Per post-update week: requests (rows), review_rate (share reviewed: honest customers held count here "
        "too), caught (reviewed and abuse == 1) and missed_known (not reviewed and abuse == 1 so far). Unsettled "
        "rows have no abuse value yet.",
        "A reviewed request is settled the same week; an instant refund only when the return comes back or the "
        "window closes. So which requests' labels are missing? maturity = the share of a week's *unreviewed* "
        "requests already settled. known_catch_rate = caught / (caught + missed_known): what a dashboard shows.",
        "Settlement does not depend on whether the refund was abuse, so the misses settled so far are a fair share "
        "of all misses: missed = missed_known / maturity, and catch_rate = caught / (caught + missed). Leave a week "
        "whose maturity is 0 as NaN.",
        "The interval: `wilson_interval(caught, caught + missed)`. It treats the scaled-up count as known, so it is "
        "too narrow for immature weeks: one more reason to judge only mature weeks.",
    ),
    check_structure=_quality_structure, compare=_quality_compare,
)


# --- Exercise 5: which shift is which --------------------------------------------------------------------

def _diagnosis_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, SHIFT_KINDS, "shift_diagnosis", 1)
    parts = {"covariate": ["feature", "week"], "label": ["week"], "concept": ["feature", "week"]}
    for kind, keys in parts.items():
        entry = checks.require_mapping(answer[kind], keys, f"shift_diagnosis[{kind!r}]", 1)
        week = checks.require_whole_number(entry["week"], f"shift_diagnosis[{kind!r}]['week']", 0, 1)
        if week not in POST_WEEKS:
            raise Incorrect(f"shift_diagnosis[{kind!r}]['week'] should be a post-update week, 8 to 15.", 1)
        if "feature" in entry and entry["feature"] not in FEATURES:
            raise Incorrect(f"shift_diagnosis[{kind!r}]['feature'] should be one of the features, spelled as in the "
                            f"data.", 1)


def _diagnosis_compare(answer: dict, expected: dict) -> None:
    advice = {
        "covariate": ("The covariate shift is off. Which input's distribution moved a lot, and from which week? Look "
                      "at P(x): the drift table, and who the traffic comes from.", 2),
        "label": ("The label shift is off. When did the share of abusive requests change? Estimate P(y) per week "
                  "with the maturity correction, not from the labels known so far.", 3),
        "concept": ("The concept shift is off. On which feature did abusers stop looking different from honest "
                    "customers, and from which week? Look at P(y|x): each feature's separation per week, on settled "
                    "labels.", 4),
    }
    for kind, (message, hint) in advice.items():
        got, want = answer[kind], expected[kind]
        if "feature" in want and got["feature"] != want["feature"]:
            raise Incorrect(message, hint)
        if abs(int(got["week"]) - int(want["week"])) > WEEK_TOLERANCE:
            raise Incorrect(message, hint)


SHIFT_DIAGNOSIS = Exercise(
    key="shift_diagnosis", number=5, title="Which shift is which?", points=3,
    expects="a dict {'covariate': {'feature', 'week'}, 'label': {'week'}, 'concept': {'feature', 'week'}}",
    hints=(
        "Three questions, three kinds of evidence. Did the inputs move (P(x): the drift table, the market mix)? "
        "Did the share of abuse move (P(y))? Did what an input says about abuse change (P(y|x))? Each shift "
        "answers yes to a different one. Weeks are judged within one week.",
        "A covariate shift shows in the drift table: one input far above the alarm, growing week after week. "
        "Who sends that traffic? `after.groupby('week')['market'].value_counts(normalize=True)`.",
        "P(y) per week, with labels still arriving: the abusive requests are the caught ones plus the estimated "
        "misses, so (caught + missed_known / maturity) / requests, for every week 0 to 14. When does it step up, "
        "and is the step bigger than the week-to-week wobble before the update?",
        "P(y|x) per feature and week: on settled rows, how well does the feature alone separate abuse from honest "
        "requests? `auc_by_week(settled_rows, PREDICTIVE)` gives each input's AUC per week (what `roc_auc_score` "
        "gives on one week's rows); where low values are the risky side the AUC sits below 0.5, so read 1 - AUC. "
        "A feature whose AUC falls to about 0.5 while its distribution barely moves is a concept shift.",
    ),
    check_structure=_diagnosis_structure, compare=_diagnosis_compare,
)


# --- Exercise 6: apply the rule, and deploy the decision ----------------------------------------------------

DECISION_KEYS = ["decision", "judged_weeks", "rule"]


def _decision_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, DECISION_KEYS, "rollback_decision", 1)
    if answer["decision"] not in DECISIONS:
        raise Incorrect(f"rollback_decision['decision'] should be one of {', '.join(map(repr, DECISIONS))}.", 1)
    weeks = answer["judged_weeks"]
    if isinstance(weeks, (str, Mapping)) or not isinstance(weeks, (list, tuple)) or \
            any(not isinstance(w, (int, np.integer)) or int(w) not in POST_WEEKS for w in weeks):
        raise Incorrect("rollback_decision['judged_weeks'] should be a list of post-update weeks (8 to 15).", 1)
    try:
        _rule_structure(answer["rule"], data)
    except Incorrect as wrong:
        raise Incorrect(f"rollback_decision['rule'] should be your rollback_rule as fixed, unchanged. "
                        f"{wrong.message}", 1) from None
    logs = pd.concat([data.load("refund_requests_before"), data.load("refund_requests_after")], ignore_index=True)
    applied = apply_rule(answer["rule"], _weekly_quality(logs, NOW_WEEK))
    if sorted(int(w) for w in weeks) != applied["judged_weeks"]:
        raise Incorrect("judged_weeks is off. The rule judges the latest `consecutive_weeks` weeks whose maturity "
                        "reaches its min_label_maturity: apply your own rule, as fixed.", 1)
    if answer["decision"] != applied["decision"]:
        raise Incorrect("The decision does not follow your rule on those weeks. Roll back needs every judged week's "
                        "upper bound below the floor; roll forward every lower bound at or above it; else hold.", 2)


def _decision_compare(answer: dict, expected: dict) -> None:
    if not checks.numbers_match(answer["rule"]["baseline"], expected["rule"]["baseline"], SHARE_ATOL):
        raise Incorrect("The rule's baseline is off (see exercise 1), so the floor it sets is not the one the team "
                        "meant.", 1)


HORIZON_WEEKS = 4  # a decision is deployed for this many weeks


def _deploy_decision(answer: dict, seed: int) -> Outcome:
    """Serve the next weeks under the decision in the world of `seed`: abusive refunds paid, against the best call."""
    from aipmlab.datasets import refund_requests as simulator

    world = simulator.cached_world(seed)
    week = NOW_WEEK + 1  # the world as it stands now, every shift in place
    harm = {v: simulator.weekly_harm(world, v, week) for v in ("v1", "v2")}
    missed = {"roll_back": HORIZON_WEEKS * harm["v1"]["abuse_missed"],
              "roll_forward": HORIZON_WEEKS * harm["v2"]["abuse_missed"]}
    better = min(("v1", "v2"), key=lambda v: harm[v]["abuse_missed"])
    missed["hold"] = harm["v2"]["abuse_missed"] + (HORIZON_WEEKS - 1) * harm[better]["abuse_missed"]
    decision = answer["decision"]
    best = min(missed, key=missed.get)
    weekly_gap = harm["v2"]["abuse_missed"] - harm["v1"]["abuse_missed"]
    since = sum(simulator.weekly_harm(world, "v2", w)["abuse_missed"] - simulator.weekly_harm(world, "v1", w)
                ["abuse_missed"] for w in range(world.concept_week, NOW_WEEK + 1))
    gap_words = (f"each week on v2 pays about {weekly_gap:,.0f} more abusive refunds than v1 would, so deciding a "
                 f"week later costs that much and a week earlier would have saved it"
                 if weekly_gap > 0 else f"v2 now pays {-weekly_gap:,.0f} fewer abusive refunds a week than v1 would, "
                                        f"so rolling back would cost users")
    summary = (f"'{decision}' for the next {HORIZON_WEEKS} weeks pays out about {missed[decision]:,.0f} abusive "
               f"refunds at {simulator.WEEKLY_VOLUME:,} requests a week; the best call in hindsight, '{best}', pays "
               f"{missed[best]:,.0f}: a regret of {missed[decision] - missed[best]:,.0f}. Today {gap_words}. "
               f"Since its inputs changed meaning, v2 has already paid about {max(since, 0):,.0f} more than v1 "
               f"would have. Side effect: v1 holds about {harm['v1']['honest_held']:,.0f} honest customers a week "
               f"for review, v2 {harm['v2']['honest_held']:,.0f}.")
    table = pd.DataFrame({"abuse_missed": {v: harm[v]["abuse_missed"] for v in harm},
                          "honest_held": {v: harm[v]["honest_held"] for v in harm}}).rename_axis("model")
    return Outcome(decision, missed[decision], missed[best], f"abusive refunds paid over {HORIZON_WEEKS} weeks",
                   False, summary, table)


ROLLBACK_DECISION = Exercise(
    key="rollback_decision", number=6, title="Apply the rule you fixed, then deploy it", points=2,
    expects="a dict {'decision': 'roll_back' | 'roll_forward' | 'hold', 'judged_weeks': [week, ...], 'rule': "
            "your fixed rollback_rule}",
    hints=(
        "The rule was written so that nobody decides now: `apply_rule(rollback_rule, quality)` applies it. Read "
        "which weeks it judged and check them by hand against the quality plot. Keep the rule with the decision "
        "(`'rule': rollback_rule`), so a reader sees which rule decided.",
        "Roll back needs every judged week's ci_high below the floor; roll forward needs every ci_low at or above "
        "it; anything else is hold, and so is having too few mature weeks.",
    ),
    check_structure=_decision_structure, compare=_decision_compare, deploy=_deploy_decision,
)


# --- Exercise 7: the rollback memo --------------------------------------------------------------------------

MEMO_WRITTEN = Written(manual_points=6, min_words=120,
                       must_mention=(("roll back", "rollback", "roll_back", "roll forward", "hold"),
                                     ("concept", "p(y|x)"), ("covariate", "label shift", "prior")))
MEMO_MIN_SENTENCES = 6


def _memo_structure(answer: Any, data: DataSource) -> None:
    """Beyond length and a figure: sentences, not a list of keywords, and a week and a feature named."""
    sentences = [part for part in re.split(r"[.!?]+(?:\s|$)", answer) if len(part.split()) >= 4]
    if len(sentences) < MEMO_MIN_SENTENCES or max(len(part.split()) for part in sentences) > 80:
        raise Incorrect(f"rollback_memo should be written in sentences a launch review can read (at least "
                        f"{MEMO_MIN_SENTENCES}): what happened, the evidence, the decision, what would change it.", 1)
    if not re.search(r"\bweek\s*\d+", answer.lower()):
        raise Incorrect("rollback_memo should say when things happened: name the weeks (for example 'week 10').", 1)
    if not any(feature in answer or feature.replace("_", " ") in answer for feature in FEATURES):
        raise Incorrect("rollback_memo should name the features involved, spelled as in the data.", 1)


ROLLBACK_MEMO = Exercise(
    key="rollback_memo", number=7, title="The rollback memo", points=0,
    expects="your memo as text in triple quotes",
    hints=(
        "A memo a launch review signs has four parts: what happened (the three shifts, when and where), the "
        "evidence that tells them apart (P(x), P(y), P(y|x)), the decision and the rule it came from, and what "
        "would change it.",
        "Quote figures: the catch rate with its interval on the weeks the rule judged, the floor, label maturity, "
        "the users affected per week. Say what you do not know yet (the weeks whose labels have not arrived).",
    ),
    written=MEMO_WRITTEN, check_structure=_memo_structure,
)


MODULE = Module(
    slug="05-drift-and-rollback",
    title="Drift, degradation and rollback",
    purpose="Fix a rollback rule before looking, tell drift from noise and one shift from another, and decide.",
    minutes=150,
    tables=("refund_requests_before", "refund_requests_after"),
    exercises=(ROLLBACK_RULE, DRIFT, ALARM, QUALITY, SHIFT_DIAGNOSIS, ROLLBACK_DECISION, ROLLBACK_MEMO),
)
