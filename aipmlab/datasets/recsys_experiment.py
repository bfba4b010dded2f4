"""Synthetic recommender experiments for module 06 (contaminated A/B tests): a world drawn from the seed, then draws.

A video app tests a retrained recommender (treatment) against the current one (control). Both models
retrain every night on the logs, and in the test as it was run, on the *pooled* logs of both arms: each
model learns partly from the data its competitor generated (symbiosis bias, Brennan et al., WWW 2025).
Four other experiments ran the same month; one of them lost users from one arm on one platform.

The *world* (`world(seed)`) holds what is planted, and none of it reaches a file: the true effect of
launching the new model to everyone (its size and sign vary), how much of it comes through the data the
new model generates (what pooled training hides: the contamination, its strength and direction vary),
what a model loses when it trains on half the logs (data-diverted design), how local the signal is in
communities (cluster design), how strongly last month's minutes predict this month's, and which other
experiment lost users, on which platform and from which arm.

A *draw* (`draw(world, rng)`) gives three tables: the recommender test's users (pre-period and test-period
minutes), the assignment counts of every experiment of the month, and replays of the next test under each
of three designs from the platform team's simulator, with the effect the simulator knows. `generate(seed)`
is the canonical draw. `simulate_estimates` runs many experiments at once (experiments x users arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import norm

from aipmlab.datasets.family import DatasetFamily

CANONICAL_SEED = 2024

PLATFORMS = ("web", "ios", "android")
MAIN_EXPERIMENT = "recommender_retrain"
# Every experiment of the month: its arms and the share of users each arm was planned to get.
EXPERIMENTS = {
    MAIN_EXPERIMENT: {"control": 0.5, "treatment": 0.5},
    "search_ranking": {"control": 0.5, "treatment": 0.5},
    "notification_timing": {"control": 0.5, "morning": 0.25, "evening": 0.25},
    "onboarding_carousel": {"control": 0.5, "treatment": 0.5},
    "price_badges": {"control": 0.8, "treatment": 0.2},
}
OTHER_EXPERIMENTS = tuple(name for name in EXPERIMENTS if name != MAIN_EXPERIMENT)

DESIGNS = ("pooled", "data_diverted", "cluster")

# The recommender test as run (pooled training): users, and minutes watched per week.
MAIN_USERS = 8_000
BASE_MINUTES = 40.0
USER_SD = 12.0            # spread of weekly minutes between users in the test period
PRE_VARIANCE_SHARE = 0.8  # the pre-period averages four weeks, so it varies less than one test week

# The next test, as the platform team's simulator replays it.
NEXT_TEST_USERS = 6_000
CLUSTERS = 40             # communities of users who watch the same videos (cluster design)
REPLAYS = 200             # replays per design in the shipped table
MISLEADING_TOLERANCE = 0.5  # an estimate more than half the true effect away from it misleads

# Planted ranges, each chosen so that every lesson the notebook states holds (tests/truth/ proves it).
TRUE_EFFECT_RANGE = (0.8, 1.6)       # |true effect| of launching, minutes per user per week
CONTAMINATION_RANGE = (0.9, 1.5)     # |part of it carried by the new model's own data| / |true effect|
STARVATION_RANGE = (0.05, 0.6)       # what the new model loses on half the logs, / |true effect|
LOCALITY_RANGE = (0.75, 0.95)        # share of a community's recommendations learned from its own data
CLUSTER_SD_RANGE = (0.3, 1.5)        # spread of community means, minutes per week
RHO_RANGE = (0.70, 0.85)             # correlation of pre-period and test-period minutes
SRM_LOSS_RANGE = (0.20, 0.35)        # share of the broken arm's users lost on the broken platform
OTHER_USERS_RANGE = (150_000, 300_000)


@dataclass(frozen=True)
class World:
    """The planted parameters of one seed."""

    seed: int
    true_effect: float        # launching the new model to everyone vs keeping the old one, minutes/user/week
    data_gain: float          # the part of true_effect that comes through the logs the new model generates
    starvation: float         # minutes the new model loses (relative to the old) when each trains on half the logs
    locality: float           # cluster design: share of a community's signal learned from its own logs
    cluster_sd: float
    rho: float                # correlation between a user's pre-period and test-period minutes (same arm)
    srm_experiment: str
    srm_platform: str
    srm_arm: str
    srm_loss: float
    platform_mix: tuple[float, ...]

    @property
    def model_gain(self) -> float:
        """What a test with pooled training measures: both models learn from the same logs."""
        return self.true_effect - self.data_gain

    def design_bias(self, design: str) -> float:
        """Mean estimate of a design minus the true effect."""
        return {"pooled": -self.data_gain, "data_diverted": -self.starvation,
                "cluster": -(1 - self.locality) * self.data_gain}[design]

    def design_std_error(self, design: str, users: int = NEXT_TEST_USERS) -> float:
        """Standard error of a design's difference in means, with `users` split evenly between the arms."""
        users_part = USER_SD**2 * 4 / users
        clusters_part = 4 * self.cluster_sd**2 / CLUSTERS if design == "cluster" else 0.0
        return float(np.sqrt(users_part + clusters_part))

    def misleading_share(self, design: str, users: int = NEXT_TEST_USERS) -> float:
        """The true chance that one test of `design` misleads: wrong sign, or more than half the effect away."""
        mean = self.true_effect + self.design_bias(design)
        se = self.design_std_error(design, users)
        size = abs(self.true_effect)
        low, high = sorted((self.true_effect - MISLEADING_TOLERANCE * size, self.true_effect + MISLEADING_TOLERANCE * size))
        return float(1 - (norm.cdf((high - mean) / se) - norm.cdf((low - mean) / se)))


