"""Module 06: the simulator's planted properties, and the answer key's statistics against scipy and statsmodels."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import chi2 as chi2_distribution
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from aipmlab import answer_key
from aipmlab.datasets import recsys_experiment
from aipmlab.exercises import m06_contaminated_ab_tests as m06
from aipmlab.exercises.core import DataSource, State, judge
from tests.conftest import OTHER_SEEDS

KEY = answer_key.load("m06_contaminated_ab_tests")
SEEDS = (recsys_experiment.CANONICAL_SEED, *OTHER_SEEDS)


# --- the world and its draws ---------------------------------------------------------------------------------

def test_the_plants_vary_with_the_seed():
    worlds = [recsys_experiment.world(seed) for seed in range(60)]
    assert {np.sign(w.true_effect) for w in worlds} == {-1.0, 1.0}
    assert {np.sign(w.data_gain * w.true_effect) for w in worlds} == {-1.0, 1.0}  # contamination adds or hides
    assert {w.srm_experiment for w in worlds} == set(recsys_experiment.OTHER_EXPERIMENTS)
    assert {w.srm_platform for w in worlds} == set(recsys_experiment.PLATFORMS)
    assert {"morning", "evening", "treatment"} <= {w.srm_arm for w in worlds}


def test_a_draw_is_reproducible_and_the_canonical_draw_is_generate():
    first = recsys_experiment.draw(recsys_experiment.world(5), np.random.default_rng(5))[0]
    again = recsys_experiment.generate(5)[0]
    for name, table in first.items():
        pd.testing.assert_frame_equal(table, again[name])


def test_the_ground_truth_stays_out_of_the_files():
    tables, _ = recsys_experiment.generate(recsys_experiment.CANONICAL_SEED)
    assert list(tables["recsys_experiment_users"].columns) == ["user_id", "platform", "arm", "pre_minutes", "minutes"]
    assert list(tables["recsys_experiment_assignments"].columns) == ["experiment", "arm", "planned_share", "platform",
                                                                     "users"]
    assert list(tables["recsys_experiment_replays"].columns) == ["design", "replay", "estimate", "launch_effect"]


def test_the_main_experiment_in_the_assignments_is_the_users_table():
    tables, _ = recsys_experiment.generate(7)
    users, counts = tables["recsys_experiment_users"], tables["recsys_experiment_assignments"]
    mine = counts[counts["experiment"] == recsys_experiment.MAIN_EXPERIMENT].set_index(["arm", "platform"])["users"]
    assert mine.sort_index().to_dict() == users.groupby(["arm", "platform"]).size().sort_index().to_dict()


@pytest.mark.parametrize("design", recsys_experiment.DESIGNS)
def test_the_simulator_matches_the_worlds_bias_spread_and_misleading_share(design):
    world = recsys_experiment.world(11)
    estimates = recsys_experiment.simulate_estimates(world, np.random.default_rng(3), design, 3000, users=2000)
    se = world.design_std_error(design, users=2000)
    assert estimates.mean() == pytest.approx(world.true_effect + world.design_bias(design), abs=4 * se / np.sqrt(3000))
    assert estimates.std() == pytest.approx(se, rel=0.06)
    share = recsys_experiment.misleads(estimates, world.true_effect).mean()
    assert share == pytest.approx(world.misleading_share(design, users=2000), abs=0.03)


def test_users_pre_and_test_minutes_correlate_as_planted():
    world = recsys_experiment.world(3)
    users = recsys_experiment.main_users(world, np.random.default_rng(0), users=60_000)
    assert np.corrcoef(users["pre_minutes"], users["minutes"])[0, 1] == pytest.approx(world.rho, abs=0.01)


# --- cross-checks against the libraries ----------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_srm_chi_square_matches_the_formula_with_k_minus_one_degrees_of_freedom(seed):
    table = DataSource(seed).load("recsys_experiment_assignments")
    reference = KEY.srm_check(DataSource(seed))
    for experiment, cells in table.groupby("experiment"):
        arms = cells.groupby("arm").agg(users=("users", "sum"), planned=("planned_share", "first"))
        expected = arms["users"].sum() * arms["planned"]
        statistic = float(((arms["users"] - expected) ** 2 / expected).sum())
        assert reference.at[experiment, "chi2"] == pytest.approx(statistic, rel=1e-10)
        assert reference.at[experiment, "p_value"] == pytest.approx(chi2_distribution.sf(statistic, len(arms) - 1),
                                                                    rel=1e-8, abs=1e-300)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_naive_effect_matches_statsmodels(seed):
    users = DataSource(seed).load("recsys_experiment_users")
    reference = KEY.naive_effect(DataSource(seed))
    compare = CompareMeans(DescrStatsW(users.loc[users["arm"] == "treatment", "minutes"]),
                           DescrStatsW(users.loc[users["arm"] == "control", "minutes"]))
    low, high = compare.zconfint_diff(usevar="unequal")
    assert reference["std_error"] == pytest.approx(compare.std_meandiff_separatevar, rel=1e-10)
    assert (reference["ci_low"], reference["ci_high"]) == pytest.approx((low, high), rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_cuped_theta_is_the_ols_slope_and_its_variance_ratio_is_near_one_minus_rho_squared(seed):
    users = DataSource(seed).load("recsys_experiment_users")
    reference = KEY.cuped(DataSource(seed))
    fit = sm.OLS(users["minutes"], sm.add_constant(users["pre_minutes"])).fit()
    assert reference["theta"] == pytest.approx(fit.params["pre_minutes"], rel=1e-10)
    assert reference["rho"] ** 2 == pytest.approx(fit.rsquared, rel=1e-10)
    assert reference["variance_ratio"] == pytest.approx(1 - reference["rho"] ** 2, abs=m06.ONE_MINUS_RHO2_ATOL)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_wilson_interval_matches_statsmodels(seed):
    shares = KEY.misleading_share(DataSource(seed))
    for design, row in shares.iterrows():
        low, high = proportion_confint(int(row["misleading"]), int(row["replays"]), alpha=0.01, method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=1e-12)


# --- tolerances: 4-decimal rounding passes, a material error fails -------------------------------------------

def _verdict(key, answer, seed=None):
    data = DataSource(seed)
    exercise = m06.MODULE.exercise(key)
    return judge(exercise, answer, data, getattr(KEY, key)(data), has_reference=True)


@pytest.mark.parametrize("key", ["naive_effect", "cuped"])
def test_rounded_effects_pass_and_material_errors_fail(key):
    reference = getattr(KEY, key)(DataSource())
    rounded = {name: round(value, 4) for name, value in reference.items()}
    assert _verdict(key, rounded).state is State.CORRECT
    off = dict(reference, effect=reference["effect"] + 0.01, ci_low=reference["ci_low"] + 0.01,
               ci_high=reference["ci_high"] + 0.01)
    assert _verdict(key, off).state is State.INCORRECT


def test_rounded_srm_check_passes_and_a_material_error_fails():
    reference = KEY.srm_check(DataSource())
    rounded = reference.copy()
    rounded[["chi2", "p_value"]] = rounded[["chi2", "p_value"]].round(4)
    rounded["read"] = reference["read"]
    assert _verdict("srm_check", rounded).state is State.CORRECT
    off = reference.copy()
    off.loc[off.index[0], "chi2"] *= 1.01
    assert _verdict("srm_check", off).state is State.INCORRECT


def test_rounded_shares_pass_and_a_miscount_fails():
    reference = KEY.misleading_share(DataSource())
    assert _verdict("misleading_share", reference.round(4)).state is State.CORRECT
    off = reference.copy()
    off.loc["cluster", "misleading"] += 3
    off.loc["cluster", "share"] = off.loc["cluster", "misleading"] / off.loc["cluster", "replays"]
    assert _verdict("misleading_share", off).state is State.INCORRECT


# --- the decision, deployed ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_deploying_the_reference_design_has_a_small_regret_and_pooled_a_large_one(seed):
    reference = KEY.next_test_design(DataSource(seed))
    outcome = m06.NEXT_TEST_DESIGN.deploy(reference, seed)
    assert outcome.regret <= 0.06 and "regret" in outcome.summary
    assert m06.NEXT_TEST_DESIGN.deploy("pooled", seed).regret >= 0.3


def test_deploy_draws_fresh_tests_not_the_learners_replays():
    seed = recsys_experiment.CANONICAL_SEED
    measured = KEY.misleading_share(DataSource(seed))["share"]
    outcome = m06.NEXT_TEST_DESIGN.deploy("cluster", seed)
    fresh = outcome.table["misleading_share"]  # 400 fresh tests per design, not the 200 replays the learner read
    assert not np.allclose(fresh.to_numpy(), measured.reindex(fresh.index).to_numpy())
    assert outcome.table.loc["cluster", "misleading_share"] == pytest.approx(
        recsys_experiment.cached_world(seed).misleading_share("cluster"), abs=0.08)


# --- the written answer ---------------------------------------------------------------------------------------

def test_the_strong_plan_quotes_the_canonical_figures():
    data = DataSource()
    text = answer_key.strong_example(KEY, "experiment_plan")
    shares = KEY.misleading_share(data)
    diverted = shares.loc["data_diverted"]
    assert f"{diverted['share']:.1%}" in text
    assert f"99% interval {diverted['ci_low']:.0%} to {diverted['ci_high']:.0%}" in text
    assert f"{shares.loc['pooled', 'share']:.0%} for the pooled" in text
    assert f"{shares.loc['cluster', 'share']:.0%} for the cluster" in text
    assert f"{recsys_experiment.CLUSTERS} communities" in text
    assert f"kept {KEY.cuped(data)['variance_ratio']:.0%} of the variance" in text
    assert KEY.srm_diagnosis(data)["experiment"] in text
    replays = data.load("recsys_experiment_replays")
    lean = replays["launch_effect"].iloc[0] - replays.loc[replays["design"] == "data_diverted", "estimate"].mean()
    assert f"about {lean:.1f} minutes worse" in text
    assert "p = 0.001" in text and m06.SRM_ALPHA == 0.001


def test_a_plan_written_as_a_list_of_keywords_is_not_accepted():
    salad = " ".join(["SRM CUPED pre-period data diverted cluster 24% interval guardrail"] * 12)
    verdict = judge(m06.EXPERIMENT_PLAN, salad, DataSource())
    assert verdict.state is State.INCORRECT


def test_reference_answers_survive_a_deep_copy():
    data = DataSource()
    for exercise in m06.MODULE.exercises:
        if exercise.compare is not None:
            answer = getattr(KEY, exercise.key)(data)
            assert judge(exercise, copy.deepcopy(answer), data, answer, True).state is State.CORRECT
