"""Module 03: the pilot's planted properties hold on several seeds, and the agreement statistics of the
answer key match scikit-learn, statsmodels and the krippendorff package."""

from __future__ import annotations

import copy
import itertools
import math

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from aipmlab import answer_key
from aipmlab.datasets import annotation_pilot
from aipmlab.exercises import m03_data_collection_plan as m03
from aipmlab.exercises.core import DataSource, State, judge
from tests.conftest import OTHER_SEEDS

KEY = answer_key.load("m03_data_collection_plan")
SEEDS = (annotation_pilot.CANONICAL_SEED, *OTHER_SEEDS, 1, 2, 3, 11)
LABEL_CODE = {label: code for code, label in enumerate(m03.LABELS)}


def wide(seed: int) -> pd.DataFrame:
    return KEY._labels(DataSource(seed))


def codes(labels: pd.DataFrame) -> np.ndarray:
    """Items x raters, each label replaced by its position in LABELS (what the libraries want)."""
    return labels.apply(lambda column: column.map(LABEL_CODE)).to_numpy()


# --- planted properties (the lessons themselves are tested on 200 seeds in tests/truth/) ---------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_the_careless_rater_stands_apart_by_a_wide_margin(seed):
    truth = annotation_pilot.generate(seed)[1]
    kappas = KEY.pairwise_kappa(DataSource(seed))
    mean_kappa = ((kappas.sum() - 1) / (len(kappas) - 1)).sort_values()
    assert mean_kappa.index[0] == truth.careless_rater
    assert KEY.diagnosis(DataSource(seed))["excluded_raters"] == [truth.careless_rater]
    assert mean_kappa.iloc[1] - mean_kappa.iloc[0] > 2 * m03.EXCLUSION_GAP


def test_the_open_kind_and_the_careless_rater_vary_with_the_seed():
    worlds = [annotation_pilot.world(seed) for seed in range(40)]
    assert {w.open_kind for w in worlds} == set(annotation_pilot.OPEN_KINDS)
    assert {w.careless_rater for w in worlds} == set(annotation_pilot.RATERS)
    mixes = {w.kind_mix["live_chat"] for w in worlds}
    assert len(mixes) == len(worlds)


def test_a_draw_is_reproducible_and_the_canonical_draw_is_generate():
    world = annotation_pilot.world(5)
    first = annotation_pilot.draw(world, np.random.default_rng(5))[0]
    again = annotation_pilot.generate(5)[0]
    for name, table in first.items():
        pd.testing.assert_frame_equal(table, again[name])


def test_the_simulators_alpha_matches_the_krippendorff_package():
    world = annotation_pilot.world(3)
    rng = np.random.default_rng(1)
    _, kinds = annotation_pilot.draw_kinds(world, rng, {"product_reviews": 200})
    label_codes = annotation_pilot.rate(world, kinds, rng)
    expected = krippendorff.alpha(reliability_data=label_codes.T.astype(float), level_of_measurement="nominal")
    assert annotation_pilot.alpha_from_codes(label_codes) == pytest.approx(expected, abs=1e-12)


def test_the_ground_truth_stays_out_of_the_files():
    tables, truth = annotation_pilot.generate(annotation_pilot.CANONICAL_SEED)
    assert list(tables["annotation_pilot_items"].columns) == ["item_id", "surface", "text"]
    assert list(tables["annotation_pilot_ratings"].columns) == ["item_id", "rater_id", "label"]
    assert set(tables["annotation_pilot_ratings"]["label"]) == set(m03.LABELS)
    assert truth.careless_rater in set(tables["annotation_pilot_ratings"]["rater_id"])


