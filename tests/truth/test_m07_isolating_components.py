"""Module 07's findings, tested against the two-stage recommender's planted world on TRUTH_SEEDS.

Each test is one sentence the notebook states. Each seed's draw is analysed once per session (`analysis`),
from the arrays the tables are made of (`draw_arrays`, the same draw `generate` writes out), so the file stays
within its CPU budget; tests/test_m07_isolating_components.py
checks that these array formulas equal the answer key's on the tables. The world's truth comes from fresh
draws: every user of a population served under all four cells with the same random numbers
(`population_cells`), and a fresh offline panel. Shares recorded on the 200 seeds (run with -s to print them):

| lesson                                                                          | share of seeds |
| ------------------------------------------------------------------------------- | -------------- |
| the new generator has the higher recall@30 (learner's panel and the world)       | 100%           |
| the new ranker has the higher NDCG@10 on fixed candidates (panel and world)      | 99.5%          |
| when the 2×2 names the stage carrying more lift, it is the true one              | 99.5%          |
| when the interaction's interval excludes 0, its sign is the true sign            | 100%           |
| the interaction's interval excludes 0                                            | 99.5%          |
| solo credits mis-state the launch by 10% or more, in the direction the data show | 99.5%          |
| each effect's 95% interval covers the truth (aggregate, bar 90%)                 | 91.0-92.5%     |
| the launch shows less-seen videos (novelty rises), panel and world               | 99.0%          |
| the loop narrows: coverage falls and Gini rises from round 1 to round 10         | 100%           |
| the rule's ship decision has regret under 0.3 clicks per user-week               | 99.5%          |
| 'both' is best in hindsight exactly when the true interaction is positive        | 99.5%          |

The interval coverage sits under 95% mostly because the world's truth is itself estimated, from 800 users
served under every cell, and its own error is not negligible next to the experiment's: measured once against a
4,000-user truth (too slow for every run), the same intervals cover on 93.0-94.5% of the 200 seeds. The 90% bar
is module 02's for the same kind of aggregate claim.

(Refresh the table from the printed shares, `pytest -s`, whenever the generator changes.)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from aipmlab import answer_key
from aipmlab.datasets import two_stage_recommender as recommender
from aipmlab.exercises import m07_isolating_components as m07
from tests.truth import TRUTH_SEEDS, assert_holds

KEY = answer_key.load("m07_isolating_components")
DISCOUNT = 1.0 / np.log2(np.arange(2, m07.SHELF + 2))
SOLO_MISSTATEMENT = 0.10  # the notebook says solo credits mis-state the launch by at least a tenth
REGRET_BOUND = 0.3        # clicks per user-week


def recall_by_user(relevance: np.ndarray, rank: np.ndarray) -> float:
    """Exercise 1 on arrays: mean over users (with a relevant video) of recall@CANDIDATES."""
    relevant = relevance >= m07.RELEVANT_FROM
    hits, total = (relevant & (rank > 0)).sum(axis=1), relevant.sum(axis=1)
    return float((hits[total > 0] / total[total > 0]).mean())


def ndcg_by_user(relevance: np.ndarray, fixed: np.ndarray, score: np.ndarray) -> float:
    """Exercise 2 on arrays: mean NDCG@SHELF of a ranker's order of each user's fixed candidates."""
    gain = np.where(fixed, 2.0 ** relevance - 1, 0.0)
    masked = np.where(fixed, score, -np.inf)
    top = np.argsort(-masked, axis=1, kind="stable")[:, :m07.SHELF]
    discount = DISCOUNT[:top.shape[1]]
    dcg = (np.take_along_axis(gain, top, axis=1) * discount).sum(axis=1)
    ideal = (-np.sort(-gain, axis=1)[:, :m07.SHELF] * discount).sum(axis=1)
    return float((dcg[ideal > 0] / ideal[ideal > 0]).mean())


def offline_metrics(relevance: np.ndarray, ranks: dict, scores: dict) -> dict:
    fixed = ranks["old"] > 0
    return {"recall": {v: recall_by_user(relevance, ranks[v]) for v in m07.VERSIONS},
            "ndcg": {v: ndcg_by_user(relevance, fixed, scores[v]) for v in m07.VERSIONS}}


def _analyse(seed: int) -> dict:
    """Every figure the notebook reads off one seed's draw, and the world's truth."""
    world = recommender.cached_world(seed)
    arrays = recommender.draw_arrays(world, np.random.default_rng(seed))
    stats = pd.DataFrame({cell: {"mean": clicks.mean(), "var": clicks.var(ddof=1), "count": clicks.size}
                          for cell, clicks in arrays.clicks.items()}).T
    effects = KEY.effects_from_cells(stats)
    population = recommender.population_cells(seed)
    panel = recommender.offline_arrays(world, recommender.fresh_rng(seed, "offline panel"), 400)
    impressions = arrays.loop_impressions
    return {
        "world": world, "offline": offline_metrics(arrays.relevance, arrays.generator_rank, arrays.ranker_score),
        "offline_truth": offline_metrics(*panel), "effects": effects, "means": stats["mean"],
        "stats": stats, "truth": recommender.true_effects(seed), "population": population,
        "discovery": {system: recommender.discovery(arrays.shelves[cell], world)
                      for system, cell in m07.SYSTEMS.items()},
        "loop": {"coverage": (impressions > 0).mean(axis=1), "gini": recommender.gini(impressions)},
    }


@lru_cache(maxsize=None)
def analysis(seed: int) -> dict:
    """One seed's analysis, computed once (this file runs whole on one test worker: tests/conftest.py)."""
    return _analyse(seed)