@dataclass(frozen=True)
class RecsysTruth:
    """The planted answers of one draw."""

    world: World
    main_arm_effect: float    # what the test as run delivers to its treatment arm (pooled training)


def world(seed: int) -> World:
    """The planted parameters for `seed`."""
    rng = np.random.default_rng([seed, 606])
    sign = rng.choice([-1.0, 1.0], p=[0.3, 0.7])
    effect = sign * rng.uniform(*TRUE_EFFECT_RANGE)
    direction = rng.choice([-1.0, 1.0])   # does the new model's own data add to its effect, or take away?
    data_gain = direction * rng.uniform(*CONTAMINATION_RANGE) * abs(effect)
    starvation = rng.uniform(*STARVATION_RANGE) * abs(effect)
    srm_experiment = OTHER_EXPERIMENTS[rng.integers(len(OTHER_EXPERIMENTS))]
    arms = [arm for arm in EXPERIMENTS[srm_experiment] if arm != "control"]
    mix = rng.dirichlet([6.0, 4.0, 5.0])
    return World(seed, float(effect), float(data_gain), float(starvation), float(rng.uniform(*LOCALITY_RANGE)),
                 float(rng.uniform(*CLUSTER_SD_RANGE)), float(rng.uniform(*RHO_RANGE)), srm_experiment,
                 PLATFORMS[rng.integers(len(PLATFORMS))], arms[rng.integers(len(arms))],
                 float(rng.uniform(*SRM_LOSS_RANGE)), tuple(float(x) for x in np.clip(mix, 0.22, None) / np.clip(mix, 0.22, None).sum()))


@lru_cache(maxsize=256)
def cached_world(seed: int) -> World:
    """world(seed), computed once per process (truth tests and deploy call it often)."""
    return world(seed)


def fresh_rng(seed: int, purpose: str) -> np.random.Generator:
    """A generator for fresh draws from the world of `seed`, independent of the learner's own draw."""
    return np.random.default_rng([seed, sum(map(ord, purpose)) + 60_000])


# --- the recommender test as it was run ---------------------------------------------------------------------

def main_users(world_: World, rng: np.random.Generator, users: int = MAIN_USERS) -> pd.DataFrame:
    """The recommender test's users: platform, arm (a coin flip each), pre-period and test-period minutes."""
    # A user's level (shared by both periods) and each period's own noise, set so corr(pre, test) = rho.
    pre_var = PRE_VARIANCE_SHARE * USER_SD**2
    level_var = world_.rho * np.sqrt(pre_var) * USER_SD    # cov(pre, test): the level both periods share
    test_noise_var, pre_noise_var = USER_SD**2 - level_var, pre_var - level_var
    level = BASE_MINUTES + rng.normal(0, np.sqrt(level_var), users)
    pre = level + rng.normal(0, np.sqrt(pre_noise_var), users)
    treated = rng.random(users) < 0.5
    test = level + rng.normal(0, np.sqrt(test_noise_var), users) + 0.8 + treated * world_.model_gain
    platform = np.array(PLATFORMS)[rng.choice(len(PLATFORMS), size=users, p=world_.platform_mix)]
    return pd.DataFrame({"user_id": [f"u{i:05d}" for i in range(1, users + 1)], "platform": platform,
                         "arm": np.where(treated, "treatment", "control"),
                         "pre_minutes": np.round(np.clip(pre, 0, None), 2),
                         "minutes": np.round(np.clip(test, 0, None), 2)})


