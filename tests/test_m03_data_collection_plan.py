"""Module 03: the pilot's planted properties hold on several seeds, and the agreement statistics of the
answer key match scikit-learn, statsmodels and the krippendorff package."""

from __future__ import annotations

import copy
import itertools

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


# --- planted properties ----------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_the_careless_rater_is_the_outlier_by_a_wide_margin(seed):
    truth = annotation_pilot.generate(seed)[1]
    kappas = KEY.pairwise_kappa(DataSource(seed))
    mean_kappa = ((kappas.sum() - 1) / (len(kappas) - 1)).sort_values()
    assert mean_kappa.index[0] == truth.careless_rater == KEY.diagnosis(DataSource(seed))["outlier_rater"]
    assert mean_kappa.iloc[1] - mean_kappa.iloc[0] > 0.15


@pytest.mark.parametrize("seed", SEEDS)
def test_the_planted_pair_is_the_largest_disagreement_among_careful_raters(seed):
    truth = annotation_pilot.generate(seed)[1]
    found = KEY.diagnosis(DataSource(seed))
    assert tuple(found["confused_pair"]) == tuple(sorted(truth.confused_pair))
    off_diagonal = found["confusion"].where(~np.eye(len(m03.LABELS), dtype=bool)).stack().sort_values()
    first, second = truth.confused_pair
    assert off_diagonal[(first, second)] > 1.2 * off_diagonal.drop([(first, second), (second, first)]).max()


@pytest.mark.parametrize("seed", SEEDS)
def test_ok_dominates_and_the_paradox_shows(seed):
    paradox = KEY.kappa_paradox(DataSource(seed))
    assert paradox["prevalence"].idxmax() == m03.DOMINANT_LABEL
    assert paradox.loc[m03.DOMINANT_LABEL, "prevalence"] > 0.5
    rarest = paradox["prevalence"].idxmin()
    assert paradox.loc[rarest, "percent_agreement"] > paradox.loc["ok", "percent_agreement"] + 0.05
    assert paradox.loc[rarest, "kappa"] < paradox.loc["ok", "kappa"] - 0.1


@pytest.mark.parametrize("seed", SEEDS)
def test_the_pilot_misses_the_target_but_resolving_the_pair_would_clear_it(seed):
    data = DataSource(seed)
    everyone = KEY.agreement_coefficients(data)["krippendorff_alpha"]
    result = KEY.go_no_go(data)
    assert everyone < m03.TENTATIVE_ALPHA < result["alpha"]
    assert result["ci_low"] < m03.TARGET_ALPHA <= result["alpha_if_pair_resolved"]
    assert result["decision"] == "revise_guideline"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_rare_surface_needs_augmentation_and_the_plan_fits_the_budget(seed):
    plan = KEY.collection_plan(DataSource(seed))
    assert plan["slices"]["live_chat"]["pilot_items"] < m03.MIN_PILOT_ITEMS
    assert list(plan["augmentation"]) == ["live_chat"]
    assert plan["budget"]["total"] <= m03.BUDGET_CAP


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
    outlier = KEY.diagnosis(data)["outlier_rater"]
    first, second = KEY.diagnosis(data)["confused_pair"]

    def package_alpha(frame: pd.DataFrame) -> float:
        return krippendorff.alpha(reliability_data=codes(frame).T.astype(float), level_of_measurement="nominal")

    assert KEY.agreement_coefficients(data)["krippendorff_alpha"] == pytest.approx(package_alpha(labels), abs=1e-12)
    result = KEY.go_no_go(data)
    kept = labels.drop(columns=outlier)
    assert result["alpha"] == pytest.approx(package_alpha(kept), abs=1e-12)
    assert result["alpha_if_pair_resolved"] == pytest.approx(package_alpha(kept.replace({second: first})), abs=1e-12)


def test_the_vectorised_bootstrap_matches_the_stated_procedure_and_the_package():
    """The key draws all resamples at once; a learner's loop of rng.integers(0, n, n) gives the same draws."""
    data = DataSource()
    kept = wide(annotation_pilot.CANONICAL_SEED).drop(columns=KEY.diagnosis(data)["outlier_rater"])
    counts = KEY._counts(kept)
    vectorised = KEY._bootstrap_alphas(counts)
    rng = np.random.default_rng(m03.BOOTSTRAP_SEED)
    kept_codes = codes(kept)
    for b in range(25):
        rows = rng.integers(0, len(kept), len(kept))
        looped = krippendorff.alpha(reliability_data=kept_codes[rows].T.astype(float), level_of_measurement="nominal")
        assert vectorised[b] == pytest.approx(looped, abs=1e-12)
    low, high = np.percentile(vectorised, [2.5, 97.5])
    assert (KEY.go_no_go(data)["ci_low"], KEY.go_no_go(data)["ci_high"]) == pytest.approx((low, high))


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


def test_decision_rule_reads_the_lower_bound():
    assert m03.decision_rule(0.80, 0.70) == "go"
    assert m03.decision_rule(0.79, 0.85) == "revise_guideline"
    assert m03.decision_rule(0.79, 0.79) == "rework_taxonomy"


def _consistent(plan: dict) -> dict:
    """Redo a plan's slices, augmentation and budget from its own choices."""
    for name, entry in plan["slices"].items():
        entry["required_n"] = m03.required_sample_size(entry["planning_rate"])
        entry["n_items"] = max(entry["natural_n"], entry["required_n"])
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


@pytest.mark.parametrize("change", ["safe planning rates", "other overlap", "more adjudication", "more examples"])
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
    else:
        plan["guideline_examples"].append({"text": "Buy followers at www.x.example", "label": "spam",
                                           "why": "Plain advertising is spam."})
    verdict = judge(m03.COLLECTION_PLAN, _consistent(plan), data, reference, has_reference=True)
    assert verdict.state is State.CORRECT, verdict.message


def test_the_go_no_go_check_accepts_a_bootstrap_written_as_a_loop():
    data = DataSource()
    reference = KEY.go_no_go(data)
    kept = wide(annotation_pilot.CANONICAL_SEED).drop(columns=KEY.diagnosis(data)["outlier_rater"])
    rng = np.random.default_rng(m03.BOOTSTRAP_SEED)
    alphas = [krippendorff.alpha(reliability_data=codes(kept.sample(frac=1, replace=True, random_state=rng)).T
                                 .astype(float), level_of_measurement="nominal")
              for _ in range(m03.BOOTSTRAP_RESAMPLES)]
    low, high = np.percentile(alphas, [2.5, 97.5])
    answer = {**reference, "ci_low": float(low), "ci_high": float(high)}
    answer["decision"] = m03.decision_rule(answer["ci_low"], answer["alpha_if_pair_resolved"])
    assert judge(m03.GO_NO_GO, answer, data, reference, has_reference=True).state is State.CORRECT
