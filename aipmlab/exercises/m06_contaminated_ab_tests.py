"""Module 06 — contaminated A/B tests: exercise definitions."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

DESIGNS = ("pooled", "data_diverted", "cluster")
DESIGN_WORDS = {"pooled": "users randomised, both models retrain on the pooled logs of both arms",
                "data_diverted": "users randomised, each model retrains only on its own arm's logs",
                "cluster": "whole communities randomised, models retrain on the pooled logs"}

# Set by the experimentation team before any test: an experiment whose arm counts are this unlikely under the
# planned split is not read at all. Strict, because the check runs on every experiment, every day.
SRM_ALPHA = 0.001
Z = 1.959963984540054             # normal quantile for a 95% two-sided interval
Z_99 = 2.5758293035489004         # ... and for 99%: three designs are compared, so each interval is wider
MISLEADING_TOLERANCE = 0.5        # a test misleads when its estimate has the wrong sign or is more than half the
                                  # true effect away from it (a call the team would regret either way)
NEXT_TEST_USERS = 6_000

# Tolerances, each a stated choice: answers rounded to 4 decimals pass, a material error fails.
VALUE_ATOL = 5e-4                 # effects, standard errors, theta, rho, shares
BOUND_ATOL = 1e-3                 # interval bounds (z = 1.96 instead of 1.95996... moves them less than this)
CHI2_RTOL = 1e-4                  # chi-square statistics can be large: relative, plus VALUE_ATOL
ONE_MINUS_RHO2_ATOL = 0.03        # CUPED's variance ratio lands this close to 1 - rho² on a test this size

SRM_COLUMNS = ["chi2", "p_value", "read"]
EFFECT_KEYS = ["effect", "std_error", "ci_low", "ci_high"]
CUPED_KEYS = ["theta", "rho", *EFFECT_KEYS, "variance_ratio"]
SHARE_COLUMNS = ["replays", "misleading", "share", "ci_low", "ci_high"]


def _assignments(data: DataSource) -> pd.DataFrame:
    return data.load("recsys_experiment_assignments")


def wilson_interval(successes: int, trials: int, z: float = Z_99) -> tuple[float, float]:
    """Wilson score interval for a share (Wilson 1927)."""
    p = successes / trials
    centre = (p + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))  # contains p; float-safe at 0 and 1


def _require_interval(low: float, point: float, high: float, name: str, hint: int) -> None:
    if not low <= point <= high:
        raise Incorrect(f"{name}: an interval should contain its point estimate, ci_low <= estimate <= ci_high.", hint)


# --- Exercise 1 --------------------------------------------------------------------------------

def _srm_structure(answer: Any, data: DataSource) -> None:
    experiments = sorted(_assignments(data)["experiment"].unique())
    frame = checks.require_frame(answer, "srm_check", "experiment", experiments, SRM_COLUMNS, 1)
    checks.require_numeric_columns(frame, "srm_check", ["chi2"], 0.0, None, hint=1)
    checks.require_numeric_columns(frame, "srm_check", ["p_value"], 0.0, 1.0, hint=2)
    for experiment, row in frame.iterrows():
        if not isinstance(row["read"], (bool, np.bool_)):
            raise Incorrect("srm_check['read'] should hold True or False for each experiment.", 3)
        if bool(row["read"]) != (float(row["p_value"]) >= SRM_ALPHA):
            raise Incorrect(f"srm_check['read'] for {experiment!r} does not follow your p-value: read an experiment "
                            f"only when its p-value is at least SRM_ALPHA.", 3)


def _srm_compare(answer: pd.DataFrame, expected: pd.DataFrame) -> None:
    for experiment in expected.index:
        got, want = float(answer.at[experiment, "chi2"]), float(expected.at[experiment, "chi2"])
        if abs(got - want) > VALUE_ATOL + CHI2_RTOL * want:
            raise Incorrect(f"chi2 is off for {experiment!r}. Compare each arm's users (all platforms) with what the "
                            f"planned split of that experiment's total would give.", 1)
    checks.compare_columns(answer, expected[["p_value"]], "srm_check", {"p_value": 2}, VALUE_ATOL)
    for experiment in expected.index:
        if bool(answer.at[experiment, "read"]) != bool(expected.at[experiment, "read"]):
            raise Incorrect(f"read is off for {experiment!r}.", 3)


SRM_CHECK = Exercise(
    key="srm_check", number=1, title="Sample ratio mismatch: which experiments can be read?", points=2,
    expects="a DataFrame indexed by `experiment` with columns chi2, p_value and read (True or False)",
    hints=(
        "Before any metric: did each experiment get the users it planned? For one experiment, add up each arm's users "
        "over the platforms (the observed counts). The expected counts are the experiment's total times each arm's "
        "planned_share. Which one is wrong for an experiment whose arms were not planned equal?",
        "`scipy.stats.chisquare(observed, expected)` gives the statistic and the p-value, with k - 1 degrees of "
        "freedom for k arms. A three-arm test has two degrees of freedom, not one.",
        "read is True when the p-value is at least SRM_ALPHA. An experiment that fails is not read at all, however "
        "good its metric looks: the users it lost are not a random sample.",
    ),
    check_structure=_srm_structure, compare=_srm_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

def _diagnosis_structure(answer: Any, data: DataSource) -> None:
    table = _assignments(data)
    checks.require_mapping(answer, ["experiment", "platform", "arm"], "srm_diagnosis", 1)
    if answer["experiment"] not in set(table["experiment"]):
        raise Incorrect("srm_diagnosis['experiment'] should name an experiment as spelled in the table.", 1)
    if answer["platform"] not in set(table["platform"]):
        raise Incorrect("srm_diagnosis['platform'] should name a platform as spelled in the table.", 2)
    arms = set(table.loc[table["experiment"] == answer["experiment"], "arm"])
    if answer["arm"] not in arms:
        raise Incorrect("srm_diagnosis['arm'] should be one of that experiment's arms.", 2)


def _diagnosis_compare(answer: dict, expected: dict) -> None:
    if answer["experiment"] != expected["experiment"]:
        raise Incorrect("experiment is off: it is the experiment your SRM check refused to read.", 1)
    if answer["platform"] != expected["platform"]:
        raise Incorrect("platform is off. Run the same check inside each platform of that experiment: where is the "
                        "split furthest from the plan (largest chi-square)? The platform with the most users is "
                        "not necessarily it.", 2)
    if answer["arm"] != expected["arm"]:
        raise Incorrect("arm is off. On that platform, which arm has fewer users than its planned share gives, "
                        "measured in standard units, (observed - expected) / sqrt(expected)?", 2)


SRM_DIAGNOSIS = Exercise(
    key="srm_diagnosis", number=2, title="Where did the users go?", points=1,
    expects="a dict {'experiment': ..., 'platform': ..., 'arm': ...} naming where the split broke",
    hints=(
        "A mismatch has a place. Repeat the chi-square check of exercise 1 within each platform of the experiment "
        "you refused to read. Is the split off everywhere, or in one place?",
        "On the platform that stands out, compare each arm with its expected count, (observed - expected) / "
        "sqrt(expected). A negative value means users are missing: from which arm? Think of what could drop users "
        "from one arm on one platform (a crash before the exposure is logged, a redirect, a bot filter).",
    ),
    check_structure=_diagnosis_structure, compare=_diagnosis_compare,
)


# --- Exercise 3 --------------------------------------------------------------------------------

def _effect_structure(answer: Any, name: str) -> dict:
    checks.require_mapping(answer, EFFECT_KEYS, name, 1)
    values = {key: checks.require_number(answer[key], f"{name}[{key!r}]", None, None, 1) for key in EFFECT_KEYS}
    if values["std_error"] <= 0:
        raise Incorrect(f"{name}['std_error'] should be positive.", 2)
    _require_interval(values["ci_low"], values["effect"], values["ci_high"], name, 2)
    return values


def _naive_structure(answer: Any, data: DataSource) -> None:
    _effect_structure(answer, "naive_effect")


def _naive_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "effect": ("effect is off. It is the treatment arm's mean test-period minutes minus the control arm's.", 1),
        "std_error": ("std_error is off. Each arm's mean has its own uncertainty: sqrt(s_t² / n_t + s_c² / n_c), "
                      "with each arm's sample variance.", 2),
    }, VALUE_ATOL)
    checks.compare_values(answer, expected, {
        "ci_low": ("ci_low is off: effect - 1.96 x std_error for a 95% interval.", 2),
        "ci_high": ("ci_high is off: effect + 1.96 x std_error for a 95% interval.", 2),
    }, BOUND_ATOL)


NAIVE_EFFECT = Exercise(
    key="naive_effect", number=3, title="The test as it was run", points=1,
    expects="a dict with keys 'effect', 'std_error', 'ci_low', 'ci_high' (minutes per user per week)",
    hints=(
        "The test-period metric is `minutes`; `pre_minutes` is from before the test and is for exercise 4. Which "
        "direction is the effect: treatment minus control, or the other way?",
        "The difference of two independent means has variance s_t² / n_t + s_c² / n_c (sample variances, ddof = 1). "
        "The 95% interval is the effect plus or minus 1.96 standard errors.",
    ),
    check_structure=_naive_structure, compare=_naive_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

def _cuped_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, CUPED_KEYS, "cuped", 1)
    _effect_structure({key: answer[key] for key in EFFECT_KEYS}, "cuped")
    rho = checks.require_number(answer["rho"], "cuped['rho']", -1.0, 1.0, 2)
    ratio = checks.require_number(answer["variance_ratio"], "cuped['variance_ratio']", 0.0, None, 3)
    checks.require_number(answer["theta"], "cuped['theta']", None, None, 1)
    if abs(ratio - (1 - rho**2)) > ONE_MINUS_RHO2_ATOL:
        raise Incorrect("Your variance_ratio and rho do not agree: CUPED should leave about 1 - rho² of the "
                        "variance. Check that the ratio compares variances (squared standard errors) of the "
                        "adjusted and the raw effect, and that rho is the correlation of pre_minutes and minutes.", 3)


def _cuped_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "theta": ("theta is off. It is cov(pre_minutes, minutes) / var(pre_minutes), over all users of both arms: "
                  "the slope of a regression of minutes on pre_minutes, not the correlation.", 1),
        "rho": ("rho is off: the correlation of pre_minutes and minutes over all users.", 2),
        "effect": ("effect is off. Adjust every user's minutes, minutes - theta x (pre_minutes - mean pre_minutes), "
                   "then take the difference of the arms' means, treatment minus control.", 1),
        "std_error": ("std_error is off: the same formula as exercise 3, on the adjusted minutes.", 2),
        "variance_ratio": ("variance_ratio is off: (adjusted std_error / raw std_error)².", 3),
    }, VALUE_ATOL)
    checks.compare_values(answer, expected, {"ci_low": ("ci_low is off.", 2), "ci_high": ("ci_high is off.", 2)},
                          BOUND_ATOL)


CUPED = Exercise(
    key="cuped", number=4, title="CUPED: the same test, with less noise", points=2,
    expects="a dict with keys " + ", ".join(map(repr, CUPED_KEYS)),
    hints=(
        "Much of why one user watches more than another this week is that they watched more last month. CUPED takes "
        "out the part of minutes that pre_minutes predicts. Because pre_minutes was measured before anyone was "
        "assigned, it cannot carry the treatment, so the adjusted effect stays unbiased.",
        "theta = cov(pre_minutes, minutes) / var(pre_minutes) on all users (np.cov gives both with the same ddof). "
        "adjusted = minutes - theta x (pre_minutes - pre_minutes.mean()). Then exercise 3's formulas on adjusted.",
        "variance_ratio = (std_error of the adjusted effect / std_error of the raw effect)². Compare it with 1 - rho², "
        "where rho is the correlation of pre_minutes and minutes: Deng et al. (2013) show it should be close.",
    ),
    check_structure=_cuped_structure, compare=_cuped_compare,
)


# --- Exercise 5 --------------------------------------------------------------------------------

def _share_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "misleading_share", "design", DESIGNS, SHARE_COLUMNS, 1)
    checks.require_numeric_columns(frame, "misleading_share", ["replays", "misleading"], 0, None, hint=1)
    checks.require_numeric_columns(frame, "misleading_share", ["share", "ci_low", "ci_high"], 0.0, 1.0, hint=2)
    for design, row in frame.iterrows():
        if row["misleading"] > row["replays"]:
            raise Incorrect(f"For {design!r}, more misleading replays than replays.", 1)
        if not checks.numbers_match(row["share"], row["misleading"] / max(row["replays"], 1), VALUE_ATOL):
            raise Incorrect(f"For {design!r}, share should be misleading / replays.", 1)
        if not row["ci_low"] - 1e-9 <= row["share"] <= row["ci_high"] + 1e-9:
            raise Incorrect(f"For {design!r}, the interval should contain the share.", 2)


def _share_compare(answer: pd.DataFrame, expected: pd.DataFrame) -> None:
    checks.compare_columns(answer, expected[["replays"]], "misleading_share", {"replays": 1}, 0.0)
    checks.compare_columns(answer, expected[["misleading"]], "misleading_share", {"misleading": 1}, 0.0)
    checks.compare_columns(answer, expected[["ci_low", "ci_high"]], "misleading_share",
                           {"ci_low": 2, "ci_high": 2}, VALUE_ATOL)


MISLEADING_SHARE = Exercise(
    key="misleading_share", number=5, title="How often does each design mislead?", points=2,
    expects="a DataFrame indexed by `design` with columns replays, misleading, share, ci_low, ci_high",
    hints=(
        "A replay misleads when it would send the team the wrong way: its estimate has the wrong sign, or it is "
        "more than MISLEADING_TOLERANCE x |launch_effect| away from the true effect. Measure the distance from the "
        "true effect, not from the estimate.",
        "The replays are a sample of tests, so the share is an estimate too. Use the Wilson interval at 99% "
        "(z = Z_99; `wilson_interval(misleading, replays)`): you compare three designs at once, so each interval "
        "is made wider.",
    ),
    check_structure=_share_structure, compare=_share_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

def _design_structure(answer: Any, data: DataSource) -> None:
    if not isinstance(answer, str) or answer not in DESIGNS:
        raise Incorrect(f"next_test_design should be one of {', '.join(map(repr, DESIGNS))}.", 1)


def _design_compare(answer: str, expected: str) -> None:
    if answer != expected:
        raise Incorrect("next_test_design is not the design your replays say misleads least. A design can be "
                        "unbiased and still mislead often when it is noisy; read the measured shares.", 2)


def _deploy_next_test_design(answer: str, seed: int) -> Outcome:
    """Run 400 fresh tests of each design in the world of `seed`: how often the chosen one misleads, vs the best."""
    from aipmlab.datasets import recsys_experiment as simulator

    shares = {design: simulator.run_next_tests(seed, design) for design in DESIGNS}
    best = min(shares, key=shares.get)
    value = shares[answer]
    summary = (f"Run 400 more times on fresh users of the same app, the '{answer}' design misleads in {value:.0%} of "
               f"tests (wrong sign, or more than half the true effect off). The best design in hindsight, '{best}', "
               f"misleads in {shares[best]:.0%}: a regret of {max(0.0, value - shares[best]):.0%} of tests.")
    table = pd.DataFrame({"misleading_share": shares}).rename_axis("design")
    return Outcome(answer, value, shares[best], "share of tests that mislead", False, summary, table)


NEXT_TEST_DESIGN = Exercise(
    key="next_test_design", number=6, title="Choose the design of the next test", points=1,
    expects=f"one of {', '.join(map(repr, DESIGNS))}",
    hints=(
        "Two ways a test misleads: bias (it measures the wrong thing, every time) and noise (it measures the right "
        "thing, loosely). Which design suffers from which, here?",
        "The next test has the same traffic as the replays, so the replays are your evidence. Which figure of "
        "exercise 5 answers the question a PM asks before a test: how often would this design send us the wrong "
        "way? If two designs' intervals overlap a lot, either is defensible; the check follows the measured "
        "figure, and your plan should name the runner-up.",
    ),
    check_structure=_design_structure, compare=_design_compare, deploy=_deploy_next_test_design,
)


# --- Exercise 7 --------------------------------------------------------------------------------

PLAN_WRITTEN = Written(manual_points=8, min_words=90,
                       must_mention=(("sample ratio", "srm"), ("cuped", "pre-period", "pre-experiment"),
                                     ("divert", "cluster", "pooled")))
MIN_SENTENCES = 5


def _plan_structure(answer: Any, data: DataSource) -> None:
    """Beyond length and a figure: written in sentences, not a list of keywords, and naming a design."""
    sentences = [part for part in re.split(r"[.!?]+(?:\s|$)", answer) if len(part.split()) >= 4]
    if len(sentences) < MIN_SENTENCES or max(len(part.split()) for part in sentences) > 80:
        raise Incorrect(f"experiment_plan should be written in sentences a reviewer can follow (at least "
                        f"{MIN_SENTENCES}): the design, the unit, the checks, the metric and what would change your "
                        f"mind.", 1)
    if not any(design.replace("_", " ") in answer.lower() or design.replace("_", "-") in answer.lower()
               for design in DESIGNS):
        raise Incorrect("experiment_plan should name the design it uses, spelled as in DESIGNS (for example "
                        "'data diverted').", 1)


EXPERIMENT_PLAN = Exercise(
    key="experiment_plan", number=7, title="Write the plan for the next test", points=0,
    expects="your experiment plan as text in triple quotes",
    hints=(
        "A plan a reviewer can approve says: which design and why (with the figures from exercise 5), the unit of "
        "randomisation and where each model's training data comes from, the checks that run before anyone reads "
        "the metric (sample ratio mismatch), the metric and how it is analysed (CUPED, an interval), guardrails, "
        "and what would change the decision.",
        "Be honest about what the chosen design costs: a data-diverted model trains on less data, a cluster test has "
        "fewer independent units. Say how you would notice if that cost were large.",
    ),
    written=PLAN_WRITTEN, check_structure=_plan_structure,
)


MODULE = Module(
    slug="06-contaminated-ab-tests",
    title="Contaminated A/B tests",
    purpose="Refuse an experiment that lost users, see a recommender test measure the wrong thing, and measure how "
            "often each design misleads.",
    minutes=120,
    tables=("recsys_experiment_users", "recsys_experiment_assignments", "recsys_experiment_replays"),
    exercises=(SRM_CHECK, SRM_DIAGNOSIS, NAIVE_EFFECT, CUPED, MISLEADING_SHARE, NEXT_TEST_DESIGN, EXPERIMENT_PLAN),
)