# --- cross-checks against the libraries ------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS[:3])
def test_pairwise_kappa_matches_scikit_learn(seed):
    labels = wide(seed)
    table = KEY.pairwise_kappa(DataSource(seed))
    for a, b in itertools.combinations(labels.columns, 2):
        assert table.loc[a, b] == pytest.approx(cohen_kappa_score(labels[a], labels[b]), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_fleiss_kappa_matches_statsmodels(seed):
    reference = KEY.agreement_coefficients(DataSource(seed))["fleiss_kappa"]
    table, _ = aggregate_raters(codes(wide(seed)), n_cat=len(m03.LABELS))
    assert reference == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_krippendorff_alpha_matches_the_krippendorff_package(seed):
    data = DataSource(seed)
    labels = wide(seed)
    excluded = KEY.diagnosis(data)["excluded_raters"]
    first, second = KEY.diagnosis(data)["confused_pair"]

    def package_alpha(frame: pd.DataFrame) -> float:
        return krippendorff.alpha(reliability_data=codes(frame).T.astype(float), level_of_measurement="nominal")

    assert KEY.agreement_coefficients(data)["krippendorff_alpha"] == pytest.approx(package_alpha(labels), abs=1e-12)
    result = KEY.go_no_go(data)
    kept = labels.drop(columns=excluded)
    assert result["alpha"] == pytest.approx(package_alpha(kept), abs=1e-12)
    assert result["alpha_if_pair_resolved"] == pytest.approx(package_alpha(kept.replace({second: first})), abs=1e-12)


def _looped_go_no_go(seed: int | None = None) -> dict:
    """Exercise 6 as the notebook states it, one resample at a time, with the krippendorff package."""
    data = DataSource(seed)
    found = KEY.diagnosis(data)
    labels = wide(seed if seed is not None else annotation_pilot.CANONICAL_SEED)
    kept = labels.drop(columns=found["excluded_raters"])
    first, second = found["confused_pair"]
    merged = kept.replace({second: first})
    rng = np.random.default_rng(m03.BOOTSTRAP_SEED)
    alphas, resolved = [], []

    def package_alpha(frame: pd.DataFrame) -> float:
        return krippendorff.alpha(reliability_data=codes(frame).T.astype(float), level_of_measurement="nominal")

    for _ in range(m03.BOOTSTRAP_RESAMPLES):
        rows = rng.integers(0, len(kept), len(kept))
        left_out = kept.columns[rng.integers(0, kept.shape[1])]
        alphas.append(package_alpha(kept.iloc[rows].drop(columns=left_out)))
        resolved.append(package_alpha(merged.iloc[rows].drop(columns=left_out)))
    low, high = np.percentile(alphas, [2.5, 97.5])
    resolved_low = float(np.percentile(resolved, 2.5))
    sd = float(np.std(resolved))
    repilot = next((n for n in m03.REPILOT_SIZES
                    if m03.repilot_power(resolved_low, sd, len(kept), n) >= m03.REPILOT_POWER), m03.REPILOT_SIZES[-1])
    answer = {"alpha_all_raters": package_alpha(labels), "alpha": package_alpha(kept), "ci_low": float(low),
              "ci_high": float(high), "alpha_if_pair_resolved": package_alpha(merged),
              "resolved_ci_low": resolved_low, "repilot_items": repilot}
    answer["decision"] = m03.decision_rule(answer["ci_low"], answer["resolved_ci_low"])
    return answer


def test_the_vectorised_two_way_bootstrap_matches_the_stated_procedure_and_the_package():
    """The key draws all resamples at once; a learner's loop (rows, then the rater to leave out) gives the same."""
    reference = KEY.go_no_go(DataSource())
    looped = _looped_go_no_go()
    for key, value in reference.items():
        assert looped[key] == (pytest.approx(value, abs=1e-9) if isinstance(value, float) else value), key


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_each_yes_no_view_matches_statsmodels(seed):
    labels = wide(seed)
    paradox = KEY.kappa_paradox(DataSource(seed))
    for label in m03.LABELS:
        yes = (labels == label).sum(axis=1).to_numpy()
        table = np.stack([yes, labels.shape[1] - yes], axis=1)
        assert paradox.loc[label, "kappa"] == pytest.approx(fleiss_kappa(table, method="fleiss"), abs=1e-12)


def test_mean_pairwise_agreement_is_fleiss_observed_agreement():
    data = DataSource()
    observed = KEY._fleiss(KEY._counts(KEY._labels(data)))[1]
    assert KEY.raw_agreement(data)["mean_pairwise"] == pytest.approx(observed, abs=1e-12)


# --- the rules the checks apply --------------------------------------------------------------------

def test_sample_size_rule():
    assert m03.Z == pytest.approx(norm.ppf(0.975), abs=1e-12)
    assert m03.required_sample_size(0.05) == 457  # the worked example in SOURCES.md
    assert m03.required_sample_size(0.5) == 2401


@pytest.mark.parametrize(("value", "band"), [(-0.05, "poor"), (0.0, "slight"), (0.2, "slight"), (0.2001, "fair"),
                                             (0.6, "moderate"), (0.8, "substantial"), (0.81, "almost perfect"),
                                             (1.0, "almost perfect")])
def test_landis_koch_bands(value, band):
    assert KEY._band(value) == band


def test_decision_rule_reads_lower_bounds_only():
    assert m03.decision_rule(0.80, 0.70) == "go"
    assert m03.decision_rule(0.79, 0.80) == "revise_guideline"
    assert m03.decision_rule(0.79, 0.79) == "rework_taxonomy"


def test_the_exclusion_rule_reads_the_gap_below_the_median():
    assert m03.excluded_by_rule({"a": 0.70, "b": 0.72, "c": 0.71, "d": 0.69, "e": 0.40}) == ["e"]
    assert m03.excluded_by_rule({"a": 0.70, "b": 0.72, "c": 0.71, "d": 0.69, "e": 0.60}) == []


def test_items_for_positives_and_repilot_power():
    assert m03.items_for_positives(0.02) == math.ceil((200 + 1.645 * math.sqrt(200)) / 0.02)
    assert m03.repilot_power(m03.TARGET_ALPHA, 0.03, 300, 300) == pytest.approx(norm.cdf(-m03.Z))
    assert m03.repilot_power(0.9, 0.03, 300, 1200) > m03.repilot_power(0.9, 0.03, 300, 300)


def _consistent(plan: dict) -> dict:
    """Redo a plan's slices, augmentation and budget from its own choices."""
    for name, entry in plan["slices"].items():
        entry["required_n"] = m03.required_sample_size(entry["planning_rate"])
        entry["positives_n"] = m03.items_for_positives(entry["rare_share"])
        entry["n_items"] = max(entry["natural_n"], entry["required_n"], entry["positives_n"])
        entry["augmented_n"] = entry["n_items"] - entry["natural_n"]
    method = "Oversample real comments from this surface's logs."
    plan["augmentation"] = {name: {"extra_items": entry["augmented_n"], "method": method}
                            for name, entry in plan["slices"].items() if entry["augmented_n"] > 0}
    items = sum(entry["n_items"] for entry in plan["slices"].values())
    overlap = round(plan["overlap"]["share"] * items)
    labels = items + overlap * (plan["overlap"]["raters_per_item"] - 1)
    adjudicated = round(overlap * plan["adjudication"]["expected_share"])
    plan["budget"] = {"items": items, "overlap_items": overlap, "labels": labels, "adjudicated_items": adjudicated,
                      "labelling_cost": labels * m03.COST_PER_LABEL,
                      "adjudication_cost": adjudicated * m03.ADJUDICATION_COST}
    plan["budget"]["total"] = plan["budget"]["labelling_cost"] + plan["budget"]["adjudication_cost"]
    return plan


@pytest.mark.parametrize("change", ["safe planning rates", "other overlap", "more adjudication", "more examples",
                                    "a lower rare share"])
def test_the_plan_check_accepts_other_sound_choices(change):
    data = DataSource()
    reference = KEY.collection_plan(data)
    plan = copy.deepcopy(reference)
    if change == "safe planning rates":
        for entry in plan["slices"].values():
            entry["planning_rate"] = 0.5
    elif change == "other overlap":
        plan["overlap"] = {"share": 0.1, "raters_per_item": 2}
    elif change == "more adjudication":
        plan["adjudication"]["expected_share"] = 0.5
    elif change == "a lower rare share":
        for entry in plan["slices"].values():
            entry["rare_share"] = 0.019
    else:
        plan["guideline_examples"].append({"text": "Buy followers at www.x.example", "label": "spam",
                                           "why": "Plain advertising is spam."})
    verdict = judge(m03.COLLECTION_PLAN, _consistent(plan), data, reference, has_reference=True)
    assert verdict.state is State.CORRECT, verdict.message


def test_the_go_no_go_check_accepts_answers_rounded_to_four_decimals_and_rejects_a_material_error():
    data = DataSource()
    reference = KEY.go_no_go(data)
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in reference.items()}
    assert judge(m03.GO_NO_GO, rounded, data, reference, has_reference=True).state is State.CORRECT
    for key, error in (("alpha", 0.002), ("ci_low", 0.01), ("alpha_if_pair_resolved", 0.002)):
        wrong = {**reference, key: reference[key] - error}
        assert judge(m03.GO_NO_GO, wrong, data, reference, has_reference=True).state is State.INCORRECT, key


