"""Synthetic smart-reply logs for module 01 (failure boundaries).

A messaging app suggests one short reply under each incoming message. Each row is a message with
the features a PM would slice by, the model's confidence in its top suggestion, and a human
rater's 1-5 rating of that suggestion.

The seed first draws a `World`: the planted parameters (which languages' code-switched messages
fail, by how much, how overconfident the model is on them). `draw` then samples messages from
that world. `slice_truth` computes a world's population quantities exactly (by quadrature), for
the truth tests and for deploying a learner's decisions. Nothing of the world is written to a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit as logit_of
from scipy.stats import norm

from aipmlab.datasets.family import DatasetFamily

LANGUAGES = ("English", "Spanish", "Hindi", "Portuguese", "French")
LANGUAGE_SHARE = (0.52, 0.20, 0.16, 0.09, 0.03)
CODE_SWITCH_RATE = {"English": 0.04, "Spanish": 0.22, "Hindi": 0.45, "Portuguese": 0.10, "French": 0.10}
# Languages whose code-switched slice is large enough that a severe failure there shows with evidence.
LARGE_CODE_SWITCH = ("English", "Spanish", "Hindi")

LENGTH_BANDS = ("short", "medium", "long")
LENGTH_BAND_SHARE = (0.35, 0.45, 0.20)
LENGTH_TOKENS = {"short": (1, 5), "medium": (6, 20), "long": (21, 60)}
EMOJI_LEVELS = ("none", "some", "heavy")
# Emoji-heavy messages are mostly short: the confounder a careless analysis falls for.
EMOJI_GIVEN_LENGTH = {"short": (0.30, 0.30, 0.40), "medium": (0.60, 0.32, 0.08), "long": (0.75, 0.22, 0.03)}
EMOJI_COUNT = {"none": (0, 0), "some": (1, 2), "heavy": (3, 8)}

# Log-odds of a good suggestion: fixed structure shared by every world.
LENGTH_EFFECT = {"short": 3.0, "medium": 1.7, "long": 0.5}
EMOJI_EFFECT = {"none": 0.0, "some": -0.2, "heavy": -0.7}
DIFFICULTY_SD = 1.0
# The model's confidence sees part of a message's difficulty (signal x logit + noise).
CONFIDENCE_SIGNAL = 0.8
CONFIDENCE_NOISE_SD = 0.5

# What a world draws, and from where: severe and mild code-switch effects, language effects, overconfidence.
SEVERE_CODE_SWITCH = (-2.2, -1.5)
MILD_CODE_SWITCH = (-0.7, -0.2)
LANGUAGE_EFFECT_RANGE = (-0.35, 0.0)
OVERCONFIDENCE_RANGE = (0.9, 1.5)

# Paired perturbations of English messages: the planted drop in log-odds each one causes.
PERTURBATION_EFFECT = {"punctuation_added": 0.0, "emoji_added": -0.9, "code_switch_added": -1.6}
PAIRS_PER_PERTURBATION = 250
# Share of pairs whose second rating is drawn afresh: rater noise that any edit shows.
RATER_REDRAW_RATE = 0.15

CANONICAL_SEED = 2024
MESSAGE_COUNT = 6000
_WORLD_STREAM = 1  # the world comes from its own random stream, so a draw never shifts it


@dataclass(frozen=True)
class World:
    """The planted parameters of one seed: effects on the log-odds of a good suggestion, and overconfidence."""

    seed: int
    language_effect: dict[str, float]
    code_switch_effect: dict[str, float]
    failing_code_switch: tuple[str, ...]   # languages whose code-switched slice is planted to fail
    overconfidence: float                  # added to the confidence logit on code-switched messages


@dataclass(frozen=True)
class SmartReplyTruth:
    """The planted answers of one draw: its world, and the true probability of a good suggestion."""

    world: World
    message_good_probability: np.ndarray
    pair_good_probability_before: np.ndarray
    pair_good_probability_after: np.ndarray


def slice_name(language: str, code_switched: bool) -> str:
    """The slice label used throughout module 01, e.g. 'Hindi' or 'Hindi + code-switch'."""
    return f"{language} + code-switch" if code_switched else language


def world(seed: int) -> World:
    """The planted parameters for `seed`: one or two languages fail badly when code-switched."""
    rng = np.random.default_rng((seed, _WORLD_STREAM))
    first = str(rng.choice(LARGE_CODE_SWITCH))
    second = [str(rng.choice([l for l in LANGUAGES if l != first]))] if rng.random() < 0.6 else []
    failing = tuple(sorted([first, *second]))
    code_switch = {l: float(rng.uniform(*(SEVERE_CODE_SWITCH if l in failing else MILD_CODE_SWITCH)))
                   for l in LANGUAGES}
    language = {l: 0.0 if l == "English" else float(rng.uniform(*LANGUAGE_EFFECT_RANGE)) for l in LANGUAGES}
    return World(seed, language, code_switch, failing, float(rng.uniform(*OVERCONFIDENCE_RANGE)))


def _draw_features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    language = rng.choice(LANGUAGES, size=n, p=LANGUAGE_SHARE)
    code_switched = rng.random(n) < pd.Series(language).map(CODE_SWITCH_RATE).to_numpy()
    length_band = rng.choice(LENGTH_BANDS, size=n, p=LENGTH_BAND_SHARE)
    emoji_level = np.empty(n, dtype=object)
    for band in LENGTH_BANDS:
        rows = length_band == band
        emoji_level[rows] = rng.choice(EMOJI_LEVELS, size=rows.sum(), p=EMOJI_GIVEN_LENGTH[band])
    token_low, token_high = (pd.Series(length_band).map({b: r[i] for b, r in LENGTH_TOKENS.items()}).to_numpy()
                             for i in (0, 1))
    emoji_low, emoji_high = (pd.Series(emoji_level).map({e: r[i] for e, r in EMOJI_COUNT.items()}).to_numpy()
                             for i in (0, 1))
    return pd.DataFrame({
        "language": language,
        "code_switched": code_switched,
        "length_tokens": rng.integers(token_low, token_high, endpoint=True),
        "length_band": length_band,
        "emoji_count": rng.integers(emoji_low, emoji_high, endpoint=True),
        "emoji_level": emoji_level.astype(str),
    })


def _structural_logit(the_world: World, frame: pd.DataFrame) -> np.ndarray:
    logit = (frame["length_band"].map(LENGTH_EFFECT).to_numpy()
             + frame["emoji_level"].map(EMOJI_EFFECT).to_numpy()
             + frame["language"].map(the_world.language_effect).to_numpy())
    switch = frame["language"].map(the_world.code_switch_effect).to_numpy()
    return logit + np.where(frame["code_switched"].to_numpy(), switch, 0.0)


def _confidence(rng: np.random.Generator, logit: np.ndarray, code_switched: np.ndarray,
                overconfidence: float) -> np.ndarray:
    seen = CONFIDENCE_SIGNAL * logit + rng.normal(0.0, CONFIDENCE_NOISE_SD, logit.size)
    return np.round(expit(seen + np.where(code_switched, overconfidence, 0.0)), 3)


def _ratings(rng: np.random.Generator, good: np.ndarray) -> np.ndarray:
    """Map good / not good to a 1-5 rating: good is 4 or 5, not good is 1, 2 or 3."""
    good_rating = rng.choice([4, 5], size=good.size, p=[0.55, 0.45])
    bad_rating = rng.choice([1, 2, 3], size=good.size, p=[0.25, 0.30, 0.45])
    return np.where(good, good_rating, bad_rating)


def draw_messages(the_world: World, rng: np.random.Generator, n: int = MESSAGE_COUNT) -> tuple[pd.DataFrame, np.ndarray]:
    """`n` rated messages from `the_world`, and each one's true probability of a good suggestion."""
    messages = _draw_features(rng, n)
    logit = _structural_logit(the_world, messages) + rng.normal(0.0, DIFFICULTY_SD, n)
    probability = expit(logit)
    good = rng.random(n) < probability
    messages.insert(0, "message_id", [f"m{i:05d}" for i in range(1, n + 1)])
    messages.insert(3, "slice", [slice_name(l, c) for l, c in zip(messages["language"], messages["code_switched"])])
    messages["confidence"] = _confidence(rng, logit, messages["code_switched"].to_numpy(), the_world.overconfidence)
    messages["rating"] = _ratings(rng, good)
    return messages, probability


