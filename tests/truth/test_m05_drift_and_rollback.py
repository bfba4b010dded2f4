"""Module 05's findings, tested against the refund world's planted truth on TRUTH_SEEDS.

Each test is one sentence the notebook states. Each seed's logs are drawn and analysed once (`analysis`);
the true catch rates come from the world's normal law (`refund_requests.catch_rate`). Shares recorded on
the 200 seeds (run with -s to print them):

| lesson                                                                          | share of seeds |
| ------------------------------------------------------------------------------- | -------------- |
| the covariate shift is found: the right feature, its week within one            | 97.5%          |
| the label shift's week is found within one (prevalence with the maturity fix)   | 100%           |
| the concept shift is found: the right feature, its week within one              | 100%           |
| the concept shift's feature stays in PSI's 'small' band while v2 loses 0.2+     | 100%           |
| the new market's feature reaches PSI's 'moderate' band by the last week         | 98.5%          |
| the covariate and label shifts move v2's true catch rate by < 0.01 (0.02)       | 100%           |
| the latest labelled week's known catch rate flatters v2                         | 96.0%          |
| the reference rule rolls back, and rolling back is the best call in hindsight   | 99.0%          |
| a rollback holds more honest customers for review (v1 over v2, now)             | 100%           |

Pooled over seeds (a rate, not a per-seed lesson):

| lesson                                                                          | pooled share   |
| ------------------------------------------------------------------------------- | -------------- |
| noise alone crosses the calibrated alarm (bar: at most 2%)                      | 0.8% of 4,000  |
| at 100 requests a week, noise alone crosses the 0.1 band (bar: at least 20%)    | 41.5% of 4,000 |
| the matured catch rate's interval covers the truth on mature weeks (bar: 90%)   | 95.3% of 1,122 |

(Refresh the table from the printed shares, `pytest -s`, whenever the generator changes.)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from aipmlab import answer_key
from aipmlab.datasets import refund_requests
from aipmlab.exercises import m05_drift_and_rollback as m05
from tests.truth import TRUTH_SEEDS, assert_holds

KEY = answer_key.load("m05_drift_and_rollback")
SMALL_WEEK = 100  # rows per week in the small-sample PSI lesson


@lru_cache(maxsize=None)
def analysis(seed: int) -> dict:
    """Every figure the notebook reads off one seed's logs, computed once."""
    tables, _truth = refund_requests.generate(seed)
    logs = pd.concat([tables["refund_requests_before"], tables["refund_requests_after"]], ignore_index=True)
    drift = KEY.drift_of(logs, m05.NOISE_WEEKS + m05.POST_WEEKS)
    alarm = KEY.alarm_of(logs, drift)
    quality = KEY.quality_of(logs)
    rule = KEY.rule_of(tables["refund_requests_before"])
    rng = np.random.default_rng([seed, 55])
    small = pd.concat([logs[logs["week"].isin(m05.REFERENCE_WEEKS)]]
                      + [logs[logs["week"] == w].sample(SMALL_WEEK, random_state=rng)
                         for w in m05.NOISE_WEEKS], ignore_index=True)
    small_psi = KEY.drift_of(small, m05.NOISE_WEEKS)["psi"].to_numpy()
    return {"world": refund_requests.cached_world(seed), "drift": drift, "alarm": alarm, "quality": quality,
            "diagnosis": KEY.diagnosis_of(logs, drift, alarm["threshold"]), "decision": m05.apply_rule(rule, quality),
            "small_psi": small_psi}


def _report(lesson: str, holds) -> float:
    share = assert_holds(holds, lesson)
    print(f"{lesson}: {share:.1%}")
    return share


def _pooled(lesson: str, hits: int, total: int, at_most: float | None = None, at_least: float | None = None) -> None:
    share = hits / total
    print(f"{lesson}: {share:.1%} of {total}")
    if at_most is not None:
        assert share <= at_most, f"{lesson}: {share:.1%} > {at_most:.0%}"
    if at_least is not None:
        assert share >= at_least, f"{lesson}: {share:.1%} < {at_least:.0%}"


def test_the_covariate_shift_is_found():
    _report("covariate shift found (feature, week ±1)", {
        seed: (analysis(seed)["diagnosis"]["covariate"]["feature"] == analysis(seed)["world"].covariate_feature
               and abs(analysis(seed)["diagnosis"]["covariate"]["week"] - analysis(seed)["world"].covariate_week)
               <= m05.WEEK_TOLERANCE) for seed in TRUTH_SEEDS})


def test_the_label_shift_is_found():
    _report("label shift week found (±1)", {
        seed: abs(analysis(seed)["diagnosis"]["label"]["week"] - analysis(seed)["world"].label_week)
        <= m05.WEEK_TOLERANCE for seed in TRUTH_SEEDS})


def test_the_concept_shift_is_found():
    _report("concept shift found (feature, week ±1)", {
        seed: (analysis(seed)["diagnosis"]["concept"]["feature"] == analysis(seed)["world"].concept_feature
               and abs(analysis(seed)["diagnosis"]["concept"]["week"] - analysis(seed)["world"].concept_week)
               <= m05.WEEK_TOLERANCE) for seed in TRUTH_SEEDS})


