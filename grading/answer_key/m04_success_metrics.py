"""Answer key for module 04. Each function takes the learner's DataSource and returns the reference.

Never shipped to a candidate. Costs, calibration and intervals are computed here by hand, vectorised; the
tests cross-check them against scikit-learn (Brier, calibration_curve, logistic regression) and statsmodels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from aipmlab.answer_key import Criterion, ExampleAnswer, Level, Rubric
from aipmlab.exercises.core import DataSource
from aipmlab.exercises.m04_success_metrics import (
    ABANDON_RATE, AVERAGE_FRAUD_PAYMENT, AVERAGE_PAYMENT, CHARGEBACK_FEE, CHARGEBACK_HANDLING, CHURN_RATE,
    LIFETIME_VALUE, MARKETS, PILOT_METRICS, SUPPORT_CONTACT_COST, SUPPORT_CONTACT_RATE, TAKE_RATE, THRESHOLD_GRID, Z,
    breached_guardrails, expected_calibration_error, ppv_from_rates,
)

SCORE_CLIP = 1e-4  # scores are rounded to 4 decimals; clip before logit so 0 and 1 stay finite


def error_costs(data: DataSource | None = None) -> dict:
    held = AVERAGE_PAYMENT * TAKE_RATE * ABANDON_RATE + SUPPORT_CONTACT_RATE * SUPPORT_CONTACT_COST
    cost_fp = held + CHURN_RATE * LIFETIME_VALUE
    cost_fn = AVERAGE_FRAUD_PAYMENT + CHARGEBACK_FEE + CHARGEBACK_HANDLING
    return {"cost_false_positive": cost_fp, "cost_false_negative": cost_fn, "threshold": cost_fp / (cost_fp + cost_fn)}


def cost_curve(score: np.ndarray, is_fraud: np.ndarray, cost_fp: float, cost_fn: float,
               grid=THRESHOLD_GRID) -> np.ndarray:
    """Cost per 1,000 payments at every threshold of `grid` (hold when score >= threshold), vectorised."""
    order = np.argsort(score)
    score, fraud = np.asarray(score)[order], np.asarray(is_fraud).astype(bool)[order]
    below = np.searchsorted(score, np.asarray(grid), side="left")         # payments not held at each threshold
    fraud_below = np.concatenate([[0], np.cumsum(fraud)])[below]
    good_held = (~fraud).sum() - (below - fraud_below)
    return 1000 * (cost_fp * good_held + cost_fn * fraud_below) / score.size


def tune_split(scored: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per market, the tuning split's (score, is_fraud) arrays: what exercises 2 to 5 work on."""
    tune = scored[scored["split"].to_numpy(dtype=object) == "tune"]
    markets = tune["market"].to_numpy(dtype=object)
    score, fraud = tune["score"].to_numpy(), tune["is_fraud"].to_numpy()
    return {market: (score[markets == market], fraud[markets == market]) for market in MARKETS}


def launch_cost_curve_of(tune: dict) -> dict:
    """Exercise 2 on the tuning split (`tune_split`)."""
    costs = error_costs()
    fp, fn, closed = costs["cost_false_positive"], costs["cost_false_negative"], costs["threshold"]
    market = max(MARKETS, key=lambda m: tune[m][1].mean())  # the launch market: where fraud is common
    score, fraud = tune[market]
    curve = cost_curve(score, fraud, fp, fn)
    best = int(np.argmin(curve))
    return {"launch_market": market, "best_threshold": THRESHOLD_GRID[best], "cost_at_best": float(curve[best]),
            "cost_at_closed_form": float(cost_curve(score, fraud, fp, fn, (closed,))[0])}


def launch_cost_curve(data: DataSource) -> dict:
    return launch_cost_curve_of(tune_split(data.load("payment_flags_scored")))


