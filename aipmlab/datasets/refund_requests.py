"""Synthetic production logs for module 05 (drift, degradation and rollback): a world from the seed, then draws.

An online shop gives an *instant refund* to low-risk refund requests; a model scores each request and
the riskiest go to a human reviewer. Sixteen weeks of logs are kept: eight weeks under the old model
(v1), then eight under the updated model (v2). Whether a request was abuse is learnt late: a reviewer
settles a reviewed request the same week, but an instant refund is only settled when the return
arrives or the return window closes, weeks later.

The *world* (`world(seed)`) holds what is planted, and none of it reaches a file: how abusers differ
from honest customers on each feature; three shifts after the update, each at its own week: a new
market's traffic grows and differs on one context feature (covariate shift: P(x) moves, P(y|x) does
not), abuse becomes more common with abusers looking as before (label shift: P(y) moves, P(x|y) does
not), and abusers stop looking different on one of the features v2 leans on (concept shift: P(y|x)
moves); and the settlement-delay distribution. Which feature and which week each shift hits, their
sizes and the delays vary with the seed. `draw(world, rng)` samples the logs; `generate(seed)` is the
canonical draw. `model_quality` gives a world's true catch rates, for the truth tests and `deploy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, ndtr

from aipmlab.datasets.family import DatasetFamily

CANONICAL_SEED = 2024
WEEKS = 16
UPDATE_WEEK = 8            # v2 serves from this week on
NOW_WEEK = WEEKS - 1       # the logs are read at the end of this week
REQUESTS_PER_WEEK = 800    # logged sample per week
WEEKLY_VOLUME = 50_000     # refund requests the shop receives per week (for users affected)
REVIEW_RATE = 0.12         # each model's review threshold sends this share of pre-update traffic to a reviewer
MAX_DELAY = 6              # an instant refund is settled at most this many weeks after its request

PREDICTIVE = ("account_age_days", "prior_refund_rate", "hours_to_request")
CONTEXT = ("order_value", "delivery_km")
FEATURES = PREDICTIVE + CONTEXT
MARKETS = ("DE", "FR", "ES")
NEW_MARKETS = ("PL", "IT", "NL")
MARKET_SHARE = (0.5, 0.3, 0.2)

# World ranges: abusers' mean shift on each predictive feature (latent sd units, risk direction).
SEPARATION_RANGE = (0.7, 1.0)
STRONG_SEPARATION_RANGE = (1.3, 1.6)   # the feature the update learnt to lean on (later hit by the concept shift)
BASE_PREVALENCE_RANGE = (0.07, 0.09)
PREVALENCE_RISE_RANGE = (1.6, 2.1)     # label shift: abuse odds after the shift, relative to before
NEW_MARKET_FINAL_SHARE = (0.25, 0.40)  # covariate shift: the new market's share of traffic by the last week
NEW_MARKET_OFFSET = (1.2, 1.8)         # ...and how far its customers sit from the others on one context feature
CONCEPT_AFTER = (-0.2, 0.1)            # concept shift: abusers' mean on the hit feature, as a share of before
DELAY_MEAN_RANGE = (1.2, 2.4)          # mean weeks before an instant refund is settled (at least 1)
V1_WEIGHT_ON_NEW_SIGNAL = 0.2          # v1 used the feature v2 leans on only lightly
CONTEXT_WEIGHT = 0.05                  # both models give context features a small weight
COVARIATE_WEEKS = (9, 14)              # the week a shift starts, drawn from these ranges (inclusive, exclusive)
LABEL_WEEKS = (9, 13)
CONCEPT_WEEKS = (9, 12)
RAMP_WEEKS = 3                         # the new market's traffic grows linearly over this many weeks


@dataclass(frozen=True)
class World:
    """The planted parameters of one seed."""

    seed: int
    separation: dict[str, float]      # abusers' mean latent shift per predictive feature
    base_prevalence: float
    prevalence_after: float
    label_week: int                   # label shift: prevalence changes from this week
    covariate_feature: str            # the context feature the new market differs on
    covariate_week: int               # the new market's traffic starts this week
    new_market: str
    new_market_share: float
    new_market_offset: float
    concept_feature: str              # the predictive feature whose meaning changes
    concept_week: int
    concept_after: float              # abusers' mean on it after the shift, as a share of before
    delay_mean: float                 # mean settlement delay of an instant refund, in weeks
    weights: dict[str, np.ndarray]    # latent weights per model version, in FEATURES order
    intercepts: dict[str, float]
    thresholds: dict[str, float]      # review when the score reaches this

    def prevalence(self, week: int) -> float:
        """The true share of abusive requests in `week`."""
        return self.prevalence_after if week >= self.label_week else self.base_prevalence

    def market_share(self, week: int) -> float:
        """The new market's share of traffic in `week`."""
        ramp = (week - self.covariate_week + 1) / RAMP_WEEKS
        return float(self.new_market_share * np.clip(ramp, 0.0, 1.0))

    def abuser_mean(self, week: int) -> np.ndarray:
        """Abusers' latent mean per feature (FEATURES order) in `week`; honest customers' is 0."""
        mean = np.array([self.separation.get(f, 0.0) for f in FEATURES])
        if week >= self.concept_week:
            mean[FEATURES.index(self.concept_feature)] *= self.concept_after
        return mean

    def delay_probabilities(self) -> np.ndarray:
        """P(an instant refund is settled d weeks after its request), d = 0..MAX_DELAY (never 0)."""
        extra = self.delay_mean - 1.0
        d = np.arange(MAX_DELAY + 1)
        p = np.where(d >= 1, (1 / (1 + extra)) * (extra / (1 + extra)) ** np.clip(d - 1, 0, None), 0.0)
        return p / p.sum()

    def version(self, week: int) -> str:
        """The model that serves in `week`."""
        return "v2" if week >= UPDATE_WEEK else "v1"


