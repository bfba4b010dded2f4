"""Answer key for module 06. Each function takes the learner's DataSource and returns the reference.

Never shipped to a candidate. The statistics are computed here by hand; the tests cross-check them against
scipy (chi-square), statsmodels (OLS for CUPED's theta, the Wilson interval) and numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chisquare

from aipmlab.answer_key import Criterion, ExampleAnswer, Level, Rubric
from aipmlab.exercises.core import DataSource
from aipmlab.exercises.m06_contaminated_ab_tests import DESIGNS, MISLEADING_TOLERANCE, SRM_ALPHA, Z, wilson_interval


def _srm_row(observed: np.ndarray, planned: np.ndarray) -> tuple[float, float]:
    expected = observed.sum() * planned / planned.sum()
    statistic, p_value = chisquare(observed, expected)  # df = k - 1
    return float(statistic), float(p_value)


def srm_table(assignments: pd.DataFrame) -> pd.DataFrame:
    """Exercise 1 on the assignments table: chi-square against the planned split, per experiment."""
    by_arm = assignments.groupby(["experiment", "arm"], sort=False).agg(users=("users", "sum"),
                                                                       planned=("planned_share", "first"))
    rows = {}
    for experiment, arms in by_arm.groupby(level="experiment", sort=False):
        statistic, p_value = _srm_row(arms["users"].to_numpy(float), arms["planned"].to_numpy(float))
        rows[experiment] = {"chi2": statistic, "p_value": p_value, "read": p_value >= SRM_ALPHA}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("experiment")


def srm_check(data: DataSource) -> pd.DataFrame:
    return srm_table(data.load("recsys_experiment_assignments"))


def srm_diagnosis_of(assignments: pd.DataFrame) -> dict:
    """Exercise 2: the experiment that fails, the platform whose split is furthest off, the arm short of users."""
    experiment = srm_table(assignments)["p_value"].idxmin()
    cells = assignments[assignments["experiment"] == experiment]
    per_platform = {}
    for platform, rows in cells.groupby("platform"):
        per_platform[platform] = _srm_row(rows["users"].to_numpy(float), rows["planned_share"].to_numpy(float))[0]
    platform = max(per_platform, key=per_platform.get)
    rows = cells[cells["platform"] == platform]
    expected = rows["users"].sum() * rows["planned_share"] / rows["planned_share"].sum()
    residual = (rows["users"] - expected) / np.sqrt(expected)
    return {"experiment": str(experiment), "platform": str(platform), "arm": str(rows.loc[residual.idxmin(), "arm"])}


def srm_diagnosis(data: DataSource) -> dict:
    return srm_diagnosis_of(data.load("recsys_experiment_assignments"))


def effect_of(outcome: pd.Series, arm: pd.Series) -> dict:
    """Difference in means (treatment - control) with its unpooled standard error and 95% normal interval."""
    treated, control = outcome[arm == "treatment"], outcome[arm == "control"]
    effect = float(treated.mean() - control.mean())
    std_error = float(np.sqrt(treated.var(ddof=1) / len(treated) + control.var(ddof=1) / len(control)))
    return {"effect": effect, "std_error": std_error, "ci_low": effect - Z * std_error, "ci_high": effect + Z * std_error}


def naive_effect(data: DataSource) -> dict:
    users = data.load("recsys_experiment_users")
    return effect_of(users["minutes"], users["arm"])


def cuped_of(users: pd.DataFrame) -> dict:
    """Exercise 4: theta from all users, the adjusted effect, and the variance it keeps."""
    pre, post = users["pre_minutes"].to_numpy(float), users["minutes"].to_numpy(float)
    covariance = np.cov(pre, post)
    theta = float(covariance[0, 1] / covariance[0, 0])
    rho = float(np.corrcoef(pre, post)[0, 1])
    adjusted = pd.Series(post - theta * (pre - pre.mean()), index=users.index)
    result = effect_of(adjusted, users["arm"])
    raw = effect_of(users["minutes"], users["arm"])
    return {"theta": theta, "rho": rho, **result, "variance_ratio": (result["std_error"] / raw["std_error"]) ** 2}


def cuped(data: DataSource) -> dict:
    return cuped_of(data.load("recsys_experiment_users"))


def misleads(estimate: pd.Series, true_effect: pd.Series) -> pd.Series:
    """Wrong sign, or more than MISLEADING_TOLERANCE of the true effect away from it."""
    return (np.sign(estimate) != np.sign(true_effect)) | (
        (estimate - true_effect).abs() > MISLEADING_TOLERANCE * true_effect.abs())


def misleading_share_of(replays: pd.DataFrame) -> pd.DataFrame:
    """Exercise 5: per design, the replays that mislead, their share and its 99% Wilson interval."""
    flagged = misleads(replays["estimate"], replays["launch_effect"])
    rows = {}
    for design in DESIGNS:
        mine = flagged[replays["design"] == design]
        count, total = int(mine.sum()), int(mine.size)
        low, high = wilson_interval(count, total)
        rows[design] = {"replays": total, "misleading": count, "share": count / total, "ci_low": low, "ci_high": high}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("design")


def misleading_share(data: DataSource) -> pd.DataFrame:
    return misleading_share_of(data.load("recsys_experiment_replays"))


def next_test_design(data: DataSource) -> str:
    return str(misleading_share(data)["share"].idxmin())


RUBRICS = {
    "experiment_plan": Rubric((
        Criterion("design and its cost", (
            Level(0, "No design named, or the pooled design kept without comment."),
            Level(1, "Names a design but gives no figure for why, or ignores what it costs."),
            Level(2, "Names the design with the measured shares and their intervals, and says what the design costs "
                     "(less training data, or fewer independent units) and how that cost would show up."),
        )),
        Criterion("unit and training data", (
            Level(0, "Says nothing about who is randomised or where each model learns from."),
            Level(1, "States the unit of randomisation, or the training data, but not both."),
            Level(2, "States the unit of randomisation and, for each arm, which logs its model retrains on, so "
                     "neither model learns from the other's traffic."),
        )),
        Criterion("trust checks before reading", (
            Level(0, "No check before the metric is read."),
            Level(1, "Mentions a sample ratio check without a rule."),
            Level(2, "A sample ratio check with its rule (chi-square on the planned split, the threshold) and "
                     "the commitment not to read a test that fails it, plus at least one guardrail metric."),
        )),
        Criterion("analysis with stated uncertainty", (
            Level(0, "A point estimate only."),
            Level(1, "An interval, or CUPED, but not both, or CUPED offered as a cure for bias."),
            Level(2, "CUPED on a pre-period covariate with the variance it saves (a figure), an interval on the "
                     "effect, and the point that less noise does not remove bias."),
        )),
    )),
}

EXAMPLES = {
    "experiment_plan": (
        ExampleAnswer("weak", (
            "We will run the test again with the pooled design because it worked well last time and the team knows "
            "it. We will look at minutes watched after two weeks and ship the new model if it is higher than control. "
            "We will also use CUPED to make the result more accurate, which should fix the problems we saw. SRM is "
            "something we can check if the result looks strange. The test will have 6000 users. If the number is "
            "positive we ship, and if it is negative we keep the old model and try again next quarter with a new "
            "idea from the data science team."),
            {"design and its cost": 0, "unit and training data": 0, "trust checks before reading": 1,
             "analysis with stated uncertainty": 0}),
        ExampleAnswer("middling", (
            "The next test of the retrained recommender will use the data diverted design: users are randomised "
            "one by one, and each model retrains only on the logs of its own arm. The replays showed that the pooled "
            "design misleads in almost every test, because both models learn from the same logs. We will run a "
            "sample ratio mismatch check on every experiment before reading it. The metric is minutes watched per "
            "user per week, analysed with CUPED using last month's minutes, which removed about 70% of the "
            "variance in the first test. We will report the effect with a 95% interval. We ship if the interval "
            "is above zero and hold otherwise."),
            {"design and its cost": 1, "unit and training data": 2, "trust checks before reading": 1,
             "analysis with stated uncertainty": 2}),
        ExampleAnswer("strong", (
            "Design. The next test of the retrained recommender uses the data diverted design. In 200 replays from "
            "the simulator it misled in 20.5% of tests (99% interval 14% to 29%), against 100% for the pooled design "
            "we ran and 37% for the cluster design, which is nearly unbiased but noisy with 40 communities. Its "
            "cost is that each model retrains on half the logs, which leans against the new, hungrier model; in the "
            "replays it makes the new model look about 0.3 minutes worse than it is. "
            "Unit and data. We randomise users, and each model retrains nightly only on the logs of its own arm, "
            "so neither learns from the traffic the other generates. "
            "Checks. Before anyone reads a metric, a sample ratio mismatch check (a chi-square test) compares each arm's users with the planned "
            "50/50 split, overall and per platform; below p = 0.001 we do not read the test and look for the lost "
            "users first, as we did for search_ranking. Guardrails are crash rate and the share of sessions "
            "ending in under a minute. "
            "Analysis. The metric is minutes per user per week with CUPED on the four weeks before the test; on "
            "the last test it kept 31% of the variance, as 1 - rho² predicts. We report the effect with a 95% "
            "interval. Less noise does not remove bias: the last test's tight interval sat far from the true effect. "
            "What would change my mind: if the diverted model's offline loss on half the logs is much worse than on "
            "all of them, the starvation cost is larger than the replays assume, and a cluster test with more "
            "communities becomes the better choice."),
            {"design and its cost": 2, "unit and training data": 2, "trust checks before reading": 2,
             "analysis with stated uncertainty": 2}),
    ),
}