def assignments(world_: World, rng: np.random.Generator, users: pd.DataFrame) -> pd.DataFrame:
    """Users per experiment, arm and platform this month; the planted experiment lost users from one arm."""
    rows = []
    for experiment, plan in EXPERIMENTS.items():
        if experiment == MAIN_EXPERIMENT:
            counts = users.groupby(["arm", "platform"]).size()
            for arm in plan:
                for platform in PLATFORMS:
                    rows.append((experiment, arm, plan[arm], platform, int(counts.get((arm, platform), 0))))
            continue
        total = int(rng.integers(*OTHER_USERS_RANGE))
        mix = rng.dirichlet(np.array(world_.platform_mix) * 40)
        cells = np.outer(list(plan.values()), mix)
        counts = rng.multinomial(total, cells.ravel()).reshape(cells.shape)
        if experiment == world_.srm_experiment:  # users whose first screen crashed were never logged
            arm_row, platform_col = list(plan).index(world_.srm_arm), PLATFORMS.index(world_.srm_platform)
            counts[arm_row, platform_col] -= rng.binomial(counts[arm_row, platform_col], world_.srm_loss)
        for i, arm in enumerate(plan):
            for j, platform in enumerate(PLATFORMS):
                rows.append((experiment, arm, plan[arm], platform, int(counts[i, j])))
    return pd.DataFrame(rows, columns=["experiment", "arm", "planned_share", "platform", "users"])


# --- many experiments at once: the simulator -----------------------------------------------------------------

def simulate_estimates(world_: World, rng: np.random.Generator, design: str, experiments: int,
                       users: int = NEXT_TEST_USERS) -> np.ndarray:
    """Estimated effects (difference in mean minutes) of `experiments` tests of `design`, users simulated one by one.

    Users are independent, so giving the first half of each test's users the treatment is a random assignment.
    """
    half = users // 2
    noise = rng.standard_normal((experiments, users), dtype=np.float32)   # each user's minutes around their arm's mean
    difference = USER_SD * (noise[:, :half].mean(axis=1, dtype=np.float64) - noise[:, half:].mean(axis=1, dtype=np.float64))
    if design == "cluster":  # whole communities are assigned together, and each community has its own level
        level = rng.normal(0, world_.cluster_sd, (experiments, CLUSTERS))  # equal sizes: first half of users = first half of communities
        difference += level[:, : CLUSTERS // 2].mean(axis=1) - level[:, CLUSTERS // 2:].mean(axis=1)
    return world_.true_effect + world_.design_bias(design) + difference


def replays(world_: World, rng: np.random.Generator, count: int = REPLAYS) -> pd.DataFrame:
    """The simulator's replays of the next test: `count` per design, with the effect the simulator knows."""
    frames = [pd.DataFrame({"design": design, "replay": np.arange(1, count + 1),
                            "estimate": np.round(simulate_estimates(world_, rng, design, count), 4)})
              for design in DESIGNS]
    table = pd.concat(frames, ignore_index=True)
    table["launch_effect"] = round(world_.true_effect, 4)  # the simulator's own setting, which no real test shows
    return table


def draw(world_: World, rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], RecsysTruth]:
    """The month's tables from the world, and the draw's truth."""
    users = main_users(world_, rng)
    tables = {"recsys_experiment_users": users, "recsys_experiment_assignments": assignments(world_, rng, users),
              "recsys_experiment_replays": replays(world_, rng)}
    return tables, RecsysTruth(world_, world_.model_gain)


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], RecsysTruth]:
    """The canonical draw for a seed: the three module 06 tables, and the planted truth."""
    return draw(world(seed), np.random.default_rng(seed))


def misleads(estimates: np.ndarray, true_effect: float) -> np.ndarray:
    """Which estimates mislead: the wrong sign, or more than MISLEADING_TOLERANCE of the true effect away from it."""
    estimates = np.asarray(estimates, dtype=float)
    return (np.sign(estimates) != np.sign(true_effect)) | (
        np.abs(estimates - true_effect) > MISLEADING_TOLERANCE * abs(true_effect))


def run_next_tests(seed: int, design: str, experiments: int = 400) -> float:
    """Share of `experiments` fresh tests of `design`, in the world of `seed`, that mislead."""
    world_ = cached_world(seed)
    estimates = simulate_estimates(world_, fresh_rng(seed, f"next test {design}"), design, experiments)
    return float(misleads(estimates, world_.true_effect).mean())


FAMILY = DatasetFamily("recsys_experiment", generate, CANONICAL_SEED,
                       ("recsys_experiment_users", "recsys_experiment_assignments", "recsys_experiment_replays"))
