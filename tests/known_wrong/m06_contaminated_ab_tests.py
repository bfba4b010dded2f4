"""Known-wrong answers for module 06 (contaminated A/B tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2 as chi2_distribution
from scipy.stats import chisquare

from aipmlab import answer_key
from aipmlab.exercises.m06_contaminated_ab_tests import DESIGNS, SRM_ALPHA, Z, wilson_interval

KEY = answer_key.load("m06_contaminated_ab_tests")


# --- SRM ---------------------------------------------------------------------------------------

def _srm(data, equal_split=False, extra_df=0, shares=False, alpha=SRM_ALPHA, per_platform_max=False):
    table = data.load("recsys_experiment_assignments")
    rows = {}
    for experiment, cells in table.groupby("experiment", sort=False):
        by_arm = cells.groupby("arm", sort=False).agg(users=("users", "sum"), planned=("planned_share", "first"))
        observed = by_arm["users"].to_numpy(float)
        planned = np.full(len(by_arm), 1 / len(by_arm)) if equal_split else by_arm["planned"].to_numpy(float)
        if shares:
            observed = observed / observed.sum()
        expected = observed.sum() * planned / planned.sum()
        statistic = float(chisquare(observed, expected)[0])
        p_value = float(chi2_distribution.sf(statistic, len(observed) - 1 + extra_df))
        rows[experiment] = {"chi2": statistic, "p_value": p_value, "read": p_value >= alpha}
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("experiment")
    return frame


def _read_everything(data):
    frame = KEY.srm_check(data)
    frame["read"] = True
    frame["p_value"] = frame["p_value"].clip(lower=SRM_ALPHA)
    return frame


def _diagnosis(data, platform="planted", arm="planted"):
    answer = KEY.srm_diagnosis(data)
    table = data.load("recsys_experiment_assignments")
    cells = table[table["experiment"] == answer["experiment"]]
    if platform == "most users":
        answer["platform"] = cells.groupby("platform")["users"].sum().idxmax()
    if arm == "fewest users":
        answer["arm"] = cells[cells["platform"] == answer["platform"]].set_index("arm")["users"].idxmin()
    if arm == "control":
        answer["arm"] = "control"
    return answer


def _wrong_platform(data):
    answer = KEY.srm_diagnosis(data)
    others = [p for p in ("web", "ios", "android") if p != answer["platform"]]
    return {**answer, "platform": others[0]}


def _read_experiment(data):
    answer = KEY.srm_diagnosis(data)
    return {**answer, "experiment": "recommender_retrain", "arm": "treatment"}


# --- effects -----------------------------------------------------------------------------------

def _effect(data, column="minutes", reverse=False, se="unpooled", z=Z, median=False):
    users = data.load("recsys_experiment_users")
    treated, control = users.loc[users["arm"] == "treatment", column], users.loc[users["arm"] == "control", column]
    effect = float((treated.median() - control.median()) if median else (treated.mean() - control.mean()))
    if reverse:
        effect = -effect
    if se == "unpooled":
        std_error = float(np.sqrt(treated.var() / len(treated) + control.var() / len(control)))
    elif se == "sd":
        std_error = float(users[column].std())
    elif se == "one arm":
        std_error = float(treated.std() / np.sqrt(len(treated)))
    return {"effect": effect, "std_error": std_error, "ci_low": effect - z * std_error, "ci_high": effect + z * std_error}


def _cuped(data, theta_from="slope", centre=True, sign=-1, ratio="squared", se_from="adjusted"):
    users = data.load("recsys_experiment_users")
    pre, post = users["pre_minutes"].to_numpy(float), users["minutes"].to_numpy(float)
    cov = np.cov(pre, post)
    rho = float(np.corrcoef(pre, post)[0, 1])
    theta = {"slope": cov[0, 1] / cov[0, 0], "correlation": rho, "reverse slope": cov[0, 1] / cov[1, 1],
             "one": 1.0}[theta_from]
    if theta_from == "treatment arm":
        pass
    adjusted = post + sign * theta * (pre - (pre.mean() if centre else 0.0))
    raw = KEY.effect_of(users["minutes"], users["arm"])
    result = KEY.effect_of(pd.Series(adjusted, index=users.index), users["arm"])
    if se_from == "raw":
        result = {**result, "std_error": raw["std_error"], "ci_low": result["effect"] - Z * raw["std_error"],
                  "ci_high": result["effect"] + Z * raw["std_error"]}
    variance_ratio = (result["std_error"] / raw["std_error"]) ** 2
    if ratio == "unsquared":
        variance_ratio = result["std_error"] / raw["std_error"]
    return {"theta": float(theta), "rho": rho, **result, "variance_ratio": float(variance_ratio)}


def _cuped_treatment_theta(data):
    users = data.load("recsys_experiment_users")
    treated = users[users["arm"] == "treatment"]
    cov = np.cov(treated["pre_minutes"], treated["minutes"])
    answer = KEY.cuped(data)
    return {**answer, "theta": float(cov[0, 1] / cov[0, 0])}


# --- misleading share --------------------------------------------------------------------------

def _shares(data, rule="both", z=None, interval="wilson", tolerance=0.5, pooled_designs=False):
    replays = data.load("recsys_experiment_replays")
    estimate, truth = replays["estimate"], replays["launch_effect"]
    if rule == "sign only":
        flagged = np.sign(estimate) != np.sign(truth)
    elif rule == "distance from the estimate":
        flagged = (np.sign(estimate) != np.sign(truth)) | ((estimate - truth).abs() > tolerance * estimate.abs())
    else:
        flagged = (np.sign(estimate) != np.sign(truth)) | ((estimate - truth).abs() > tolerance * truth.abs())
    rows = {}
    for design in DESIGNS:
        mine = flagged[replays["design"] == design] if not pooled_designs else flagged
        count, total = int(mine.sum()), int(mine.size)
        share = count / total
        if interval == "wald":
            half = (z or 2.5758293035489004) * np.sqrt(share * (1 - share) / total)
            low, high = max(0.0, share - half), min(1.0, share + half)
        else:
            low, high = wilson_interval(count, total, z) if z else wilson_interval(count, total)
        rows[design] = {"replays": total, "misleading": count, "share": share, "ci_low": low, "ci_high": high}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("design")


def _worst_design(data):
    return str(KEY.misleading_share(data)["share"].idxmax())


def _salad():
    return ("SRM sample ratio CUPED pre-period cluster divert pooled bias variance interval guardrail 95% rho theta "
            "chi-square users arms platform minutes design unit randomisation training logs " * 3)


KNOWN_WRONG = {
    "srm_check": {
        "equal split assumed for every experiment": lambda d: _srm(d, equal_split=True),
        "one degree of freedom too many (df = k)": lambda d: _srm(d, extra_df=1),
        "chi-square on shares instead of counts": lambda d: _srm(d, shares=True),
        "the conventional 0.05 instead of SRM_ALPHA": lambda d: _srm(d, alpha=0.05),
        "every experiment read anyway": _read_everything,
    },
    "srm_diagnosis": {
        "platform with the most users": lambda d: _diagnosis(d, platform="most users"),
        "a platform where the split is fine": _wrong_platform,
        "control blamed": lambda d: _diagnosis(d, arm="control"),
        "the recommender test named instead": _read_experiment,
    },
    "naive_effect": {
        "control minus treatment": lambda d: _effect(d, reverse=True),
        "pre-period minutes compared": lambda d: _effect(d, column="pre_minutes"),
        "standard deviation used as the standard error": lambda d: _effect(d, se="sd"),
        "one arm's standard error only": lambda d: _effect(d, se="one arm"),
        "90% interval": lambda d: _effect(d, z=1.6448536269514722),
        "difference of medians": lambda d: _effect(d, median=True),
    },
    "cuped": {
        "theta as the correlation": lambda d: _cuped(d, theta_from="correlation"),
        "theta from regressing pre on post": lambda d: _cuped(d, theta_from="reverse slope"),
        "difference in differences (theta = 1)": lambda d: _cuped(d, theta_from="one"),
        "adjustment added instead of subtracted": lambda d: _cuped(d, sign=1),
        "variance ratio of standard errors, not variances": lambda d: _cuped(d, ratio="unsquared"),
        "raw standard error kept": lambda d: _cuped(d, se_from="raw"),
        "theta from the treatment arm only": _cuped_treatment_theta,
    },
    "misleading_share": {
        "sign only": lambda d: _shares(d, rule="sign only"),
        "distance measured from the estimate": lambda d: _shares(d, rule="distance from the estimate"),
        "95% interval instead of 99%": lambda d: _shares(d, z=Z),
        "Wald interval": lambda d: _shares(d, interval="wald"),
        "tolerance of a quarter": lambda d: _shares(d, tolerance=0.25),
        "every design's replays pooled": lambda d: _shares(d, pooled_designs=True),
    },
    "next_test_design": {
        "keep the pooled design": lambda d: "pooled",
        "the design that misleads most": _worst_design,
        "a design that is not offered": lambda d: "switchback",
    },
    "experiment_plan": {
        "one line": lambda d: "Use data diverted with CUPED and SRM checks, 24%.",
        "placeholder text": lambda d: "YOUR ANSWER HERE",
        "keyword salad": lambda d: _salad(),
        "no figures": lambda d: " ".join(["We use the data diverted design with an SRM check and CUPED on the "
                                          "pre-period, and each model learns from its own arm."] * 6),
    },
}