def share_above(cut: float, mean: float, spread: float) -> float:
    """Share of a normal law (mean, spread) above `cut`: scipy.stats.norm.sf(cut, mean, spread), to the bit, without
    its per-call overhead (the world's thresholds and the deploy's weekly harm call it hundreds of times)."""
    return ndtr((mean - cut) / spread)


def _score_latent(world_: World, version: str, z: np.ndarray) -> np.ndarray:
    return expit(z @ world_.weights[version] + world_.intercepts[version])


def world(seed: int) -> World:
    """The planted parameters for `seed`."""
    rng = np.random.default_rng([seed, 505])
    concept_feature = PREDICTIVE[rng.integers(len(PREDICTIVE))]
    separation = {f: float(rng.uniform(*(STRONG_SEPARATION_RANGE if f == concept_feature else SEPARATION_RANGE)))
                  for f in PREDICTIVE}
    base = float(rng.uniform(*BASE_PREVALENCE_RANGE))
    odds = base / (1 - base) * rng.uniform(*PREVALENCE_RISE_RANGE)
    concept_week = int(rng.integers(*CONCEPT_WEEKS))
    label_week = int(rng.choice([w for w in range(*LABEL_WEEKS) if w != concept_week]))
    covariate_week = int(rng.choice([w for w in range(*COVARIATE_WEEKS) if w not in (concept_week, label_week)]))
    covariate_feature = CONTEXT[rng.integers(len(CONTEXT))]
    new_market = NEW_MARKETS[rng.integers(len(NEW_MARKETS))]
    share, offset = float(rng.uniform(*NEW_MARKET_FINAL_SHARE)), float(rng.uniform(*NEW_MARKET_OFFSET))
    concept_after, delay_mean = float(rng.uniform(*CONCEPT_AFTER)), float(rng.uniform(*DELAY_MEAN_RANGE))
    mean = np.array([separation.get(f, 0.0) for f in FEATURES])
    context = np.array([CONTEXT_WEIGHT if f in CONTEXT else 0.0 for f in FEATURES])
    v2 = mean + context
    v1 = np.where(np.array(FEATURES) == concept_feature, V1_WEIGHT_ON_NEW_SIGNAL * mean, mean) + context
    weights = {"v1": v1, "v2": v2}
    intercepts = {v: float(np.log(base / (1 - base)) - 0.5 * w @ w) for v, w in weights.items()}
    partial = World(seed, separation, base, float(odds / (1 + odds)), label_week, covariate_feature, covariate_week,
                    new_market, share, offset, concept_feature, concept_week, concept_after, delay_mean, weights,
                    intercepts, {})
    # Each model's threshold sends REVIEW_RATE of pre-update traffic to review (solved on the normal mixture).
    thresholds = {}
    for version, w in weights.items():
        spread = float(np.sqrt(w @ w))
        reviewed = lambda cut: ((1 - base) * share_above(cut, 0.0, spread)
                                + base * share_above(cut, mean @ w, spread))
        cut = brentq(lambda c: reviewed(c) - REVIEW_RATE, -10 * spread, 10 * spread + 10)
        thresholds[version] = float(expit(cut + intercepts[version]))
    return World(**{**partial.__dict__, "thresholds": thresholds})


@dataclass(frozen=True)
class RefundTruth:
    """The planted answers of one draw."""

    abusive: np.ndarray            # per row of the concatenated logs (before, then after)
    world: World


def _natural_units(z: np.ndarray) -> dict[str, np.ndarray]:
    """Latent risk units to what the logs record (higher latent = riskier on predictive features)."""
    return {
        "account_age_days": np.round(np.exp(6.0 - 0.9 * z[:, 0]), 0),
        "prior_refund_rate": np.round(expit(-2.2 + 0.7 * z[:, 1]), 3),
        "hours_to_request": np.round(np.exp(3.6 - 0.8 * z[:, 2]), 1),
        "order_value": np.round(np.exp(4.0 + 0.6 * z[:, 3]), 2),
        "delivery_km": np.round(np.exp(3.0 + 0.7 * z[:, 4]), 1),
    }