def _report(lesson: str, holds: dict) -> None:
    share = assert_holds(holds, lesson)
    print(f"{lesson}: {share:.1%}")


def test_the_new_generator_recalls_more_of_what_users_love():
    _report("new generator: higher recall@30", {
        seed: all(a[key]["recall"]["new"] > a[key]["recall"]["old"] for key in ("offline", "offline_truth"))
        for seed in TRUTH_SEEDS for a in [analysis(seed)]})


def test_the_new_ranker_orders_fixed_candidates_better():
    _report("new ranker: higher NDCG@10 on fixed candidates", {
        seed: all(a[key]["ndcg"]["new"] > a[key]["ndcg"]["old"] for key in ("offline", "offline_truth"))
        for seed in TRUTH_SEEDS for a in [analysis(seed)]})


def stage_verdict(stats: pd.DataFrame) -> str | None:
    """The notebook's sentence: which stage carries more lift, when the interval of the difference allows it."""
    difference = stats.at[("new", "old"), "mean"] - stats.at[("old", "new"), "mean"]  # generator - ranker effect
    se = np.sqrt(stats.at[("new", "old"), "var"] / stats.at[("new", "old"), "count"]
                 + stats.at[("old", "new"), "var"] / stats.at[("old", "new"), "count"])
    if abs(difference) <= m07.Z * se:
        return None
    return "candidate_generator" if difference > 0 else "ranker"


def test_when_the_2x2_names_the_stage_that_carries_more_lift_it_is_the_true_one():
    holds = {}
    for seed in TRUTH_SEEDS:
        a = analysis(seed)
        verdict = stage_verdict(a["stats"])
        true_stage = max(("candidate_generator", "ranker"), key=lambda stage: a["truth"][stage])
        holds[seed] = verdict is None or verdict == true_stage
    _report("the stage the 2×2 names is the true one", holds)


def test_the_interaction_is_found_with_its_true_sign():
    found, right = {}, {}
    for seed in TRUTH_SEEDS:
        row = analysis(seed)["effects"].loc["interaction"]
        excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
        found[seed] = excludes_zero
        right[seed] = not excludes_zero or np.sign(row["estimate"]) == np.sign(analysis(seed)["truth"]["interaction"])
    _report("interaction: sign right when the interval excludes 0", right)
    _report("interaction: the interval excludes 0", found)


def test_solo_credits_misstate_the_launch_in_the_direction_the_data_show():
    holds = {}
    for seed in TRUTH_SEEDS:
        a = analysis(seed)
        observed = KEY.attribution_from_means(a["means"])["solo_share_of_launch"]
        true_share = KEY.attribution_from_means(a["population"]["clicks"])["solo_share_of_launch"]
        holds[seed] = abs(true_share - 1) >= SOLO_MISSTATEMENT and np.sign(observed - 1) == np.sign(true_share - 1)
    _report("solo credits mis-state the launch by >= 10%, as the data show", holds)


def test_the_intervals_cover_the_truth_at_about_their_nominal_rate():
    """An aggregate: a 95% interval cannot cover on 95% of seeds every time, so the bar is 90% over 200 seeds."""
    for effect in m07.EFFECTS:
        covered = [analysis(seed)["effects"].at[effect, "ci_low"] <= analysis(seed)["truth"][effect]
                   <= analysis(seed)["effects"].at[effect, "ci_high"] for seed in TRUTH_SEEDS]
        share = float(np.mean(covered))
        print(f"{effect}: interval covers the truth on {share:.1%}")
        assert share >= 0.90, f"{effect}: the 95% interval covers the truth on only {share:.1%} of seeds"


def test_the_launch_shows_less_seen_videos():
    """Novelty rises on the learner's shelves and in the world. (Intra-list diversity moves either way, by seed:
    the notebook states no direction for it, only the learner's own measurement.)"""
    holds = {}
    for seed in TRUTH_SEEDS:
        a = analysis(seed)
        before, after = a["discovery"]["before"], a["discovery"]["after"]
        world_before, world_after = a["population"].loc[("old", "old")], a["population"].loc[("new", "new")]
        holds[seed] = after["novelty"] > before["novelty"] and world_after["novelty"] > world_before["novelty"]
    _report("novelty rises with the launch", holds)


def test_the_feedback_loop_narrows_the_catalogue():
    _report("loop: coverage falls and Gini rises from round 1 to the last", {
        seed: bool(loop["coverage"][-1] < loop["coverage"][0] and loop["gini"][-1] > loop["gini"][0])
        for seed in TRUTH_SEEDS for loop in [analysis(seed)["loop"]]})


def _regret(seed: int, option: str) -> float:
    clicks = analysis(seed)["population"]["clicks"]
    net = {choice: recommender.net_value(clicks, choice) for choice in m07.SHIP_OPTIONS}
    return max(net.values()) - net[option]


def test_the_rule_ships_what_is_best_in_hindsight_or_close_to_it():
    _report("the rule's decision has regret < 0.3 clicks", {
        seed: _regret(seed, KEY.ship_decision_of(analysis(seed)["means"])["ship"]) < REGRET_BOUND
        for seed in TRUTH_SEEDS})


def test_shipping_both_pays_exactly_when_the_stages_complement_each_other():
    holds = {}
    for seed in TRUTH_SEEDS:
        clicks = analysis(seed)["population"]["clicks"]
        best = max(m07.SHIP_OPTIONS, key=lambda option: recommender.net_value(clicks, option))
        holds[seed] = (best == "both") == (analysis(seed)["truth"]["interaction"] > 0)
    _report("'both' is best exactly when the interaction is positive", holds)
