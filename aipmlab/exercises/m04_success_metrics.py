"""Module 04 — success metrics beyond accuracy (a payment-fraud hold): exercise definitions."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect, Outcome, Written

MARKETS = ("north", "south")
SPLITS = ("tune", "test")      # choose and fit on the tuning split; check what you chose on the test split

# What one error costs, in dollars, from the team's own figures (set with finance and support before the analysis).
# A false positive holds a good payment: some users abandon the purchase, some contact support, a few leave.
AVERAGE_PAYMENT = 80.0         # dollars, a typical good payment
TAKE_RATE = 0.25               # the share of a payment the app keeps as margin
ABANDON_RATE = 0.5             # share of held good payments the user never completes
SUPPORT_CONTACT_RATE = 0.4     # share of held good users who contact support...
SUPPORT_CONTACT_COST = 10.0    # ...at this cost per contact
CHURN_RATE = 0.02              # share of held good users who leave for good...
LIFETIME_VALUE = 300.0         # ...taking this much future margin with them
# A false negative lets a fraudulent payment through: the stolen amount comes back as a chargeback, with a fee.
AVERAGE_FRAUD_PAYMENT = 150.0  # dollars
CHARGEBACK_FEE = 20.0
CHARGEBACK_HANDLING = 10.0     # staff time per chargeback

THRESHOLD_GRID = tuple(round(0.01 * i, 2) for i in range(1, 100))  # thresholds the team can set: 0.01 ... 0.99
CALIBRATION_BINS = 10          # equal-width bins of the score for the reliability diagram and ECE
Z = 1.959963984540054          # the normal quantile for a 95% two-sided interval

PILOT_METRICS = ("fraud_loss", "checkout_completion", "support_contact", "retention_30d")
PRIMARY_METRIC = "fraud_loss"
GUARDRAILS = PILOT_METRICS[1:]
# Set before the pilot: how much harm each guardrail may take (treatment minus control, in its own units), and
# which direction is harmful. A guardrail is breached when its whole 95% interval lies beyond its tolerance.
GUARDRAIL_TOLERANCE = {"checkout_completion": -0.01, "support_contact": 0.01, "retention_30d": -0.01}
HARMFUL_DIRECTION = {"checkout_completion": -1, "support_contact": 1, "retention_30d": -1}

# Tolerances, each a stated choice: answers rounded to 4 decimals pass, a material error fails.
SHARE_ATOL = 5e-4              # shares, rates, Brier, ECE and PPVs (4-decimal rounding moves them at most 5e-5)
DOLLAR_ATOL = 0.01             # dollars (costs rounded to the cent pass)
COST_PER_1000_RTOL = 1e-4      # expected cost per 1,000 payments, relative
THRESHOLD_LOGIT_ATOL = 0.05    # recalibrated thresholds, on the log-odds scale (any solver of the same fit lands here)


def cost_per_1000(score: np.ndarray, is_fraud: np.ndarray, threshold: float, cost_fp: float,
                  cost_fn: float) -> float:
    """Cost per 1,000 payments of holding every payment whose score is at least `threshold`."""
    held = np.asarray(score) >= threshold
    fraud = np.asarray(is_fraud).astype(bool)
    return float(1000 * (cost_fp * (held & ~fraud).sum() + cost_fn * (~held & fraud).sum()) / fraud.size)


def ppv_from_rates(sensitivity: float, specificity: float, prevalence: float) -> float:
    """Share of flags that are truly positive: sens·prev / (sens·prev + (1 − spec)(1 − prev))."""
    flagged_true = sensitivity * prevalence
    return flagged_true / (flagged_true + (1 - specificity) * (1 - prevalence))


def _scored(data: DataSource) -> pd.DataFrame:
    return data.load("payment_flags_scored")


# --- Exercise 1 --------------------------------------------------------------------------------

COST_KEYS = ["cost_false_positive", "cost_false_negative", "threshold"]


def _costs_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, COST_KEYS, "error_costs", 1)
    fp = checks.require_number(answer["cost_false_positive"], "error_costs['cost_false_positive']", 0, None, 1)
    fn = checks.require_number(answer["cost_false_negative"], "error_costs['cost_false_negative']", 0, None, 2)
    threshold = checks.require_probability(answer["threshold"], "error_costs['threshold']", 3)
    if fp <= 0 or fn <= 0:
        raise Incorrect("Both errors cost something: each cost should be above zero.", 1)
    if threshold >= 0.5 and fn > fp:
        raise Incorrect("When letting fraud through costs more than holding a good payment, the threshold should sit "
                        "below 0.5: you hold a payment before you are sure it is fraud.", 3)


def _costs_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "cost_false_positive": ("cost_false_positive is off. Add up what one held good payment costs: the margin "
                                "lost when the user abandons, the support contacts, and the users who leave. Each "
                                "is a chance times a cost.", 1),
        "cost_false_negative": ("cost_false_negative is off. A fraudulent payment let through costs the stolen "
                                "amount (returned by chargeback), the chargeback fee and its handling.", 2),
    }, DOLLAR_ATOL)
    if not checks.numbers_match(answer["threshold"], expected["threshold"], SHARE_ATOL):
        raise Incorrect("threshold is off. Hold a payment when its chance of fraud p makes holding cheaper than "
                        "letting it through: p x c_FN >= (1 - p) x c_FP. Solve for p.", 3)


ERROR_COSTS = Exercise(
    key="error_costs", number=1, title="What each error costs", points=1,
    expects="a dict with keys 'cost_false_positive', 'cost_false_negative' (dollars) and 'threshold' (a probability)",
    hints=(
        "Follow one held good payment: how often does the user walk away (and what margin is lost), contact support "
        "(at what cost), leave for good (taking what lifetime value)? Each piece is a chance times a cost; add them.",
        "Follow one fraudulent payment you let through: the card holder disputes it, so the money goes back, and the "
        "payment network charges a fee; someone handles the case.",
        "Hold when the expected cost of holding, (1 - p) x c_FP, is at most the expected cost of letting it through, "
        "p x c_FN. Solving gives Elkan's threshold c_FP / (c_FP + c_FN). Should it be above or below 0.5 here?",
    ),
    check_structure=_costs_structure, compare=_costs_compare,
)


# --- Exercise 2 --------------------------------------------------------------------------------

CURVE_KEYS = ["launch_market", "best_threshold", "cost_at_best", "cost_at_closed_form"]


def _curve_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, CURVE_KEYS, "launch_cost_curve", 1)
    if answer["launch_market"] not in MARKETS:
        raise Incorrect(f"launch_cost_curve['launch_market'] should be one of {', '.join(map(repr, MARKETS))}.", 1)
    best = checks.require_probability(answer["best_threshold"], "launch_cost_curve['best_threshold']", 2)
    if not any(abs(best - t) < 1e-9 for t in THRESHOLD_GRID):
        raise Incorrect("launch_cost_curve['best_threshold'] should be one of the thresholds in THRESHOLD_GRID.", 2)
    at_best = checks.require_number(answer["cost_at_best"], "launch_cost_curve['cost_at_best']", 0, None, 2)
    at_closed = checks.require_number(answer["cost_at_closed_form"], "launch_cost_curve['cost_at_closed_form']", 0,
                                      None, 3)
    if at_best > at_closed * (1 + COST_PER_1000_RTOL) + DOLLAR_ATOL:
        raise Incorrect("cost_at_best is higher than cost_at_closed_form, but the best threshold of the grid should "
                        "cost no more than any other threshold you try on the same payments.", 2)


def _close_cost(answer: float, expected: float) -> bool:
    return abs(float(answer) - float(expected)) <= max(DOLLAR_ATOL, COST_PER_1000_RTOL * abs(float(expected)))


def _curve_compare(answer: dict, expected: dict) -> None:
    if answer["launch_market"] != expected["launch_market"]:
        raise Incorrect("launch_market is off: the model runs today where fraud is common. Compare the markets' "
                        "fraud rates in the tuning split.", 1)
    if not _close_cost(answer["cost_at_best"], expected["cost_at_best"]) or \
            abs(answer["best_threshold"] - expected["best_threshold"]) > 1e-9:
        raise Incorrect("best_threshold or cost_at_best is off. Use the launch market's tuning split only; at each "
                        "threshold hold payments with score >= threshold, count held good payments and passed "
                        "frauds, weigh them by your two costs, and scale to 1,000 payments. Take the cheapest "
                        "(the first, if two tie).", 2)
    if not _close_cost(answer["cost_at_closed_form"], expected["cost_at_closed_form"]):
        raise Incorrect("cost_at_closed_form is off. Same payments, same costs, holding every payment whose raw "
                        "score is at least Elkan's threshold from exercise 1.", 3)


def _team_costs() -> tuple[float, float]:
    """The team's cost of each error, in dollars, from the figures above (what deploy charges)."""
    held = AVERAGE_PAYMENT * TAKE_RATE * ABANDON_RATE + SUPPORT_CONTACT_RATE * SUPPORT_CONTACT_COST
    return held + CHURN_RATE * LIFETIME_VALUE, AVERAGE_FRAUD_PAYMENT + CHARGEBACK_FEE + CHARGEBACK_HANDLING