def draw_weeks(world_: World, rng: np.random.Generator, weeks: range, n: int = REQUESTS_PER_WEEK,
               now: int = NOW_WEEK) -> tuple[pd.DataFrame, np.ndarray]:
    """Logged requests of `weeks` (n each) as read at the end of week `now`, with each row's true abuse flag."""
    week = np.repeat(np.array(list(weeks)), n)
    size = week.size
    abusive = rng.random(size) < np.array([world_.prevalence(w) for w in weeks]).repeat(n)
    new = rng.random(size) < np.array([world_.market_share(w) for w in weeks]).repeat(n)
    old_market = np.array(MARKETS)[rng.choice(len(MARKETS), size, p=MARKET_SHARE)]
    market = np.where(new, world_.new_market, old_market)
    means = np.stack([world_.abuser_mean(w) for w in weeks]).repeat(n, axis=0)
    z = rng.standard_normal((size, len(FEATURES))) + np.where(abusive[:, None], means, 0.0)
    z[:, FEATURES.index(world_.covariate_feature)] += np.where(new, world_.new_market_offset, 0.0)
    v2 = week >= UPDATE_WEEK
    score = np.where(v2, _score_latent(world_, "v2", z), _score_latent(world_, "v1", z))
    reviewed = score >= np.where(v2, world_.thresholds["v2"], world_.thresholds["v1"])
    delay = np.where(reviewed, 0, rng.choice(MAX_DELAY + 1, size=size, p=world_.delay_probabilities()))
    settled = week + delay <= now
    logs = pd.DataFrame({"week": week, "market": market, **_natural_units(z),
                         "model_version": np.where(v2, "v2", "v1"), "model_score": np.round(score, 4),
                         "reviewed": reviewed.astype(int),
                         "abuse": pd.array(np.where(settled, abusive.astype(int), 0), dtype="Int64"),
                         "settled_week": pd.array(week + delay, dtype="Int64")})
    logs.loc[~settled, ["abuse", "settled_week"]] = pd.NA
    return logs, abusive


def draw(world_: World, rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], RefundTruth]:
    """Sixteen weeks of logs from the world, split at the update; request ids run over both tables."""
    logs, abusive = draw_weeks(world_, rng, range(WEEKS))
    logs.insert(0, "request_id", [f"q{i:05d}" for i in range(1, len(logs) + 1)])
    before = logs[logs["week"] < UPDATE_WEEK].reset_index(drop=True)
    after = logs[logs["week"] >= UPDATE_WEEK].reset_index(drop=True)
    return {"refund_requests_before": before, "refund_requests_after": after}, RefundTruth(abusive, world_)


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], RefundTruth]:
    """The canonical draw for a seed: both module 05 tables, and the planted truth."""
    return draw(world(seed), np.random.default_rng(seed))


@lru_cache(maxsize=256)
def cached_world(seed: int) -> World:
    """world(seed), computed once per process (truth tests and deploy call it often)."""
    return world(seed)


# --- population quantities: what the truth tests and `deploy` compare against --------------------------------

def catch_rate(world_: World, version: str, week: int) -> float:
    """True share of abusive requests in `week` that `version` sends to review (exact, by the normal law)."""
    w, b, t = world_.weights[version], world_.intercepts[version], world_.thresholds[version]
    cut = np.log(t / (1 - t)) - b
    spread = float(np.sqrt(w @ w))
    mean = float(world_.abuser_mean(week) @ w)
    share = world_.market_share(week)
    shift = world_.new_market_offset * w[FEATURES.index(world_.covariate_feature)]
    return float((1 - share) * share_above(cut, mean, spread) + share * share_above(cut, mean + shift, spread))


def honest_review_rate(world_: World, version: str, week: int) -> float:
    """True share of honest requests in `week` that `version` holds for review."""
    w, b, t = world_.weights[version], world_.intercepts[version], world_.thresholds[version]
    cut = np.log(t / (1 - t)) - b
    spread = float(np.sqrt(w @ w))
    share = world_.market_share(week)
    shift = world_.new_market_offset * w[FEATURES.index(world_.covariate_feature)]
    return float((1 - share) * share_above(cut, 0.0, spread) + share * share_above(cut, shift, spread))


def weekly_harm(world_: World, version: str, week: int) -> dict[str, float]:
    """Per week at full volume under `version`: abusive refunds paid out instantly, honest customers held."""
    p = world_.prevalence(week)
    return {"abuse_missed": WEEKLY_VOLUME * p * (1 - catch_rate(world_, version, week)),
            "honest_held": WEEKLY_VOLUME * (1 - p) * honest_review_rate(world_, version, week)}


FAMILY = DatasetFamily("refund_requests", generate, CANONICAL_SEED,
                       ("refund_requests_before", "refund_requests_after"))