def draw(the_world: World, rng: np.random.Generator, n: int = MESSAGE_COUNT) -> tuple[dict[str, pd.DataFrame], SmartReplyTruth]:
    """Both module 01 tables drawn from `the_world`: {file name: table} and the planted truth of this draw."""
    messages, probability = draw_messages(the_world, rng, n)
    pairs, before, after = _draw_pairs(rng, the_world)
    truth = SmartReplyTruth(the_world, probability, before, after)
    return {"smart_reply_messages": messages, "smart_reply_invariance": pairs}, truth


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], SmartReplyTruth]:
    """The canonical draw for `seed`: both module 01 tables and the planted truth."""
    return draw(world(seed), np.random.default_rng(seed))


def _draw_pairs(rng: np.random.Generator, the_world: World) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """English messages rated twice: as sent, and after one controlled edit."""
    n = PAIRS_PER_PERTURBATION * len(PERTURBATION_EFFECT)
    base = _draw_features(rng, n)
    base["language"] = "English"
    base["code_switched"] = False
    base["emoji_level"] = "none"
    base["emoji_count"] = 0
    perturbation = np.repeat(list(PERTURBATION_EFFECT), PAIRS_PER_PERTURBATION)
    logit_before = _structural_logit(the_world, base) + rng.normal(0.0, DIFFICULTY_SD, n)
    logit_after = logit_before + pd.Series(perturbation).map(PERTURBATION_EFFECT).to_numpy()
    before, after = expit(logit_before), expit(logit_after)
    # One shared uniform per pair: an edit that does not matter cannot flip the rating by chance.
    uniform = rng.random(n)
    rerated = rng.random(n) < RATER_REDRAW_RATE
    good_before = uniform < before
    good_after = np.where(rerated, rng.random(n) < after, uniform < after)
    switched = perturbation == "code_switch_added"
    pairs = pd.DataFrame({
        "pair_id": [f"p{i:04d}" for i in range(1, n + 1)],
        "perturbation": perturbation,
        "length_band": base["length_band"],
        "length_tokens": base["length_tokens"],
        "confidence_original": _confidence(rng, logit_before, np.zeros(n, dtype=bool), the_world.overconfidence),
        "confidence_perturbed": _confidence(rng, logit_after, switched, the_world.overconfidence),
        "rating_original": _ratings(rng, good_before),
        "rating_perturbed": _ratings(rng, good_after),
    })
    return pairs, before, after