def deploy_thresholds(answer: Any, seed: int, cost_fp: float | None = None, cost_fn: float | None = None) -> Outcome:
    """Hold payments at the chosen threshold(s) on fresh payments of both markets: cost per 1,000, best, who pays."""
    from aipmlab.datasets import payment_flags as simulator

    team_fp, team_fn = _team_costs()
    cost_fp = team_fp if cost_fp is None else cost_fp
    cost_fn = team_fn if cost_fn is None else cost_fn
    if isinstance(answer, Mapping) and "best_threshold" in answer:
        thresholds = {market: float(answer["best_threshold"]) for market in MARKETS}
        decision = f"one threshold, {answer['best_threshold']:.2f}, in both markets"
    else:
        thresholds = {market: float(answer[market]) for market in MARKETS}
        decision = "per-market thresholds (" + ", ".join(f"{m} {t:.3f}" for m, t in thresholds.items()) + ")"
    table = simulator.deployed_cost(seed, thresholds, cost_fp, cost_fn).round(2)
    value, best = float(table["cost"].mean()), float(table["best_cost"].mean())
    low = simulator.cached_world(seed).low_prevalence_market
    blocked, passed = table["good_blocked"].mean(), table["fraud_passed"].mean()
    summary = (f"Holding payments at {decision}: on fresh payments from both markets this costs ${value:,.0f} per "
               f"1,000 payments, with {blocked:.1f} good payments held and {passed:.1f} frauds let through per "
               f"1,000 (in {low}, where fraud is rare: {table.loc[low, 'good_blocked']:.1f} good payments held). "
               f"The best thresholds in hindsight cost ${best:,.0f}: a regret of ${max(0.0, value - best):,.0f} "
               f"per 1,000 payments.")
    return Outcome(decision, value, best, "expected cost per 1,000 payments (dollars)", False, summary, table)


