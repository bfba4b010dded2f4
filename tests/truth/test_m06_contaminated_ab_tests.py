"""Module 06's findings, tested against the recommender experiments' planted world on TRUTH_SEEDS.

Each test is one sentence the notebook states. Each seed's draw is generated and analysed once (`month`); the
true share of misleading tests of each design comes from the world (`World.misleading_share`: the simulator's
estimates are normal around the design's mean, so the share is exact). Shares recorded on the 200 seeds (run
with -s to print them):

| lesson                                                                          | share of seeds |
| ------------------------------------------------------------------------------- | -------------- |
| the SRM check refuses exactly the experiment that lost users                    | 100%           |
| the diagnosis finds the platform and the arm that lost them; the others pass    | 100%           |
| the recommender test as run misleads (wrong sign, or > half the effect off)     | 100%           |
| its CUPED interval excludes the true effect: precise, and wrong                 | 100%           |
| CUPED keeps about 1 - rho² of the variance (within 0.03), and narrows the CI    | 100%           |
| the learner's 99% interval covers the true share: pooled                        | 99.5%          |
| the learner's 99% interval covers the true share: data_diverted                 | 99.5%          |
| the learner's 99% interval covers the true share: cluster                       | 99.0%          |
| pooled misleads most often of the three designs, and most of the time (> 80%)   | 100%           |
| data-diverted leans against the new model; cluster is less biased than pooled   | 100%           |
|   but noisier than a user-level test                                            |                |
| the design the replays pick has a regret under 5 points of misleading share     | 99.5%          |

(Refresh the table from the printed shares, `pytest -s`, whenever the generator changes.)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from aipmlab import answer_key
from aipmlab.datasets import recsys_experiment
from aipmlab.exercises import m06_contaminated_ab_tests as m06
from tests.truth import TRUTH_SEEDS, assert_holds

KEY = answer_key.load("m06_contaminated_ab_tests")


@lru_cache(maxsize=None)
def month(seed: int) -> dict:
    """Every figure the notebook reads off one seed's draw, computed once."""
    tables, truth = recsys_experiment.generate(seed)
    assignments, users = tables["recsys_experiment_assignments"], tables["recsys_experiment_users"]
    return {"world": truth.world, "assignments": assignments, "srm": KEY.srm_table(assignments), "diagnosis": KEY.srm_diagnosis_of(assignments),
            "raw": KEY.effect_of(users["minutes"], users["arm"]), "cuped": KEY.cuped_of(users),
            "shares": KEY.misleading_share_of(tables["recsys_experiment_replays"])}


def _report(lesson: str, holds: dict) -> None:
    share = assert_holds(holds, lesson)
    print(f"{lesson}: {share:.1%}")


def test_the_srm_check_refuses_exactly_the_experiment_that_lost_users():
    _report("SRM refuses exactly the planted experiment", {
        seed: sorted(month(seed)["srm"].index[~month(seed)["srm"]["read"].astype(bool)]) == [month(seed)["world"].srm_experiment]
        for seed in TRUTH_SEEDS})


def test_the_diagnosis_finds_the_platform_and_the_arm_that_lost_users_and_the_other_platforms_are_fine():
    holds = {}
    for seed in TRUTH_SEEDS:
        world, found = month(seed)["world"], month(seed)["diagnosis"]
        table = month(seed)["assignments"]
        cells = table[(table["experiment"] == world.srm_experiment) & (table["platform"] != world.srm_platform)]
        others_fine = all(KEY._srm_row(rows["users"].to_numpy(float), rows["planned_share"].to_numpy(float))[1]
                          >= m06.SRM_ALPHA for _, rows in cells.groupby("platform"))
        holds[seed] = others_fine and found == {"experiment": world.srm_experiment, "platform": world.srm_platform,
                                                "arm": world.srm_arm}
    _report("the diagnosis finds the planted platform and arm; the other platforms pass", holds)


def test_the_recommender_test_as_run_misleads():
    _report("the pooled test misleads", {
        seed: bool(recsys_experiment.misleads(np.array([month(seed)["cuped"]["effect"]]),
                                              month(seed)["world"].true_effect)[0]) for seed in TRUTH_SEEDS})


def test_its_cuped_interval_excludes_the_true_effect():
    holds = {}
    for seed in TRUTH_SEEDS:
        cuped, effect = month(seed)["cuped"], month(seed)["world"].true_effect
        holds[seed] = not cuped["ci_low"] <= effect <= cuped["ci_high"]
    _report("the CUPED interval of the pooled test excludes the true effect", holds)


def test_cuped_keeps_about_one_minus_rho_squared_of_the_variance_and_narrows_the_interval():
    holds = {}
    for seed in TRUTH_SEEDS:
        cuped, raw = month(seed)["cuped"], month(seed)["raw"]
        holds[seed] = (abs(cuped["variance_ratio"] - (1 - cuped["rho"] ** 2)) <= m06.ONE_MINUS_RHO2_ATOL
                       and cuped["ci_high"] - cuped["ci_low"] < raw["ci_high"] - raw["ci_low"])
    _report("CUPED keeps ~1 - rho² of the variance", holds)


def _covers(design: str) -> dict:
    holds = {}
    for seed in TRUTH_SEEDS:
        row, world = month(seed)["shares"].loc[design], month(seed)["world"]
        holds[seed] = row["ci_low"] <= world.misleading_share(design) <= row["ci_high"]
    return holds


def test_the_measured_share_covers_the_true_share_pooled():
    _report("99% interval covers the true share: pooled", _covers("pooled"))


def test_the_measured_share_covers_the_true_share_data_diverted():
    _report("99% interval covers the true share: data_diverted", _covers("data_diverted"))


def test_the_measured_share_covers_the_true_share_cluster():
    _report("99% interval covers the true share: cluster", _covers("cluster"))


def test_pooled_misleads_most_often_and_most_of_the_time():
    holds = {}
    for seed in TRUTH_SEEDS:
        world = month(seed)["world"]
        shares = {design: world.misleading_share(design) for design in m06.DESIGNS}
        holds[seed] = max(shares, key=shares.get) == "pooled" and shares["pooled"] > 0.8
    _report("pooled misleads most, > 80% of tests", holds)


def test_each_design_has_its_own_weakness():
    """Diverted leans against the new model (it trains on half the logs); cluster is nearly unbiased but noisy."""
    holds = {}
    for seed in TRUTH_SEEDS:
        world = month(seed)["world"]
        holds[seed] = (world.design_bias("data_diverted") < 0
                       and abs(world.design_bias("cluster")) < abs(world.design_bias("pooled"))
                       and world.design_std_error("cluster") > world.design_std_error("data_diverted"))
    _report("diverted leans against the new model; cluster less biased, noisier", holds)


def test_the_design_the_replays_pick_has_a_small_regret():
    holds = {}
    for seed in TRUTH_SEEDS:
        world = month(seed)["world"]
        chosen = month(seed)["shares"]["share"].idxmin()
        best = min(world.misleading_share(design) for design in m06.DESIGNS)
        holds[seed] = world.misleading_share(chosen) - best < 0.05
    _report("the design the replays pick has regret < 0.05", holds)


def test_which_design_is_best_varies_with_the_seed():
    """A lesson to be found, not remembered: in some worlds diverting wins, in others the cluster design."""
    best = {min(m06.DESIGNS, key=month(seed)["world"].misleading_share) for seed in TRUTH_SEEDS}
    assert best == {"data_diverted", "cluster"}
