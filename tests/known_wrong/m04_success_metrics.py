"""Known-wrong answers for module 04 (success metrics beyond accuracy)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from aipmlab import answer_key
from aipmlab.exercises.m04_success_metrics import (
    ABANDON_RATE, AVERAGE_FRAUD_PAYMENT, AVERAGE_PAYMENT, CHARGEBACK_FEE, CHARGEBACK_HANDLING, CHURN_RATE,
    LIFETIME_VALUE, MARKETS, PILOT_METRICS, SUPPORT_CONTACT_COST, SUPPORT_CONTACT_RATE, TAKE_RATE, THRESHOLD_GRID,
    Z, breached_guardrails, ppv_from_rates,
)

KEY = answer_key.load("m04_success_metrics")


# --- error costs ---------------------------------------------------------------------------------

def _costs(fp: float | None = None, fn: float | None = None, rule: str = "elkan") -> dict:
    reference = KEY.error_costs()
    fp = reference["cost_false_positive"] if fp is None else fp
    fn = reference["cost_false_negative"] if fn is None else fn
    threshold = {"elkan": fp / (fp + fn), "swapped": fn / (fp + fn), "ratio": fp / fn, "half": 0.5}[rule]
    return {"cost_false_positive": fp, "cost_false_negative": fn, "threshold": threshold}


SUPPORT = SUPPORT_CONTACT_RATE * SUPPORT_CONTACT_COST
CHURN = CHURN_RATE * LIFETIME_VALUE


# --- cost curve ----------------------------------------------------------------------------------

def _curve(data, market: str = "launch", split: str = "tune", scale: float = 1000.0, swap: bool = False,
           below: bool = False) -> dict:
    scored = data.load("payment_flags_scored")
    costs = KEY.error_costs()
    fp, fn = costs["cost_false_positive"], costs["cost_false_negative"]
    if swap:
        fp, fn = fn, fp
    part = scored if split == "all" else scored[scored["split"] == split]
    tune_rates = scored[scored["split"] == "tune"].groupby("market")["is_fraud"].mean()
    launch = tune_rates.idxmax()
    if market == "launch":
        part = part[part["market"] == launch]
    elif market == "new":
        part = part[part["market"] != launch]
    score, fraud = part["score"].to_numpy(), part["is_fraud"].to_numpy().astype(bool)

    def cost(t: float) -> float:
        held = score < t if below else score >= t
        return scale * (fp * (held & ~fraud).sum() + fn * (~held & fraud).sum()) / fraud.size

    curve = [cost(t) for t in THRESHOLD_GRID]
    best = int(np.argmin(curve))
    return {"launch_market": launch, "best_threshold": THRESHOLD_GRID[best], "cost_at_best": curve[best],
            "cost_at_closed_form": cost(costs["threshold"])}


def _curve_wrong_market(data) -> dict:
    answer = KEY.launch_cost_curve(data)
    answer["launch_market"] = next(m for m in MARKETS if m != answer["launch_market"])
    return answer


# --- calibration ---------------------------------------------------------------------------------

def _calibration(data, how: str) -> pd.DataFrame:
    scored = data.load("payment_flags_scored")
    part = scored if how == "all splits" else scored[scored["split"] == "tune"]
    rows = {}
    for market in MARKETS:
        m = part[part["market"] == market]
        score, fraud = m["score"].to_numpy(), m["is_fraud"].to_numpy()
        edges = np.linspace(0, 1, 11)
        which = np.searchsorted(edges[1:-1], score)
        count = np.bincount(which, minlength=10)
        gap = np.abs(np.bincount(which, weights=score, minlength=10) - np.bincount(which, weights=fraud, minlength=10))
        ece = gap.sum() / count.sum()
        if how == "unweighted ece":
            present = count > 0
            ece = float((gap[present] / count[present]).mean())
        brier = ((score - fraud) ** 2).mean()
        if how == "absolute error as brier":
            brier = np.abs(score - fraud).mean()
        rows[market] = {"fraud_rate": fraud.mean(), "mean_score": score.mean(), "brier": brier, "ece": ece}
        if how == "share flagged at 0.5 as fraud rate":
            rows[market]["fraud_rate"] = (score >= 0.5).mean()
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("market")


# --- thresholds per market -------------------------------------------------------------------------

def _thresholds(data, how: str) -> dict:
    scored = data.load("payment_flags_scored")
    tune = KEY.tune_split(scored)
    t_star = KEY.error_costs()["threshold"]
    if how == "raw t*":
        return {market: t_star for market in MARKETS}
    if how == "one shared threshold":
        best = KEY.launch_cost_curve(data)["best_threshold"]
        return {market: best for market in MARKETS}
    if how == "launch market's recalibration everywhere":
        launch = KEY.launch_cost_curve(data)["launch_market"]
        a, b = KEY.platt_fit(*tune[launch])
        return {market: KEY.raw_threshold(a, b, t_star) for market in MARKETS}
    if how == "platt on the score, not its log-odds":
        answer = {}
        for market in MARKETS:
            score, fraud = tune[market]
            a, b = KEY.platt_fit(expit(score), fraud)  # fits on score itself: sigmoid(a * score + b)
            answer[market] = float(np.clip((logit(t_star) - b) / a, 1e-4, 1 - 1e-4))
        return answer
    raise ValueError(how)


def _swap_markets(data) -> dict:
    answer = KEY.market_thresholds(data)
    return {MARKETS[0]: answer[MARKETS[1]], MARKETS[1]: answer[MARKETS[0]]}


# --- base rate and precision ----------------------------------------------------------------------

def _ppv(data, **changes) -> dict:
    answer = KEY.base_rate_precision(data)
    answer.update(changes)
    return answer


def _ppv_precision_as_sensitivity(data) -> dict:
    answer = KEY.base_rate_precision(data)
    answer["sensitivity"] = answer["ppv_launch"]
    return answer


def _ppv_specificity_over_everything(data) -> dict:
    scored = data.load("payment_flags_scored")
    launch = KEY.launch_cost_curve(data)
    part = scored[(scored["split"] == "tune") & (scored["market"] == launch["launch_market"])]
    answer = KEY.base_rate_precision(data)
    answer["specificity"] = float((part["score"] < launch["best_threshold"]).mean())
    return answer


def _ppv_formula_with_launch_prevalence(data) -> dict:
    answer = KEY.base_rate_precision(data)
    answer["ppv_new_formula"] = answer["ppv_launch"]
    return answer


def _ppv_as_percentages(data) -> dict:
    return {key: 100 * value for key, value in KEY.base_rate_precision(data).items()}


def _ppv_new_market_own_rates(data) -> dict:
    """Sensitivity and specificity re-measured in the new market: the formula then just repeats the observation."""
    scored = data.load("payment_flags_scored")
    launch = KEY.launch_cost_curve(data)
    new = next(m for m in MARKETS if m != launch["launch_market"])
    part = scored[(scored["split"] == "tune") & (scored["market"] == new)]
    held, fraud = part["score"] >= launch["best_threshold"], part["is_fraud"] == 1
    sens = (held & fraud).sum() / fraud.sum()
    spec = (~held & ~fraud).sum() / (~fraud).sum()
    answer = KEY.base_rate_precision(data)
    answer.update(sensitivity=float(sens), specificity=float(spec),
                  ppv_new_formula=float(ppv_from_rates(sens, spec, fraud.mean())))
    return answer


# --- pilot ----------------------------------------------------------------------------------------

def _pilot(data, z: float = Z, sign: float = 1.0, se: str = "welch", breached: list | None = None) -> dict:
    pilot = data.load("payment_flags_pilot")
    rows = {}
    for metric in PILOT_METRICS:
        t = pilot.loc[pilot["arm"] == "treatment", metric].astype(float)
        c = pilot.loc[pilot["arm"] == "control", metric].astype(float)
        difference = sign * (t.mean() - c.mean())
        if se == "welch":
            error = np.sqrt(t.var() / len(t) + c.var() / len(c))
        elif se == "standard deviation":
            error = np.sqrt(t.var() + c.var())
        else:  # "treatment only"
            error = np.sqrt(t.var() / len(t))
        treatment, control = (t.mean(), c.mean()) if sign > 0 else (c.mean(), t.mean())
        rows[metric] = {"control": control, "treatment": treatment, "difference": difference,
                        "ci_low": difference - z * error, "ci_high": difference + z * error}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("metric")
    return {"table": table, "breached": breached_guardrails(table) if breached is None else breached}


def _pilot_breached_by_point_estimate(data) -> dict:
    answer = KEY.pilot_guardrails(data)
    table = answer["table"]
    answer["breached"] = [g for g in ("checkout_completion", "support_contact", "retention_30d")
                          if (table.loc[g, "difference"] > 0) == (g == "support_contact")]
    return answer


def _pilot_nothing_breached(data) -> dict:
    answer = copy.deepcopy(KEY.pilot_guardrails(data))
    answer["breached"] = []
    return answer


def _salad() -> str:
    words = ("guardrail threshold rollback calibration Platt Elkan cost 0.10 $20 $180 PPV precision recall "
             "retention checkout support interval tolerance launch market fraud chargeback ECE Brier")
    return " ".join([words] * 5)


KNOWN_WRONG = {
    "error_costs": {
        "the whole payment counted as lost, not the margin": lambda d: _costs(
            fp=AVERAGE_PAYMENT * ABANDON_RATE + SUPPORT + CHURN),
        "every held user assumed to abandon": lambda d: _costs(fp=AVERAGE_PAYMENT * TAKE_RATE + SUPPORT + CHURN),
        "churn left out of the false positive": lambda d: _costs(
            fp=AVERAGE_PAYMENT * TAKE_RATE * ABANDON_RATE + SUPPORT),
        "only the stolen amount for a false negative": lambda d: _costs(fn=AVERAGE_FRAUD_PAYMENT),
        "threshold c_FN / (c_FP + c_FN)": lambda d: _costs(rule="swapped"),
        "threshold c_FP / c_FN": lambda d: _costs(rule="ratio"),
        "the default 0.5 threshold": lambda d: _costs(rule="half"),
        "fraud counted as the whole order value plus fee": lambda d: _costs(
            fn=AVERAGE_PAYMENT + CHARGEBACK_FEE + CHARGEBACK_HANDLING),
    },
    "launch_cost_curve": {
        "both markets pooled": lambda d: _curve(d, market="both"),
        "the new market's curve": lambda d: _curve(d, market="new"),
        "tuned on the test split": lambda d: _curve(d, split="test"),
        "tuning and test pooled": lambda d: _curve(d, split="all"),
        "cost per payment, not per 1,000": lambda d: _curve(d, scale=1.0),
        "the two costs swapped": lambda d: _curve(d, swap=True),
        "low scores held instead of high ones": lambda d: _curve(d, below=True),
        "the wrong market named as the launch market": _curve_wrong_market,
    },
    "calibration_by_market": {
        "ECE as an unweighted mean over bins": lambda d: _calibration(d, "unweighted ece"),
        "mean absolute error reported as Brier": lambda d: _calibration(d, "absolute error as brier"),
        "computed on both splits": lambda d: _calibration(d, "all splits"),
        "fraud rate read off the score (share above 0.5)": lambda d: _calibration(
            d, "share flagged at 0.5 as fraud rate"),
    },
    "market_thresholds": {
        "Elkan's t* put straight on the raw score": lambda d: _thresholds(d, "raw t*"),
        "one threshold for both markets": lambda d: _thresholds(d, "one shared threshold"),
        "the launch market's recalibration used everywhere": lambda d: _thresholds(
            d, "launch market's recalibration everywhere"),
        "Platt on the score instead of its log-odds": lambda d: _thresholds(d, "platt on the score, not its log-odds"),
        "the two markets' thresholds swapped": _swap_markets,
    },
    "base_rate_precision": {
        "precision reported as sensitivity": _ppv_precision_as_sensitivity,
        "specificity over all payments, not the good ones": _ppv_specificity_over_everything,
        "the formula run with the launch market's prevalence": _ppv_formula_with_launch_prevalence,
        "percentages instead of shares": _ppv_as_percentages,
        "sensitivity and specificity re-measured in the new market": _ppv_new_market_own_rates,
    },
    "pilot_guardrails": {
        "control minus treatment": lambda d: _pilot(d, sign=-1.0),
        "90% intervals": lambda d: _pilot(d, z=1.6448536269514722),
        "standard deviations instead of standard errors": lambda d: _pilot(d, se="standard deviation"),
        "only the treatment arm's uncertainty": lambda d: _pilot(d, se="treatment only"),
        "breached read from the point estimate": _pilot_breached_by_point_estimate,
        "nothing breached: the primary metric improved": _pilot_nothing_breached,
    },
    "metric_spec": {
        "one line": lambda d: "Launch: the guardrail is fine, threshold 0.1, roll back if needed.",
        "no figures": lambda d: " ".join(["We set the threshold by cost, watch every guardrail, and roll back on "
                                          "harm."] * 8),
        "placeholder text": lambda d: "YOUR ANSWER HERE",
        "keyword salad": lambda d: _salad(),
    },
}
