"""Module 04: the generator's design, the answer key against scikit-learn and statsmodels, the stated tolerances,
deploy, and the figures of the strong written example."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from scipy.stats import norm
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from aipmlab import answer_key, datasets
from aipmlab.datasets import payment_flags
from aipmlab.exercises import m04_success_metrics as m04
from aipmlab.exercises.core import DataSource, State, judge
from tests.conftest import OTHER_SEEDS

KEY = answer_key.load("m04_success_metrics")
SEEDS = (payment_flags.CANONICAL_SEED, *OTHER_SEEDS)


def tune_frame(seed: int, market: str) -> pd.DataFrame:
    scored = DataSource(seed).load("payment_flags_scored")
    return scored[(scored["split"] == "tune") & (scored["market"] == market)]


# --- the generator ------------------------------------------------------------------------------------------

def test_a_draw_is_reproducible_and_the_canonical_draw_is_generate():
    world = payment_flags.world(5)
    first = payment_flags.draw(world, np.random.default_rng(5))[0]
    again = payment_flags.generate(5)[0]
    for name, table in first.items():
        pd.testing.assert_frame_equal(table, again[name])


def test_the_ground_truth_stays_out_of_the_files():
    tables, _ = payment_flags.generate(payment_flags.CANONICAL_SEED)
    assert list(tables["payment_flags_scored"].columns) == ["payment_id", "market", "split", "score", "is_fraud"]
    assert list(tables["payment_flags_pilot"].columns) == ["user_id", "arm", *m04.PILOT_METRICS]
    for table in ("payment_flags_scored", "payment_flags_pilot"):
        assert datasets.csv_path(table).stat().st_size < 600_000


def test_the_module_and_the_generator_agree_on_names():
    assert payment_flags.MARKETS == m04.MARKETS and payment_flags.SPLITS == m04.SPLITS
    assert payment_flags.GUARDRAILS == m04.GUARDRAILS
    assert all(payment_flags.HARMFUL_SIGN[g] == m04.HARMFUL_DIRECTION[g] for g in m04.GUARDRAILS)


# --- cross-checks against the libraries -----------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_brier_and_ece_match_scikit_learn(seed):
    table = KEY.calibration_by_market(DataSource(seed))
    for market in m04.MARKETS:
        part = tune_frame(seed, market)
        score, fraud = part["score"].to_numpy(), part["is_fraud"].to_numpy()
        assert table.loc[market, "brier"] == pytest.approx(brier_score_loss(fraud, score), abs=1e-12)
        observed, predicted = calibration_curve(fraud, score, n_bins=m04.CALIBRATION_BINS)
        edges = np.linspace(0, 1, m04.CALIBRATION_BINS + 1)
        counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=m04.CALIBRATION_BINS)
        ece = float((counts[counts > 0] * np.abs(observed - predicted)).sum() / counts.sum())
        assert table.loc[market, "ece"] == pytest.approx(ece, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_platt_thresholds_match_scikit_learns_logistic_regression(seed):
    reference = KEY.market_thresholds(DataSource(seed))
    t_star = KEY.error_costs()["threshold"]
    for market in m04.MARKETS:
        part = tune_frame(seed, market)
        log_odds = logit(part["score"].clip(1e-4, 1 - 1e-4)).to_numpy()[:, None]
        fit = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(log_odds, part["is_fraud"])
        a, b = fit.coef_[0, 0], fit.intercept_[0]
        assert logit(reference[market]) == pytest.approx((logit(t_star) - b) / a, abs=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_pilot_intervals_match_statsmodels(seed):
    pilot = DataSource(seed).load("payment_flags_pilot")
    table = KEY.pilot_guardrails(DataSource(seed))["table"]
    for metric in m04.PILOT_METRICS:
        compare = CompareMeans(DescrStatsW(pilot.loc[pilot["arm"] == "treatment", metric].astype(float)),
                               DescrStatsW(pilot.loc[pilot["arm"] == "control", metric].astype(float)))
        low, high = compare.zconfint_diff(alpha=0.05, usevar="unequal")
        assert table.loc[metric, "ci_low"] == pytest.approx(low, abs=1e-10)
        assert table.loc[metric, "ci_high"] == pytest.approx(high, abs=1e-10)


def test_the_vectorised_cost_curve_matches_the_stated_rule_at_every_threshold():
    costs = KEY.error_costs()
    part = tune_frame(payment_flags.CANONICAL_SEED, "north")
    curve = KEY.cost_curve(part["score"].to_numpy(), part["is_fraud"].to_numpy(), costs["cost_false_positive"],
                           costs["cost_false_negative"])
    looped = [m04.cost_per_1000(part["score"], part["is_fraud"], t, costs["cost_false_positive"],
                                costs["cost_false_negative"]) for t in m04.THRESHOLD_GRID]
    assert np.allclose(curve, looped, rtol=0, atol=1e-9)


def test_the_ppv_formula_reproduces_the_observed_precision_with_a_markets_own_rates():
    part = tune_frame(payment_flags.CANONICAL_SEED, "south")
    held, fraud = part["score"] >= 0.2, part["is_fraud"] == 1
    sensitivity = (held & fraud).sum() / fraud.sum()
    specificity = (~held & ~fraud).sum() / (~fraud).sum()
    assert m04.ppv_from_rates(sensitivity, specificity, fraud.mean()) == pytest.approx(
        (held & fraud).sum() / held.sum(), abs=1e-12)


def test_elkans_threshold_and_the_normal_quantile():
    assert KEY.error_costs() == {"cost_false_positive": 20.0, "cost_false_negative": 180.0, "threshold": 0.1}
    assert m04.Z == pytest.approx(norm.ppf(0.975), abs=1e-12)


# --- the stated tolerances: 4-decimal rounding passes, a material error fails -----------------------------------

def _rounded(value):
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return value.round(4)
    return round(value, 4) if isinstance(value, float) else value


@pytest.mark.parametrize("key", ["error_costs", "launch_cost_curve", "calibration_by_market", "market_thresholds",
                                 "base_rate_precision", "pilot_guardrails"])
def test_answers_rounded_to_four_decimals_pass(key):
    data = DataSource()
    reference = getattr(KEY, key)(data)
    verdict = judge(m04.MODULE.exercise(key), _rounded(copy.deepcopy(reference)), data, reference, has_reference=True)
    assert verdict.state is State.CORRECT, verdict.message


@pytest.mark.parametrize(("key", "change"), [
    ("error_costs", lambda a: a.update(cost_false_positive=a["cost_false_positive"] + 1)),
    ("error_costs", lambda a: a.update(threshold=a["threshold"] + 0.002)),
    ("launch_cost_curve", lambda a: a.update(cost_at_closed_form=a["cost_at_closed_form"] * 1.01)),
    ("launch_cost_curve", lambda a: a.update(best_threshold=round(a["best_threshold"] + 0.01, 2))),
    ("calibration_by_market", lambda a: a.__setitem__("ece", a["ece"] + 0.002)),
    ("market_thresholds", lambda a: a.update(north=a["north"] * 1.1)),
    ("base_rate_precision", lambda a: a.update(ppv_new_formula=a["ppv_new_formula"] + 0.002)),
    ("pilot_guardrails", lambda a: a["table"].__setitem__("ci_low", a["table"]["ci_low"] - 0.002)),
])
def test_a_material_error_fails(key, change):
    data = DataSource()
    reference = getattr(KEY, key)(data)
    answer = copy.deepcopy(reference)
    change(answer)
    verdict = judge(m04.MODULE.exercise(key), answer, data, reference, has_reference=True)
    assert verdict.state is State.INCORRECT, key


# --- deploy: decisions meet fresh payments ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_deploying_the_reference_thresholds_has_a_small_regret_and_absurd_ones_a_large_one(seed):
    data = DataSource(seed)
    outcome = m04.MARKET_THRESHOLDS.deploy(KEY.market_thresholds(data), seed)
    assert outcome.regret < 0.02 * outcome.best_value
    assert "regret" in outcome.summary and outcome.higher_is_better is False
    for absurd in (0.01, 0.9):
        wasteful = m04.MARKET_THRESHOLDS.deploy({market: absurd for market in m04.MARKETS}, seed)
        assert wasteful.regret > 0.3 * wasteful.best_value
    shared = m04.LAUNCH_COST_CURVE.deploy(KEY.launch_cost_curve(data), seed)
    assert shared.regret > outcome.regret
    assert set(shared.table.index) == set(m04.MARKETS)


def test_deploy_draws_fresh_payments_not_the_learners_data():
    fresh = payment_flags.fresh_payments(payment_flags.CANONICAL_SEED)
    assert all(len(risk) == payment_flags.FRESH_PAYMENTS for risk, _ in fresh.values())
    scored = DataSource().load("payment_flags_scored")
    assert len(scored) < payment_flags.FRESH_PAYMENTS


# --- the written answer's examples ----------------------------------------------------------------------------

def test_the_strong_metric_spec_quotes_the_canonical_data():
    """Every figure in the strong example is true for the canonical seed."""
    data = DataSource()
    text = answer_key.strong_example(KEY, "metric_spec")
    costs, curve = KEY.error_costs(data), KEY.launch_cost_curve(data)
    calibration, thresholds = KEY.calibration_by_market(data), KEY.market_thresholds(data)
    ppv, pilot = KEY.base_rate_precision(data), KEY.pilot_guardrails(data)
    table = pilot["table"]
    assert curve["launch_market"] == "north" and pilot["breached"] == ["retention_30d"]
    assert f"costs ${costs['cost_false_positive']:.0f}" in text and f"costs ${costs['cost_false_negative']:.0f}" in text
    assert f"p >= {costs['threshold']:.2f}" in text
    assert (f"its mean is {calibration.loc['south', 'mean_score']:.1%} against a fraud rate of "
            f"{calibration.loc['south', 'fraud_rate']:.1%}") in text
    assert KEY.platt_fit(*KEY.tune_split(DataSource().load("payment_flags_scored"))["north"])[0] > 1  # "too timid"
    assert f"{thresholds['north']:.3f} in north and {thresholds['south']:.3f} in south" in text
    assert f"({curve['best_threshold']:.2f}, the cheapest" in text
    assert f"there {1 - ppv['ppv_new_observed']:.0%} of holds" in text
    fraud = table.loc["fraud_loss"]
    assert (f"cut fraud loss by ${-fraud['difference']:.2f} per user (95% interval ${-fraud['ci_high']:.2f} to "
            f"${-fraud['ci_low']:.2f})") in text
    retention = table.loc["retention_30d"] * 100
    assert (f"fell by {-retention['difference']:.1f} points (interval {-retention['ci_high']:.1f} to "
            f"{-retention['ci_low']:.1f})") in text