# --- Population quantities, computed exactly from a world --------------------------------------

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(48)  # E[f(Z)], Z ~ N(0, 1), by Gauss-Hermite quadrature
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def cells(the_world: World) -> pd.DataFrame:
    """Every (language, code_switched, length_band, emoji_level) cell: its share of traffic and mean log-odds."""
    rows = []
    for language, language_share in zip(LANGUAGES, LANGUAGE_SHARE):
        for switched in (False, True):
            switch_share = CODE_SWITCH_RATE[language] if switched else 1 - CODE_SWITCH_RATE[language]
            for band, band_share in zip(LENGTH_BANDS, LENGTH_BAND_SHARE):
                for level, level_share in zip(EMOJI_LEVELS, EMOJI_GIVEN_LENGTH[band]):
                    rows.append((language, switched, slice_name(language, switched), band, level,
                                 language_share * switch_share * band_share * level_share))
    frame = pd.DataFrame(rows, columns=["language", "code_switched", "slice", "length_band", "emoji_level", "share"])
    frame["logit"] = _structural_logit(the_world, frame)
    return frame


def cell_truth(the_world: World, thresholds: np.ndarray | list[float] = (0.0,)) -> pd.DataFrame:
    """Per cell and threshold t: share of traffic, and the true share shown (confidence >= t) and shown-and-good."""
    frame = cells(the_world)
    thresholds = np.asarray(thresholds, dtype=float)
    logit = frame["logit"].to_numpy()[:, None, None] + DIFFICULTY_SD * _NODES[None, :, None]
    offset = np.where(frame["code_switched"].to_numpy(), the_world.overconfidence, 0.0)[:, None, None]
    # confidence is rounded to 3 decimals, so `confidence >= t` means the unrounded score >= t - 0.0005
    cut = logit_of(np.clip(thresholds - 0.0005, 1e-12, 1 - 1e-12))[None, None, :]
    shown = np.where(thresholds[None, None, :] <= 0, 1.0,
                     norm.sf((cut - CONFIDENCE_SIGNAL * logit - offset) / CONFIDENCE_NOISE_SD))
    good = expit(logit)
    shown_share = (shown * _WEIGHTS[None, :, None]).sum(axis=1)
    shown_good = (shown * good * _WEIGHTS[None, :, None]).sum(axis=1)
    out = frame.drop(columns="logit").loc[np.tile(frame.index, len(thresholds))].reset_index(drop=True)
    out["threshold"] = np.repeat(thresholds, len(frame))
    out["shown"] = shown_share.T.ravel()
    out["shown_good"] = shown_good.T.ravel()
    return out


def slice_truth(the_world: World, thresholds: np.ndarray | list[float] = (0.0,), by: str | list[str] = "slice",
                cell_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """True coverage and shown good rate per group (default: per slice) and threshold; threshold 0 gives the good rate.

    Pass `cell_table` (from `cell_truth`) to reuse one computation for several groupings."""
    table = cell_truth(the_world, thresholds) if cell_table is None else cell_table
    keys = [by] if isinstance(by, str) else list(by)
    masses = pd.DataFrame({"share": table["share"], "shown_mass": table["share"] * table["shown"],
                           "good_mass": table["share"] * table["shown_good"]})
    grouped = masses.groupby([table[key] for key in [*keys, "threshold"]]).sum()
    return pd.DataFrame({"traffic_share": grouped["share"],
                         "coverage": grouped["shown_mass"] / grouped["share"],
                         "shown_good_rate": grouped["good_mass"] / grouped["shown_mass"]})


FAMILY = DatasetFamily("smart_reply", generate, CANONICAL_SEED, ("smart_reply_messages", "smart_reply_invariance"))
