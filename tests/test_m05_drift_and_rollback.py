"""Module 05: the refund world's plants vary with the seed and stay out of the files; every statistic of the
answer key matches a library or a second implementation; the rule fixed before looking is caught when it is
re-fixed, edited or written after the data loads (in the kernel and in the grading engine); deploy's regret."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr
from scipy.stats import ks_2samp, norm
from statsmodels.stats.proportion import proportion_confint

from aipmlab import answer_key, course
from aipmlab.datasets import refund_requests
from aipmlab.exercises import m05_drift_and_rollback as m05
from aipmlab.exercises.core import DataSource, State, judge
from aipmlab.serialize import from_json, to_json
from tests.conftest import OTHER_SEEDS

KEY = answer_key.load("m05_drift_and_rollback")
MODULE = course.module("05")
SEEDS = (refund_requests.CANONICAL_SEED, *OTHER_SEEDS)


def logs_of(seed: int) -> pd.DataFrame:
    data = DataSource(seed)
    return pd.concat([data.load("refund_requests_before"), data.load("refund_requests_after")], ignore_index=True)


# --- the world and its draws ------------------------------------------------------------------------------

def test_the_plants_vary_with_the_seed():
    worlds = [refund_requests.world(seed) for seed in range(40)]
    assert {w.concept_feature for w in worlds} == set(m05.PREDICTIVE)
    assert {w.covariate_feature for w in worlds} == set(m05.CONTEXT)
    assert len({w.concept_week for w in worlds}) >= 3 and len({w.label_week for w in worlds}) >= 3
    assert len({w.covariate_week for w in worlds}) >= 4 and len({w.new_market for w in worlds}) == 3
    assert len({round(w.delay_mean, 6) for w in worlds}) == len(worlds)
    assert all(len({w.concept_week, w.label_week, w.covariate_week}) == 3 for w in worlds), "shifts at different weeks"


def test_a_draw_is_reproducible_and_the_canonical_draw_is_generate():
    first = refund_requests.draw(refund_requests.world(5), np.random.default_rng(5))[0]
    again = refund_requests.generate(5)[0]
    for name, table in first.items():
        pd.testing.assert_frame_equal(table, again[name])


def test_the_ground_truth_stays_out_of_the_files_and_the_files_are_small(root):
    tables, truth = refund_requests.generate(refund_requests.CANONICAL_SEED)
    expected = ["request_id", "week", "market", *m05.FEATURES, "model_version", "model_score", "reviewed", "abuse",
                "settled_week"]
    for name, table in tables.items():
        assert list(table.columns) == expected
        assert (root / "datasets" / f"{name}.csv").stat().st_size < 500_000
    assert tables["refund_requests_before"]["abuse"].notna().all(), "every pre-update label has arrived"
    after = tables["refund_requests_after"]
    assert after.loc[after["reviewed"] == 1, "abuse"].notna().all(), "reviewed requests settle at once"
    assert after["abuse"].isna().any() and after.loc[after["week"] == m05.NOW_WEEK, "abuse"].isna().sum() > 0
    settled = pd.concat(tables.values())["abuse"].notna().to_numpy()
    assert (pd.concat(tables.values())["abuse"].to_numpy()[settled] == truth.abusive[settled]).all()


def test_share_above_is_scipys_normal_survival_function_to_the_bit():
    rng = np.random.default_rng(3)
    for cut, mean, spread in zip(rng.normal(0, 3, 2000), rng.normal(0, 3, 2000), rng.uniform(0.05, 5, 2000)):
        assert refund_requests.share_above(cut, mean, spread) == norm.sf(cut, mean, spread)


def test_the_true_catch_rate_matches_a_large_draw():
    world = refund_requests.world(11)
    logs, abusive = refund_requests.draw_weeks(world, np.random.default_rng(1), range(15, 16), n=200_000, now=99)
    drawn = logs.loc[abusive, "reviewed"].mean()
    assert drawn == pytest.approx(refund_requests.catch_rate(world, "v2", 15), abs=0.01)
    honest = logs.loc[~abusive, "reviewed"].mean()
    assert honest == pytest.approx(refund_requests.honest_review_rate(world, "v2", 15), abs=0.005)


# --- statistics against libraries -----------------------------------------------------------------------

def psi_by_relative_entropy(actual: np.ndarray, expected: np.ndarray) -> float:
    """A second implementation of PSI: it is the symmetric Kullback-Leibler divergence, KL(A||E) + KL(E||A)."""
    return float(rel_entr(actual, expected).sum() + rel_entr(expected, actual).sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_psi_ks_and_js_match_a_second_implementation_and_scipy(seed):
    logs = logs_of(seed)
    drift = KEY.drift_of(logs, m05.NOISE_WEEKS + m05.POST_WEEKS).set_index(["feature", "week"])
    reference = logs[logs["week"].isin(m05.REFERENCE_WEEKS)]
    for feature in m05.FEATURES:
        deciles = pd.qcut(reference[feature], m05.BINS, retbins=True, duplicates="drop")[1]
        cut = lambda values: pd.cut(values, np.r_[-np.inf, deciles[1:-1], np.inf], right=False)  # noqa: E731
        expected = cut(reference[feature]).value_counts(normalize=True, sort=False).clip(lower=m05.SHARE_FLOOR)
        for week in (5, 9, 15):
            values = logs.loc[logs["week"] == week, feature]
            actual = cut(values).value_counts(normalize=True, sort=False).clip(lower=m05.SHARE_FLOOR)
            row = drift.loc[(feature, week)]
            assert row["psi"] == pytest.approx(psi_by_relative_entropy(actual.to_numpy(), expected.to_numpy()),
                                               abs=1e-12)
            assert row["ks"] == pytest.approx(ks_2samp(reference[feature], values).statistic, abs=1e-12)
            assert row["js"] == pytest.approx(jensenshannon(actual.to_numpy(), expected.to_numpy(), base=2), abs=1e-9)


def test_the_references_share_one_drift_table_that_no_reader_changes():
    data = DataSource(OTHER_SEEDS[0])
    logs = logs_of(OTHER_SEEDS[0])
    fresh = KEY.drift_of(logs, m05.DRIFT_WEEKS)
    first = KEY.drift(data)
    first.loc[:, "psi"] = -1.0  # a caller's edit to its copy
    KEY.alarm(data), KEY.shift_diagnosis(data)
    pd.testing.assert_frame_equal(KEY.drift(data), fresh)
    assert KEY.alarm(data) == KEY.alarm_of(logs, fresh)
    assert KEY.shift_diagnosis(data) == KEY.diagnosis_of(logs, fresh, KEY.alarm_of(logs, fresh)["threshold"])


def test_the_alarm_is_crossed_by_noise_about_once_in_a_hundred():
    """The chi-square calibration, checked by simulation: independent noise weeks against a reference."""
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(3200)
    edges = np.quantile(reference, np.linspace(0, 1, m05.BINS + 1))[1:-1]
    expected = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=m05.BINS) / reference.size
    weeks = np.searchsorted(edges, rng.standard_normal((4000, 800)), side="right")
    actual = np.maximum(np.stack([np.bincount(row, minlength=m05.BINS) for row in weeks]) / 800, m05.SHARE_FLOOR)
    psi = ((actual - expected) * np.log(actual / expected)).sum(axis=1)
    crossed = (psi >= KEY.alarm_threshold(800, 3200)).mean()
    assert 0.003 <= crossed <= 0.025


def test_the_wilson_interval_matches_statsmodels():
    for successes, n in ((30, 104), (0, 12), (12, 12), (33.0, 118.9)):
        ours = m05.wilson_interval(successes, n)
        theirs = proportion_confint(successes, n, alpha=0.05, method="wilson")
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_the_auc_per_feature_and_week_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    logs = logs_of(refund_requests.CANONICAL_SEED)
    auc = m05.auc_by_week(logs, m05.PREDICTIVE)
    settled = logs[logs["abuse"].notna()]
    assert list(auc.index) == sorted(settled["week"].unique()) and list(auc.columns) == list(m05.PREDICTIVE)
    for week, rows in settled.groupby("week"):
        for feature in m05.PREDICTIVE:
            assert auc.at[week, feature] == pytest.approx(roc_auc_score(rows["abuse"], rows[feature]), abs=1e-12)
    separation = KEY.separation_of(logs)
    assert (separation.loc[:m05.UPDATE_WEEK - 1].mean() > 0.5).all(), "oriented so that the risky side reads > 0.5"


def test_the_auc_counts_ties_as_half_and_is_missing_for_a_week_with_one_class():
    from sklearn.metrics import roc_auc_score

    rows = pd.DataFrame({"week": [0] * 6 + [1] * 3, "abuse": [1, 0, 1, 0, 0, np.nan, 0, 0, 0],
                         "score": [3, 3, 2, 1, 2, 9, 1, 2, 3]})
    auc = m05.auc_by_week(rows, ["score"])
    known = rows.iloc[:5]
    assert auc.at[0, "score"] == pytest.approx(roc_auc_score(known["abuse"], known["score"]), abs=1e-12)
    assert np.isnan(auc.at[1, "score"])


def test_the_quality_table_counts_match_the_logs():
    after = DataSource().load("refund_requests_after")
    quality = KEY.quality(DataSource())
    assert quality["requests"].sum() == len(after)
    assert quality["caught"].sum() == ((after["reviewed"] == 1) & (after["abuse"] == 1)).sum()
    assert quality.at[m05.NOW_WEEK, "maturity"] == 0 and np.isnan(quality.at[m05.NOW_WEEK, "catch_rate"])
    assert quality.at[m05.NOW_WEEK, "known_catch_rate"] == 1.0, "the newest week looks perfect on a dashboard"


# --- tolerances: rounding passes, a material error fails ----------------------------------------------------

def test_answers_rounded_to_four_decimals_pass_and_material_errors_fail():
    data = DataSource()
    for key in ("drift", "quality"):
        exercise, reference = MODULE.exercise(key), getattr(KEY, key)(data)
        rounded = reference.round(4)
        assert judge(exercise, rounded, data, reference, True).state is State.CORRECT
        off = reference.copy()
        column = "psi" if key == "drift" else "catch_rate"
        off.loc[off.index[3], column] = off.loc[off.index[3], column] + 0.01
        assert judge(exercise, off, data, reference, True).state is State.INCORRECT
    rule = KEY.rollback_rule(data)
    rounded = m05.seal({**{k: v for k, v in rule.items() if k != "fixed"}, "baseline": round(rule["baseline"], 4)}, 0)
    assert judge(MODULE.exercise("rollback_rule"), rounded, data, rule, True).state is State.CORRECT


# --- the rule fixed before looking ---------------------------------------------------------------------------

@pytest.fixture
def fresh_kernel_counter(monkeypatch):
    """A process that has not loaded the post-update weeks yet, as in a fresh kernel."""
    monkeypatch.setattr(m05, "_EVALUATION_LOADS", [0])


class _Lab:
    def load(self, table):
        return DataSource().load(table)


def _rule_fields() -> dict:
    return {k: v for k, v in KEY.rollback_rule(DataSource()).items() if k != "fixed"}


def _verdict(rule) -> State:
    data = DataSource()
    return judge(MODULE.exercise("rollback_rule"), rule, data, KEY.rollback_rule(data), True).state


def test_a_rule_fixed_before_loading_passes_and_survives_a_json_round_trip(fresh_kernel_counter):
    rule = m05.fix_rule({**_rule_fields(), "consecutive_weeks": np.int64(2), "baseline": np.float64(
        _rule_fields()["baseline"])})
    after = m05.load_evaluation(_Lab(), rule)
    assert len(after) == 8 * 800
    assert _verdict(rule) is State.CORRECT
    assert _verdict(from_json(json.loads(json.dumps(to_json(rule))))) is State.CORRECT


def test_a_rule_refixed_after_loading_is_caught(fresh_kernel_counter):
    m05.load_evaluation(_Lab(), m05.fix_rule(_rule_fields()))
    refixed = m05.fix_rule(_rule_fields())   # the learner re-runs the rule cell after looking
    assert refixed["fixed"]["evaluation_loads_before"] == 1
    assert _verdict(refixed) is State.INCORRECT


def test_a_rule_edited_after_fixing_is_caught(fresh_kernel_counter):
    rule = m05.fix_rule(_rule_fields())
    rule["quality_floor"] -= 0.1
    assert _verdict(rule) is State.INCORRECT


def test_the_data_stays_closed_without_a_fixed_rule(fresh_kernel_counter, capsys):
    from aipmlab.lab import IncorrectAnswer

    with pytest.raises(IncorrectAnswer):
        m05.load_evaluation(_Lab(), _rule_fields())
    assert len(m05.load_evaluation(_Lab(), ...)) == 0 and "closed" in capsys.readouterr().out
    assert m05._EVALUATION_LOADS == [0]


def test_the_grading_engine_catches_a_rule_refixed_below_the_data(tmp_path):
    """The engine runs the notebook top to bottom in its own process and reads only `rollback_rule` as data: a
    notebook whose last word on the rule comes after the data loaded loses the points."""
    from aipmlab.grader import Limits, Submission, grade_notebook
    from aipmlab.release import release_notebook_path

    notebook = nbformat.read(release_notebook_path(MODULE), as_version=4)
    cells = [cell for cell in notebook.cells if cell.cell_type == "markdown"][:1]
    fields = json.dumps(to_json(_rule_fields()))
    code = [
        "seed = 2024",
        "from aipmlab import Lab\nfrom aipmlab.exercises.m05_drift_and_rollback import fix_rule, load_evaluation\n"
        "lab = Lab('05-drift-and-rollback', seed=seed)",
        f"rollback_rule = fix_rule({fields})",
        "after = load_evaluation(lab, rollback_rule)",
        f"rollback_rule = fix_rule({{**{fields}, 'quality_floor': 0.2}})  # rewritten after looking",
    ]
    notebook.cells = cells + [nbformat.v4.new_code_cell(source) for source in code]
    notebook.cells[1].metadata["tags"] = ["parameters"]
    path = tmp_path / MODULE.notebook_name
    nbformat.write(notebook, path)
    result = grade_notebook(Submission("late-rule", path, MODULE.slug, refund_requests.CANONICAL_SEED),
                            Limits(cell_seconds=30, wall_seconds=120), allow_unisolated=True)
    verdict = next(e for e in result.exercises if e.key == "rollback_rule")
    assert verdict.state == State.INCORRECT.value and verdict.points == 0, verdict.message
    assert "after the post-update weeks had been loaded" in verdict.message


# --- deploy ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_deploying_the_reference_has_small_regret_and_rolling_forward_a_large_one(seed):
    reference = KEY.rollback_decision(DataSource(seed))
    good = m05._deploy_decision(reference, seed)
    bad = m05._deploy_decision({**reference, "decision": "roll_forward"}, seed)
    assert reference["decision"] == "roll_back"
    assert good.regret == 0 and bad.regret > 0.1 * bad.best_value
    assert "regret" in good.summary and "honest customers" in good.summary


@pytest.mark.parametrize("seed", SEEDS)
def test_deploying_the_reference_rule_fires_soon_and_a_sluggish_rule_costs_more(seed):
    reference = KEY.rollback_rule(DataSource(seed))
    sluggish = m05.seal({**{k: v for k, v in reference.items() if k != "fixed"}, "min_label_maturity": 1.0,
                         "consecutive_weeks": 3, "quality_floor": reference["baseline"] - 0.15}, 0)
    good, bad = m05._deploy_rule(reference, seed), m05._deploy_rule(sluggish, seed)
    world = refund_requests.cached_world(seed)
    fired = int(good.decision.rsplit(" ", 1)[-1])
    assert world.concept_week < fired <= world.concept_week + 4, good.summary
    assert good.regret < 0.6 * bad.regret
    assert list(good.table.index) == list(range(m05.UPDATE_WEEK + 1, m05.LAST_READING_WEEK + 1))


def test_every_figure_in_the_strong_memo_is_true_for_the_canonical_seed():
    data = DataSource()
    memo = answer_key.strong_example(KEY, "rollback_memo")
    logs = logs_of(refund_requests.CANONICAL_SEED)
    drift = KEY.drift(data).set_index(["feature", "week"])["psi"]
    alarm, quality, rule = KEY.alarm(data), KEY.quality(data), KEY.rollback_rule(data)
    found, decision = KEY.shift_diagnosis(data), KEY.rollback_decision(data)
    new_share = logs.assign(new=logs["market"] == "NL").groupby("week")["new"].mean()
    assert new_share.loc[:11].max() == 0 and new_share.loc[12] > 0 and 0.2 <= new_share.loc[15] <= 0.3
    assert found["covariate"]["feature"] == "order_value" and round(drift[("order_value", 15)], 2) == 0.20
    assert drift[("order_value", 15)] >= alarm["threshold"]
    table = KEY.quality_of(logs, tuple(range(16)))
    prevalence = KEY.prevalence_of(table)
    assert found["label"]["week"] == 9
    assert round(prevalence.loc[:7].mean(), 2) == 0.08 and round(prevalence.loc[9:14].mean(), 2) == 0.14
    separation = KEY.separation_of(logs)["prior_refund_rate"]
    assert found["concept"] == {"feature": "prior_refund_rate", "week": 10}
    assert round(separation.loc[:7].mean(), 2) == 0.86 and round(separation.loc[10:14].mean(), 2) == 0.54
    assert drift.loc["prior_refund_rate"].loc[8:].max() < 0.05
    assert round(rule["quality_floor"], 2) == 0.54 and round(rule["baseline"], 2) == 0.59
    assert rule["min_label_maturity"] == 0.8
    assert (decision["decision"], decision["judged_weeks"]) == ("roll_back", [13, 14])
    assert [round(quality.at[w, "catch_rate"], 2) for w in (13, 14)] == [0.30, 0.28]
    assert [round(quality.at[w, "ci_high"], 2) for w in (13, 14)] == [0.39, 0.36]
    assert quality.at[15, "maturity"] == 0 and quality.at[15, "known_catch_rate"] == 1.0
    outcome = m05._deploy_decision(decision, refund_requests.CANONICAL_SEED)
    gap = outcome.table.loc["v2", "abuse_missed"] - outcome.table.loc["v1", "abuse_missed"]
    held = outcome.table.loc["v1", "honest_held"] - outcome.table.loc["v2", "honest_held"]
    assert abs(gap - 1_200) < 50 and abs(held - 470) < 10
    for quoted in ("week 12", "NL", "PSI 0.20", "8%", "14%", "week 10", "0.86", "0.54", "0.05", "0.54 (v1's 0.59",
                   "weeks 13 and 14", "0.30 and 0.28", "0.39 and 0.36", "1,200", "470", "80%"):
        assert quoted in memo, quoted


def test_the_decision_is_judged_by_the_learners_own_rule():
    data = DataSource()
    reference = KEY.rollback_decision(data)
    fields = {k: v for k, v in reference["rule"].items() if k != "fixed"}
    own = m05.seal({**fields, "quality_floor": round(fields["baseline"] - 0.1, 4), "min_label_maturity": 0.6,
                    "consecutive_weeks": 1}, 0)
    answer = {**m05.apply_rule(own, KEY.quality(data)), "rule": own}
    assert answer["judged_weeks"] != reference["judged_weeks"]
    verdict = judge(MODULE.exercise("rollback_decision"), answer, data, reference, True)
    assert verdict.state is State.CORRECT, verdict.message