def test_the_concept_shift_barely_moves_its_input_while_v2_loses_quality():
    holds = {}
    for seed in TRUTH_SEEDS:
        world, drift = analysis(seed)["world"], analysis(seed)["drift"]
        psi = drift.loc[(drift["feature"] == world.concept_feature) & (drift["week"] >= m05.UPDATE_WEEK), "psi"]
        loss = (refund_requests.catch_rate(world, "v2", world.concept_week - 1)
                - refund_requests.catch_rate(world, "v2", world.concept_week))
        holds[seed] = bool((psi < 0.1).all() and loss > 0.2)
    _report("concept feature stays under PSI 0.1 while v2 loses 0.2+", holds)


def test_the_new_markets_feature_reaches_the_moderate_band():
    holds = {}
    for seed in TRUTH_SEEDS:
        world, drift = analysis(seed)["world"], analysis(seed)["drift"]
        last = drift[(drift["feature"] == world.covariate_feature) & (drift["week"] == m05.NOW_WEEK)]["psi"]
        holds[seed] = bool(last.iloc[0] >= 0.1)
    _report("covariate feature PSI >= 0.1 by the last week", holds)


def test_the_covariate_and_label_shifts_leave_the_catch_rate_alone():
    holds = {}
    for seed in TRUTH_SEEDS:
        world = analysis(seed)["world"]
        before = refund_requests.catch_rate(world, "v2", m05.UPDATE_WEEK)
        # every week before the concept shift: the label shift and the market's first weeks are already in
        steady = [refund_requests.catch_rate(world, "v2", w) for w in range(m05.UPDATE_WEEK, world.concept_week)]
        market_only = refund_requests.catch_rate(world, "v1", m05.NOW_WEEK) - refund_requests.catch_rate(
            world, "v1", world.concept_week)
        holds[seed] = bool(max(abs(c - before) for c in steady) < 0.01 and abs(market_only) < 0.02)
    _report("covariate and label shifts move the true catch rate < 0.01-0.02", holds)


def test_noise_rarely_crosses_the_calibrated_alarm():
    hits = total = 0
    for seed in TRUTH_SEEDS:
        drift, threshold = analysis(seed)["drift"], analysis(seed)["alarm"]["threshold"]
        noise = drift.loc[drift["week"].isin(m05.NOISE_WEEKS), "psi"]
        hits, total = hits + int((noise >= threshold).sum()), total + len(noise)
    _pooled("noise crosses the calibrated alarm", hits, total, at_most=0.02)


def test_at_small_samples_noise_crosses_the_conventional_band_often():
    values = np.concatenate([analysis(seed)["small_psi"] for seed in TRUTH_SEEDS])
    _pooled("noise at 100 a week crosses PSI 0.1", int((values >= 0.1).sum()), values.size, at_least=0.2)


def test_the_latest_labelled_week_flatters_the_new_model():
    holds = {}
    for seed in TRUTH_SEEDS:
        world, quality = analysis(seed)["world"], analysis(seed)["quality"]
        week = int(quality.index[quality["maturity"] > 0].max())
        holds[seed] = bool(quality.at[week, "known_catch_rate"] > refund_requests.catch_rate(world, "v2", week))
    _report("the latest labelled week's known catch rate is above the truth", holds)


def test_the_matured_interval_covers_the_truth_on_mature_weeks():
    hits = total = 0
    for seed in TRUTH_SEEDS:
        world, quality = analysis(seed)["world"], analysis(seed)["quality"]
        for week in quality.index[quality["maturity"] >= KEY.REFERENCE_MATURITY]:
            truth = refund_requests.catch_rate(world, "v2", int(week))
            hits += int(quality.at[week, "ci_low"] <= truth <= quality.at[week, "ci_high"])
            total += 1
    _pooled("matured interval covers the true catch rate (mature weeks)", hits, total, at_least=0.9)


def test_the_reference_rule_rolls_back_and_rolling_back_is_best():
    holds = {}
    for seed in TRUTH_SEEDS:
        world = analysis(seed)["world"]
        v1, v2 = (refund_requests.weekly_harm(world, v, m05.NOW_WEEK + 1)["abuse_missed"] for v in ("v1", "v2"))
        holds[seed] = analysis(seed)["decision"]["decision"] == "roll_back" and v1 < v2
    _report("the rule rolls back, and v1 pays fewer abusive refunds now", holds)


def test_rolling_back_holds_more_honest_customers_for_review():
    _report("v1 holds more honest customers for review than v2 now", {
        seed: refund_requests.weekly_harm(analysis(seed)["world"], "v1", m05.NOW_WEEK + 1)["honest_held"]
        > refund_requests.weekly_harm(analysis(seed)["world"], "v2", m05.NOW_WEEK + 1)["honest_held"]
        for seed in TRUTH_SEEDS})