LAUNCH_COST_CURVE = Exercise(
    key="launch_cost_curve", number=2, title="The cost curve in the launch market", points=2,
    expects="a dict with keys 'launch_market' (a market name), 'best_threshold' (from THRESHOLD_GRID), "
            "'cost_at_best' and 'cost_at_closed_form' (dollars per 1,000 payments)",
    hints=(
        "Which market does the model run in today? The scenario says: the one where fraud is common. Work on that "
        "market's tuning split only; the test split is for later.",
        "For one threshold t: held = score >= t. False positives are held good payments, false negatives are frauds "
        "not held. Cost per 1,000 = 1000 x (c_FP x FP + c_FN x FN) / payments. `cost_per_1000` does exactly this; "
        "run it for every t in THRESHOLD_GRID and keep the cheapest.",
        "cost_at_closed_form puts Elkan's threshold straight on the raw score. If the score were calibrated, would "
        "the two thresholds agree? Do they?",
    ),
    check_structure=_curve_structure, compare=_curve_compare, deploy=deploy_thresholds,
)


# --- Exercise 3 --------------------------------------------------------------------------------

CALIBRATION_COLUMNS = ["fraud_rate", "mean_score", "brier", "ece"]


def expected_calibration_error(score: np.ndarray, is_fraud: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """ECE: over equal-width score bins, |mean score − fraud rate| weighted by the bin's share of payments."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], score)  # the bins scikit-learn's calibration_curve uses
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, weights=score, minlength=bins)
                 - np.bincount(which, weights=np.asarray(is_fraud, dtype=float), minlength=bins))
    return float(gap.sum() / count.sum())


def _calibration_structure(answer: Any, data: DataSource) -> None:
    frame = checks.require_frame(answer, "calibration_by_market", "market", MARKETS, CALIBRATION_COLUMNS, 1)
    checks.require_numeric_columns(frame, "calibration_by_market", CALIBRATION_COLUMNS, 0.0, 1.0, hint=1)


def _calibration_compare(answer: Any, expected: Any) -> None:
    checks.compare_columns(answer.loc[list(expected.index)], expected, "calibration_by_market",
                           {"fraud_rate": 1, "mean_score": 1, "brier": 2, "ece": 3}, SHARE_ATOL)


CALIBRATION_BY_MARKET = Exercise(
    key="calibration_by_market", number=3, title="Is the score a probability? Calibration per market", points=2,
    expects="a DataFrame indexed by `market` with columns fraud_rate, mean_score, brier, ece (tuning split)",
    hints=(
        "A calibrated score means what it says: of payments scored 0.2, about 20% are fraud. The bluntest check: "
        "compare each market's mean score with its fraud rate, on the tuning split.",
        "The Brier score is the mean squared gap between score and outcome (1 for fraud, 0 otherwise): "
        "`sklearn.metrics.brier_score_loss`. Lower is better; it mixes calibration with how well the score ranks.",
        "ECE: cut the score into CALIBRATION_BINS equal-width bins, as `calibration_curve(..., n_bins=10)` does; in "
        "each bin take |mean score - fraud rate|, weigh by the bin's share of payments, and add. "
        "`expected_calibration_error` is provided; make sure your own version agrees with it.",
    ),
    check_structure=_calibration_structure, compare=_calibration_compare,
)


# --- Exercise 4 --------------------------------------------------------------------------------

def _thresholds_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, MARKETS, "market_thresholds", 1)
    for market in MARKETS:
        value = checks.require_probability(answer[market], f"market_thresholds[{market!r}]", 1)
        if not 0 < value < 1:
            raise Incorrect(f"market_thresholds[{market!r}] should lie strictly between 0 and 1: at 0 every payment "
                            f"is held, at 1 none is.", 1)


def _thresholds_compare(answer: dict, expected: dict) -> None:
    for market in MARKETS:
        gap = abs(math.log(answer[market] / (1 - answer[market])) - math.log(expected[market] / (1 - expected[market])))
        if gap > THRESHOLD_LOGIT_ATOL:
            raise Incorrect(f"The threshold for {market!r} is off. On that market's tuning split, fit Platt scaling "
                            f"(a logistic regression of is_fraud on logit(score), no penalty), find the calibrated "
                            f"probability that equals Elkan's threshold, and turn it back into a raw score.", 2)


MARKET_THRESHOLDS = Exercise(
    key="market_thresholds", number=4, title="Recalibrate, then set a threshold per market", points=3,
    expects="a dict {market: threshold on the raw score}, one per market in MARKETS",
    hints=(
        "Elkan's threshold is a threshold on a *probability*. Exercise 3 showed the raw score is not one, and not in "
        "the same way in both markets. So turn the score into a probability first, market by market, on the tuning "
        "split, and only then apply c_FP / (c_FP + c_FN).",
        "Platt scaling: calibrated p = sigmoid(a x logit(score) + b). Which regression gives you a and b, and on "
        "which input? (No penalty: `C=np.inf`; clip scores away from 0 and 1 before taking logit.) Then solve "
        "calibrated p = t* for logit(score), and turn the answer back into a score with `expit`.",
        "Why Platt and not isotonic regression? Count the frauds in the low-prevalence market's tuning split. A "
        "step function fitted to a few dozen positives jumps around exactly where the threshold sits; two "
        "parameters do not.",
    ),
    check_structure=_thresholds_structure, compare=_thresholds_compare, deploy=deploy_thresholds,
)


# --- Exercise 5 --------------------------------------------------------------------------------

PPV_KEYS = ["sensitivity", "specificity", "ppv_launch", "ppv_new_formula", "ppv_new_observed"]


def _ppv_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, PPV_KEYS, "base_rate_precision", 1)
    values = {key: checks.require_probability(answer[key], f"base_rate_precision[{key!r}]", 1) for key in PPV_KEYS}
    if values["sensitivity"] in (0.0, 1.0) or values["specificity"] in (0.0, 1.0):
        raise Incorrect("Sensitivity and specificity of 0 or 1 mean the threshold holds everything or nothing; "
                        "use the launch threshold from exercise 2.", 1)


def _ppv_compare(answer: dict, expected: dict) -> None:
    checks.compare_values(answer, expected, {
        "sensitivity": ("sensitivity is off: among the launch market's frauds (tuning split), the share held at the "
                        "launch threshold.", 1),
        "specificity": ("specificity is off: among the launch market's good payments (tuning split), the share "
                        "*not* held.", 1),
        "ppv_launch": ("ppv_launch is off: among the launch market's held payments (tuning split), the share that "
                       "are fraud.", 2),
        "ppv_new_formula": ("ppv_new_formula is off: the launch market's sensitivity and specificity, with the new "
                            "market's fraud rate (tuning split) as the prevalence, in the PPV formula.", 2),
        "ppv_new_observed": ("ppv_new_observed is off: hold the new market's tuning payments at the same launch "
                             "threshold, and take the share of held payments that are fraud.", 3),
    }, SHARE_ATOL)


BASE_RATE_PRECISION = Exercise(
    key="base_rate_precision", number=5, title="Same model, rarer fraud: what happens to precision", points=2,
    expects="a dict with keys " + ", ".join(map(repr, PPV_KEYS)) + ", each a share between 0 and 1",
    hints=(
        "Keep the classifier fixed: the launch market's best threshold from exercise 2. Measure it where it was "
        "tuned (the launch market's tuning split): sensitivity = held frauds / frauds, specificity = payments not "
        "held / good payments, PPV = frauds / held payments.",
        "Before launching elsewhere, a PM can predict precision from the base rate alone: PPV = sens x prev / "
        "(sens x prev + (1 - spec) x (1 - prev)) (`ppv_from_rates`). Use the new market's fraud rate as prev.",
        "Then look: hold the new market's tuning payments at the same threshold and measure the share of held "
        "payments that are fraud. Is it close to the formula? What does 1 - PPV mean for the users being held?",
    ),
    check_structure=_ppv_structure, compare=_ppv_compare,
)


# --- Exercise 6 --------------------------------------------------------------------------------

PILOT_COLUMNS = ["control", "treatment", "difference", "ci_low", "ci_high"]


def breached_guardrails(table: pd.DataFrame) -> list[str]:
    """The guardrails whose whole 95% interval lies beyond their tolerance, on the harmful side."""
    breached = []
    for name in GUARDRAILS:
        tolerance, direction = GUARDRAIL_TOLERANCE[name], HARMFUL_DIRECTION[name]
        nearest = table.loc[name, "ci_low"] if direction > 0 else table.loc[name, "ci_high"]
        if direction * (nearest - tolerance) > 0:
            breached.append(name)
    return breached


def _pilot_structure(answer: Any, data: DataSource) -> None:
    checks.require_mapping(answer, ["table", "breached"], "pilot_guardrails", 1)
    frame = checks.require_frame(answer["table"], "pilot_guardrails['table']", "metric", PILOT_METRICS,
                                 PILOT_COLUMNS, 1)
    checks.require_numeric_columns(frame, "pilot_guardrails['table']", PILOT_COLUMNS, hint=1)
    values = frame.loc[list(PILOT_METRICS), PILOT_COLUMNS].astype(float)
    if ((values["difference"] - (values["treatment"] - values["control"])).abs() > 2 * SHARE_ATOL).any():
        raise Incorrect("In each row, difference should be treatment minus control.", 1)
    if ((values["ci_low"] > values["difference"] + 1e-9) | (values["ci_high"] < values["difference"] - 1e-9)).any():
        raise Incorrect("Each interval should contain its difference: ci_low <= difference <= ci_high.", 2)
    checks.require_labels(answer["breached"], GUARDRAILS, "pilot_guardrails['breached']", 3)


def _pilot_compare(answer: dict, expected: dict) -> None:
    table, reference = answer["table"], expected["table"]
    for column, hint in (("control", 1), ("treatment", 1), ("difference", 1), ("ci_low", 2), ("ci_high", 2)):
        for metric in PILOT_METRICS:
            scale = 100.0 if metric == PRIMARY_METRIC else 1.0  # dollars per user: allow cents; shares: 4 decimals
            if not checks.numbers_match(table.loc[metric, column], reference.loc[metric, column], SHARE_ATOL * scale):
                message = ("the arm means are off: per metric, the mean per user in each arm, and treatment minus "
                           "control" if hint == 1 else
                           "the intervals are off: difference ± Z x sqrt(var_t / n_t + var_c / n_c), with each "
                           "arm's sample variance (ddof=1)")
                raise Incorrect(f"Row {metric!r}: {message}.", hint)
    if sorted(answer["breached"]) != sorted(expected["breached"]):
        raise Incorrect("breached is off. A guardrail is breached when its whole interval lies beyond its tolerance on "
                        "the harmful side (GUARDRAIL_TOLERANCE, HARMFUL_DIRECTION): not when the point estimate "
                        "merely looks worse.", 3)


PILOT_GUARDRAILS = Exercise(
    key="pilot_guardrails", number=6, title="The pilot: primary metric and guardrails, with intervals", points=2,
    expects="a dict {'table': DataFrame indexed by `metric` with columns control, treatment, difference, ci_low, "
            "ci_high; 'breached': [guardrail, ...]}",
    hints=(
        "One row per metric in PILOT_METRICS: the mean per user in each arm, and treatment minus control. For a "
        "0/1 column the mean is a rate; for fraud_loss it is dollars per user.",
        "The arms are independent samples of users, so the standard error of the difference is sqrt(var_t / n_t + "
        "var_c / n_c), with each arm's sample variance (`.var()`, ddof=1). The 95% interval is difference ± Z x SE.",
        "Read each guardrail against the tolerance the team set before the pilot: breached only when the *whole* "
        "interval is worse than the tolerance. `breached_guardrails(table)` applies that rule.",
    ),
    check_structure=_pilot_structure, compare=_pilot_compare,
)


# --- Exercise 7 --------------------------------------------------------------------------------

SPEC_WRITTEN = Written(manual_points=6, min_words=90,
                       must_mention=(("guardrail",), ("threshold",), ("roll back", "rollback", "roll-back")))
MIN_SENTENCES = 5


def _spec_structure(answer: Any, data: DataSource) -> None:
    """Beyond length, a figure and the three words: written in sentences, not a list of keywords."""
    sentences = [part for part in re.split(r"[.!?;:]+(?:\s|$)", answer) if len(part.split()) >= 4]
    if len(sentences) < MIN_SENTENCES or max(len(part.split()) for part in sentences) > 80:
        raise Incorrect(f"metric_spec should be written in sentences a launch review can sign (at least "
                        f"{MIN_SENTENCES}): the primary metric, each guardrail with its tolerance, the thresholds, "
                        f"who each error hurts, and what triggers a roll-back.", 1)


METRIC_SPEC = Exercise(
    key="metric_spec", number=7, title="The metric spec a launch review signs", points=0,
    expects="your metric spec as text in triple quotes",
    hints=(
        "A launch review asks five things: what we optimise (the primary metric, in dollars per 1,000 payments), "
        "what must not get worse (each guardrail, with the tolerance set before the pilot), the thresholds and why, "
        "who pays for each kind of error, and what number would make us roll back.",
        "Quote your own figures: the two costs and t*, each market's threshold, the pilot's effect on fraud loss "
        "with its interval, and the guardrail that breached. A rollback trigger someone can check on a dashboard "
        "beats a good intention.",
    ),
    written=SPEC_WRITTEN, check_structure=_spec_structure,
)


MODULE = Module(
    slug="04-success-metrics",
    title="Success metrics beyond accuracy",
    purpose="Price each error, set thresholds by expected cost on a calibrated score, see precision fall with the "
            "base rate, and sign a metric spec with guardrails.",
    minutes=140,
    tables=("payment_flags_scored", "payment_flags_pilot"),
    exercises=(ERROR_COSTS, LAUNCH_COST_CURVE, CALIBRATION_BY_MARKET, MARKET_THRESHOLDS, BASE_RATE_PRECISION,
               PILOT_GUARDRAILS, METRIC_SPEC),
)