def calibration_by_market_of(tune: dict) -> pd.DataFrame:
    rows = {}
    for market in MARKETS:
        score, fraud = tune[market]
        rows[market] = {"fraud_rate": float(fraud.mean()), "mean_score": float(score.mean()),
                        "brier": float(((score - fraud) ** 2).mean()), "ece": expected_calibration_error(score, fraud)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("market")


def calibration_by_market(data: DataSource) -> pd.DataFrame:
    return calibration_by_market_of(tune_split(data.load("payment_flags_scored")))


def platt_fit(score: np.ndarray, is_fraud: np.ndarray, steps: int = 30) -> tuple[float, float]:
    """Platt scaling without a penalty: (a, b) of P(fraud) = sigmoid(a·logit(score) + b), by Newton's method."""
    x = logit(np.clip(score, SCORE_CLIP, 1 - SCORE_CLIP))
    y = np.asarray(is_fraud, dtype=float)
    design = np.stack([x, np.ones_like(x)], axis=1)
    weights = np.array([0.0, logit(np.clip(y.mean(), 1e-6, 1 - 1e-6))])  # the usual start: no slope, base rate

    def log_likelihood(w: np.ndarray) -> float:
        z = design @ w
        return float((y * z - np.logaddexp(0.0, z)).sum())

    current = log_likelihood(weights)
    for _ in range(steps):
        p = expit(design @ weights)
        gradient = design.T @ (y - p)
        hessian = (design * (p * (1 - p))[:, None]).T @ design
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        while log_likelihood(weights + step) < current and np.abs(step).max() > 1e-12:
            step = step / 2  # a damped Newton step never lowers the likelihood
        weights = weights + step
        current = log_likelihood(weights)
        if np.abs(step).max() < 1e-10:
            break
    return float(weights[0]), float(weights[1])


def raw_threshold(a: float, b: float, probability: float) -> float:
    """The raw score at which the Platt-calibrated probability equals `probability`."""
    return float(expit((logit(probability) - b) / a))


def market_thresholds_of(tune: dict, fits: dict | None = None) -> dict:
    """Exercise 4: per market, the raw score where the Platt-calibrated probability reaches t* (`fits`: (a, b))."""
    closed = error_costs()["threshold"]
    fits = fits or {market: platt_fit(*tune[market]) for market in MARKETS}
    return {market: raw_threshold(*fits[market], closed) for market in MARKETS}


def market_thresholds(data: DataSource) -> dict:
    return market_thresholds_of(tune_split(data.load("payment_flags_scored")))


def _rates(score: np.ndarray, fraud: np.ndarray, threshold: float) -> tuple[float, float, float]:
    held, fraud = score >= threshold, fraud.astype(bool)
    return ((held & fraud).sum() / fraud.sum(), (~held & ~fraud).sum() / (~fraud).sum(),
            (held & fraud).sum() / max(held.sum(), 1))


def base_rate_precision_of(tune: dict, launch: dict | None = None) -> dict:
    launch = launch or launch_cost_curve_of(tune)
    threshold, market = launch["best_threshold"], launch["launch_market"]
    new = next(m for m in MARKETS if m != market)
    sensitivity, specificity, ppv_launch = _rates(*tune[market], threshold)
    new_score, new_fraud = tune[new]
    return {"sensitivity": float(sensitivity), "specificity": float(specificity), "ppv_launch": float(ppv_launch),
            "ppv_new_formula": float(ppv_from_rates(sensitivity, specificity, new_fraud.mean())),
            "ppv_new_observed": float(_rates(new_score, new_fraud, threshold)[2])}


def base_rate_precision(data: DataSource) -> dict:
    return base_rate_precision_of(tune_split(data.load("payment_flags_scored")))


def pilot_guardrails_of(pilot: pd.DataFrame) -> dict:
    rows = {}
    treated = pilot["arm"].to_numpy(dtype=object) == "treatment"
    for metric in PILOT_METRICS:
        values = pilot[metric].to_numpy(dtype=float)
        t, c = values[treated], values[~treated]
        difference = t.mean() - c.mean()
        se = np.sqrt(t.var(ddof=1) / t.size + c.var(ddof=1) / c.size)
        rows[metric] = {"control": c.mean(), "treatment": t.mean(), "difference": difference,
                        "ci_low": difference - Z * se, "ci_high": difference + Z * se}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("metric").astype(float)
    return {"table": table, "breached": breached_guardrails(table)}


def pilot_guardrails(data: DataSource) -> dict:
    return pilot_guardrails_of(data.load("payment_flags_pilot"))


RUBRICS = {
    "metric_spec": Rubric((
        Criterion("Primary metric and thresholds, priced", (
            Level(0, "No primary metric, or accuracy / AUC as the launch metric; no threshold."),
            Level(1, "Expected cost (or fraud loss) as the primary metric, or thresholds, but not both tied to the "
                     "two error costs; or one threshold for both markets."),
            Level(2, "Expected cost per 1,000 payments as the primary metric, with c_FP and c_FN and where they come "
                     "from, Elkan's t*, and a threshold per market on the recalibrated score, with the reason "
                     "(the score is not calibrated, and not in the same way in both markets)."),
        )),
        Criterion("Guardrails and who each error hurts", (
            Level(0, "No guardrail, or guardrails without tolerances."),
            Level(1, "Guardrails named with tolerances, but no interval, or the breached guardrail missing; or the "
                     "people hurt by each error not named."),
            Level(2, "Each guardrail with the tolerance set before the pilot and the pilot's interval; names the one "
                     "that breached; says who pays for a false positive (good users held, and where: the "
                     "low-prevalence market) and for a false negative (card holders and the business)."),
        )),
        Criterion("Decision and roll-back trigger", (
            Level(0, "No decision, or a roll-back condition no one could check (\"if users are unhappy\")."),
            Level(1, "A decision, or a roll-back trigger, but not both; or a trigger on a point estimate."),
            Level(2, "A launch decision that follows from the evidence (fix or hold what breached), and roll-back "
                     "triggers a dashboard can check: a metric, a threshold, a window, and who decides."),
        )),
    )),
}


# Example answers at three levels, scored by the rubric (reviewed by hand). The strong one quotes the canonical
# seed; tests/test_m04_success_metrics.py checks every figure it states against the canonical data.
EXAMPLES = {
    "metric_spec": (
        ExampleAnswer("weak", (
            "Our model has good accuracy and a high AUC, so it is ready to launch in both markets. We will use a "
            "threshold of 0.5 because it is the standard choice. We will watch guardrail metrics like engagement "
            "and customer happiness, and we will roll back if users complain a lot or if the numbers look bad. "
            "Fraud is very costly for the business, so catching more fraud is the most important goal for this "
            "launch. The pilot looked good overall and fraud went down. We should launch next week in 2 markets "
            "and keep an eye on things."
        ), {"Primary metric and thresholds, priced": 0, "Guardrails and who each error hurts": 0,
            "Decision and roll-back trigger": 0}),
        ExampleAnswer("middling", (
            "Primary metric: expected cost per 1,000 payments, with a held good payment costing $20 and a missed "
            "fraud $180, so the cost-minimising threshold on a calibrated score is 0.10. We use the threshold that "
            "was cheapest on the launch market's cost curve, 0.19, in both markets. Guardrails: checkout completion "
            "(may fall by at most 1 point), support contacts (may rise by at most 1 point) and 30-day retention "
            "(may fall by at most 1 point). In the pilot fraud loss per user went down by about $4 and retention "
            "went down too. We will launch in both markets and roll back if the guardrails get worse."
        ), {"Primary metric and thresholds, priced": 1, "Guardrails and who each error hurts": 1,
            "Decision and roll-back trigger": 1}),
        ExampleAnswer("strong", (
            "Primary metric: expected cost of fraud holds per 1,000 payments. A held good payment costs $20 (lost "
            "margin when the user abandons, support contacts, churn) and a fraud let through costs $180 (the "
            "chargeback, its fee and handling), so on a calibrated score we hold at p >= 0.10 (Elkan, 2001). The "
            "raw score is not calibrated: in south, where fraud is rare, its mean is 4.8% against a fraud rate of "
            "1.1%, and in north it is too timid. So we recalibrate per market with Platt scaling and hold at a raw "
            "score of 0.153 in north and 0.375 in south. One threshold for both markets (0.19, the cheapest on "
            "north's cost curve) would hold many good payments in south: there 85% of holds would be good users.\n\n"
            "Guardrails, with tolerances set before the pilot: checkout completion may fall by at most 1 point, "
            "support contacts may rise by at most 1 point, 30-day retention may fall by at most 1 point. The pilot "
            "cut fraud loss by $3.99 per user (95% interval $2.96 to $5.02), but 30-day retention fell by 5.0 "
            "points (interval 3.2 to 6.8), a breach. Good users who are held pay for false positives; card holders "
            "and our chargeback bill pay for false negatives.\n\n"
            "Decision: do not launch as piloted. Find why held users leave (the hold message, how fast holds are "
            "released), fix it and re-run the pilot for two weeks before launching in north; launch in south only "
            "with its own threshold. Roll back if, over any 14-day window, a guardrail's interval lies wholly "
            "beyond its tolerance, or the expected cost per 1,000 payments rises above the old rules'. The fraud PM "
            "decides within one working day."
        ), {"Primary metric and thresholds, priced": 2, "Guardrails and who each error hurts": 2,
            "Decision and roll-back trigger": 2}),
    ),
}