@pytest.mark.parametrize("decimals", [4, 5, 6])
def test_the_kappa_paradox_check_accepts_rounded_answers(decimals):
    data = DataSource()
    reference = KEY.kappa_paradox(data)
    verdict = judge(m03.KAPPA_PARADOX, reference.round(decimals), data, reference, has_reference=True)
    assert verdict.state is State.CORRECT, verdict.message


def test_the_kappa_paradox_check_rejects_a_material_error():
    data = DataSource()
    reference = KEY.kappa_paradox(data)
    for column, error in (("kappa", 0.01), ("percent_agreement", 0.003), ("prevalence", 0.003)):
        wrong = reference.copy()
        wrong.loc["spam", column] += error
        assert judge(m03.KAPPA_PARADOX, wrong, data, reference, has_reference=True).state is State.INCORRECT, column


def test_pairwise_kappa_rounded_to_four_decimals_passes_and_a_material_error_fails():
    data = DataSource()
    reference = KEY.pairwise_kappa(data)
    assert judge(m03.PAIRWISE_KAPPA, reference.round(4), data, reference, has_reference=True).state is State.CORRECT
    wrong = reference.copy()
    first, second = wrong.index[:2]
    wrong.loc[first, second] = wrong.loc[second, first] = reference.loc[first, second] + 0.003
    assert judge(m03.PAIRWISE_KAPPA, wrong, data, reference, has_reference=True).state is State.INCORRECT


