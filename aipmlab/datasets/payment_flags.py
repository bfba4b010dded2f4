"""Synthetic payment-fraud flags for module 04 (success metrics beyond accuracy): a world, then draws from it.

A payments app holds a payment for review when its fraud model's score reaches a threshold. Two tables:
scored payments from two markets, each labelled later by whether it turned into a chargeback (fraud),
and the logs of a pilot in which half of the users had the model switched on.

The *world* (`world(seed)`) holds what is planted, and none of it reaches a file: each market's fraud
rate (which market is the low-prevalence one varies with the seed), how well the model separates fraud
from good payments, how its score is miscalibrated (trained on the launch market, it carries that
market's base rate into the other, so it overstates risk where fraud is rare; and it is too sure of
itself or too timid, which varies with the seed), the pilot's effect on fraud losses, and the one
guardrail metric the pilot hurts (which one varies with the seed). A *draw*
(`draw(world, rng, ...)`) samples payments and pilot users. `generate(seed)` is the canonical draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from aipmlab.datasets.family import DatasetFamily

CANONICAL_SEED = 2024
MARKETS = ("north", "south")
PAYMENTS_PER_MARKET = 8000            # half in the tuning split, half in the test split
SPLITS = ("tune", "test")
PILOT_USERS_PER_ARM = 5000
ARMS = ("control", "treatment")
GUARDRAILS = ("checkout_completion", "support_contact", "retention_30d")

# Fraud rates: one market is low-prevalence, the other several times higher (which is which: per seed).
LOW_PREVALENCE = (0.008, 0.014)
HIGH_PREVALENCE = (0.04, 0.07)
# Separation of fraud from good payments on the model's hidden risk signal (a shift in standard deviations).
SEPARATION = (2.0, 2.5)
# Miscalibration of the score. The model was trained on the launch market (the high-prevalence one), so it
# carries that market's base rate everywhere: logit(score) = temperature x (logit(true risk) - logit(market's
# rate) + logit(launch market's rate)) + a small launch-market offset. Whether it is too sure of itself
# (temperature above 1) or too timid (below 1) varies with the seed.
TOO_SURE = (1.3, 1.6)
TOO_TIMID = (0.62, 0.78)
LAUNCH_OFFSET = (-0.15, 0.15)

# The pilot: per user over four weeks. Control has the old rules, treatment the model at the team's threshold.
FRAUD_HIT_RATE = (0.035, 0.05)        # share of control users who suffer a fraudulent payment
FRAUD_LOSS_MEAN = 150.0               # dollars per fraudulent payment (gamma, shape 2)
FRAUD_REDUCTION = (0.55, 0.75)        # share of that fraud the model stops
GUARDRAIL_BASE = {"checkout_completion": 0.80, "support_contact": 0.06, "retention_30d": 0.70}
# The guardrail the pilot hurts moves by this much (in the harmful direction); the others do not move.
GUARDRAIL_HARM = {"checkout_completion": (0.04, 0.06), "support_contact": (0.025, 0.04),
                  "retention_30d": (0.04, 0.06)}
HARMFUL_SIGN = {"checkout_completion": -1, "support_contact": 1, "retention_30d": -1}


@dataclass(frozen=True)
class World:
    """The planted parameters of one seed."""

    seed: int
    prevalence: dict[str, float]      # each market's true fraud rate
    separation: float
    temperature: float                # above 1: the score is too sure of itself; below 1: too timid
    launch_offset: float
    fraud_hit_rate: float
    fraud_reduction: float
    hurt_guardrail: str
    guardrail_harm: float             # size of the harm, in the harmful direction

    @property
    def low_prevalence_market(self) -> str:
        """The market with the lower fraud rate."""
        return min(self.prevalence, key=self.prevalence.get)

    @property
    def launch_market(self) -> str:
        """The market the model was trained and piloted in (the higher fraud rate)."""
        return max(self.prevalence, key=self.prevalence.get)

    def score_logit(self, market: str, risk_logit: np.ndarray) -> np.ndarray:
        """logit(score) of payments with true log-odds `risk_logit` in `market`."""
        prior_gap = logit(self.prevalence[self.launch_market]) - logit(self.prevalence[market])
        return self.temperature * (risk_logit + prior_gap) + self.launch_offset


@dataclass(frozen=True)
class PaymentFlagsTruth:
    """The planted answers of one draw: each payment's true fraud probability, and the world."""

    risk: np.ndarray                  # true probability of fraud of each scored payment, in table order
    world: World


def world(seed: int) -> World:
    """The planted parameters for `seed`."""
    rng = np.random.default_rng([seed, 404])
    low = MARKETS[rng.integers(2)]
    prevalence = {m: float(rng.uniform(*(LOW_PREVALENCE if m == low else HIGH_PREVALENCE))) for m in MARKETS}
    temperature = float(rng.uniform(*(TOO_SURE if rng.random() < 0.5 else TOO_TIMID)))
    offset = float(rng.uniform(*LAUNCH_OFFSET))
    hurt = GUARDRAILS[rng.integers(len(GUARDRAILS))]
    return World(seed, prevalence, float(rng.uniform(*SEPARATION)), temperature, offset,
                 float(rng.uniform(*FRAUD_HIT_RATE)), float(rng.uniform(*FRAUD_REDUCTION)), hurt,
                 float(rng.uniform(*GUARDRAIL_HARM[hurt])))


@lru_cache(maxsize=256)
def cached_world(seed: int) -> World:
    """world(seed), computed once per process (truth tests and deploy call it often)."""
    return world(seed)


def fresh_rng(seed: int, purpose: str) -> np.random.Generator:
    """A generator for fresh draws from the world of `seed`, independent of the learner's own draw."""
    return np.random.default_rng([seed, sum(map(ord, purpose)) + 20_000])


def draw_payments(world_: World, rng: np.random.Generator, market: str, n: int) -> tuple[np.ndarray, ...]:
    """`n` payments of one market: (is_fraud, true risk, score), vectorised."""
    prevalence, shift = world_.prevalence[market], world_.separation
    fraud = rng.random(n) < prevalence
    signal = rng.normal(0.0, 1.0, n) + shift * fraud
    risk_logit = logit(prevalence) + shift * signal - shift**2 / 2
    score = expit(world_.score_logit(market, risk_logit))
    return fraud, expit(risk_logit), score


def draw_pilot(world_: World, rng: np.random.Generator, users_per_arm: int = PILOT_USERS_PER_ARM) -> pd.DataFrame:
    """The pilot's users: arm, fraud losses and the three guardrail outcomes, one row per user."""
    arm = np.repeat(ARMS, users_per_arm)
    treated = arm == "treatment"
    n = arm.size
    hit = rng.random(n) < world_.fraud_hit_rate * np.where(treated, 1 - world_.fraud_reduction, 1.0)
    loss = np.where(hit, rng.gamma(2.0, FRAUD_LOSS_MEAN / 2, n), 0.0)
    columns = {"arm": arm, "fraud_loss": np.round(loss, 2)}
    for name in GUARDRAILS:
        rate = GUARDRAIL_BASE[name] + np.where(treated & (name == world_.hurt_guardrail),
                                               HARMFUL_SIGN[name] * world_.guardrail_harm, 0.0)
        columns[name] = (rng.random(n) < rate).astype(int)
    order = rng.permutation(n)
    pilot = pd.DataFrame({name: np.asarray(values)[order] for name, values in columns.items()})
    pilot.insert(0, "user_id", [f"u{i:05d}" for i in range(1, n + 1)])
    return pilot


def draw(world_: World, rng: np.random.Generator, per_market: int = PAYMENTS_PER_MARKET
         ) -> tuple[dict[str, pd.DataFrame], PaymentFlagsTruth]:
    """Both module 04 tables drawn from `world_`, and the draw's truth."""
    frames, risks = [], []
    for market in MARKETS:
        fraud, risk, score = draw_payments(world_, rng, market, per_market)
        split = np.where(np.arange(per_market) < per_market // 2, SPLITS[0], SPLITS[1])
        frames.append(pd.DataFrame({"market": market, "split": split, "score": np.round(score, 4),
                                    "is_fraud": fraud.astype(int)}))
        risks.append(risk)
    payments = pd.concat(frames, ignore_index=True)
    risk = np.concatenate(risks)
    order = rng.permutation(len(payments))
    payments, risk = payments.iloc[order].reset_index(drop=True), risk[order]
    payments.insert(0, "payment_id", [f"p{i:05d}" for i in range(1, len(payments) + 1)])
    tables = {"payment_flags_scored": payments, "payment_flags_pilot": draw_pilot(world_, rng)}
    return tables, PaymentFlagsTruth(risk, world_)


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], PaymentFlagsTruth]:
    """The canonical draw for a seed: both module 04 tables, and the planted truth."""
    return draw(world(seed), np.random.default_rng(seed))


# --- population quantities: what the truth tests and `deploy` compare against --------------------------------

FRESH_PAYMENTS = 100_000  # per market: pins expected cost per 1,000 payments to a few cents


@lru_cache(maxsize=256)
def fresh_payments(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per market, fresh payments' (true risk, score), rounded as in the files; never the learner's draw."""
    world_ = cached_world(seed)
    rng = fresh_rng(seed, "deploy")
    fresh = {}
    for market in MARKETS:
        _, risk, score = draw_payments(world_, rng, market, FRESH_PAYMENTS)
        fresh[market] = (risk, np.round(score, 4))
    return fresh


def expected_errors(risk: np.ndarray, blocked: np.ndarray) -> tuple[float, float]:
    """Expected good payments blocked and frauds let through, per 1,000 payments."""
    return (float(1000 * ((1 - risk) * blocked).mean()), float(1000 * (risk * ~blocked).mean()))


def deployed_cost(seed: int, thresholds: dict[str, float], cost_fp: float, cost_fn: float) -> pd.DataFrame:
    """Per market: expected cost per 1,000 payments of blocking at `thresholds` on the score, and in hindsight."""
    rows = {}
    for market, (risk, score) in fresh_payments(seed).items():
        blocked_fp, passed_fn = expected_errors(risk, score >= thresholds[market])
        best_fp, best_fn = expected_errors(risk, risk >= cost_fp / (cost_fp + cost_fn))
        rows[market] = {"threshold": thresholds[market], "good_blocked": blocked_fp, "fraud_passed": passed_fn,
                        "cost": cost_fp * blocked_fp + cost_fn * passed_fn,
                        "best_cost": cost_fp * best_fp + cost_fn * best_fn}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("market")


FAMILY = DatasetFamily("payment_flags", generate, CANONICAL_SEED, ("payment_flags_scored", "payment_flags_pilot"))