@pytest.mark.parametrize("key", ["raw_agreement", "agreement_coefficients"])
def test_rounded_shares_pass_and_material_errors_fail(key):
    data = DataSource()
    exercise = m03.MODULE.exercise(key)
    reference = getattr(KEY, key)(data)
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in reference.items()}
    assert judge(exercise, rounded, data, reference, has_reference=True).state is State.CORRECT
    first = next(k for k, v in reference.items() if isinstance(v, float))
    wrong = {**reference, first: reference[first] - 0.002}
    assert judge(exercise, wrong, data, reference, has_reference=True).state is State.INCORRECT


# --- deploy: decisions meet a fresh draw from the world ------------------------------------------------------

@pytest.mark.parametrize("seed", [annotation_pilot.CANONICAL_SEED, *OTHER_SEEDS])
def test_deploying_the_reference_go_no_go_has_no_regret_and_going_now_has_a_large_one(seed):
    reference = KEY.go_no_go(DataSource(seed))
    outcome = m03.GO_NO_GO.deploy(reference, seed)
    assert outcome.regret == 0 and outcome.value >= m03.TARGET_ALPHA
    hasty = m03.GO_NO_GO.deploy({**reference, "decision": "go"}, seed)
    assert hasty.regret > 0.05 and hasty.value < m03.TARGET_ALPHA
    assert "regret" in hasty.summary


@pytest.mark.parametrize("seed", [annotation_pilot.CANONICAL_SEED, *OTHER_SEEDS])
def test_deploying_the_reference_plan_meets_every_cell_and_the_random_draw_alone_does_not(seed):
    plan = KEY.collection_plan(DataSource(seed))
    outcome = m03.COLLECTION_PLAN.deploy(plan, seed)
    assert outcome.value == 1.0 and outcome.regret == 0
    thin = copy.deepcopy(plan)
    for entry in thin["slices"].values():
        entry["n_items"] = entry["natural_n"]
    short = m03.COLLECTION_PLAN.deploy(thin, seed)
    assert short.regret >= 0.1
    assert "short" in short.summary


def test_deploy_draws_fresh_data_not_the_learners_pilot():
    plan = KEY.collection_plan(DataSource())
    table = m03.COLLECTION_PLAN.deploy(plan, annotation_pilot.CANONICAL_SEED).table
    assert table["items"].sum() == 4 * sum(entry["n_items"] for entry in plan["slices"].values())
    assert set(table.index.get_level_values("surface")) == set(m03.TRAFFIC_SHARE)


# --- the written answer's examples ---------------------------------------------------------------------------

def test_the_strong_guideline_example_quotes_the_canonical_pilot():
    """Every figure in the strong example is true for the canonical seed."""
    data = DataSource()
    kept = wide(annotation_pilot.CANONICAL_SEED).drop(columns=KEY.diagnosis(data)["excluded_raters"])
    confusion = KEY.diagnosis(data)["confusion"]
    go = KEY.go_no_go(data)
    split = int(((kept == "spam").any(axis=1) & (kept == "off_topic").any(axis=1)).sum())
    text = answer_key.strong_example(KEY, "guideline_revision")
    assert KEY.diagnosis(data)["confused_pair"] == ["off_topic", "spam"]
    assert f"{split} of {len(kept)} comments" in text
    assert f"{int(confusion.loc['spam', 'off_topic'] * 2)} rating pairs" in text
    assert f"alpha {go['alpha']:.2f}" in text and f"lower end {go['ci_low']:.2f}" in text
    assert f"{go['repilot_items']} fresh comments" in text


def test_the_floor_the_plan_relies_on_holds_in_every_world():
    """The scenario tells the learner no rare label falls below RARE_SHARE_FLOOR on any surface; the worlds keep it."""
    assert annotation_pilot.RARE_SHARE_FLOOR == m03.RARE_SHARE_FLOOR
    for seed in range(200):
        world = annotation_pilot.world(seed)
        shares = [world.label_share(surface, label) for surface in annotation_pilot.SURFACES
                  for label in annotation_pilot.RARE_LABELS]
        assert min(shares) >= m03.RARE_SHARE_FLOOR
