"""Synthetic smart-reply logs for module 01 (failure boundaries).

A messaging app suggests one short reply under each incoming message. Each row is a message with
the features a PM would slice by, the model's confidence in its top suggestion, and a human
rater's 1-5 rating of that suggestion. The planted structure (which slices fail, how emoji and
length are confounded, how perturbations flip quality) lives in `SmartReplyTruth` and in the
constants below; it is never written to a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aipmlab.datasets.family import DatasetFamily

LANGUAGES = ("English", "Spanish", "Hindi", "Portuguese", "French")
LANGUAGE_SHARE = (0.52, 0.20, 0.16, 0.09, 0.03)
CODE_SWITCH_RATE = {"English": 0.04, "Spanish": 0.22, "Hindi": 0.45, "Portuguese": 0.10, "French": 0.10}

LENGTH_BANDS = ("short", "medium", "long")
LENGTH_BAND_SHARE = (0.35, 0.45, 0.20)
LENGTH_TOKENS = {"short": (1, 5), "medium": (6, 20), "long": (21, 60)}
EMOJI_LEVELS = ("none", "some", "heavy")
# Emoji-heavy messages are mostly short: this is the confounder a careless analysis falls for.
EMOJI_GIVEN_LENGTH = {"short": (0.30, 0.30, 0.40), "medium": (0.60, 0.32, 0.08), "long": (0.75, 0.22, 0.03)}
EMOJI_COUNT = {"none": (0, 0), "some": (1, 2), "heavy": (3, 8)}

# Log-odds of a good suggestion, by feature.
LENGTH_EFFECT = {"short": 3.0, "medium": 1.7, "long": 0.5}
EMOJI_EFFECT = {"none": 0.0, "some": -0.2, "heavy": -0.7}
LANGUAGE_EFFECT = {"English": 0.0, "Spanish": -0.15, "Hindi": -0.3, "Portuguese": -0.2, "French": -0.25}
CODE_SWITCH_EFFECT = {"English": -0.8, "Spanish": -1.2, "Hindi": -2.0, "Portuguese": -0.8, "French": -0.8}
DIFFICULTY_SD = 1.0
# The model's confidence sees part of a message's difficulty, and is overconfident on code-switching.
CONFIDENCE_SIGNAL = 0.8
CONFIDENCE_NOISE_SD = 0.5
CONFIDENCE_OVERCONFIDENCE_CODE_SWITCH = 1.2

# Paired perturbations of English messages: the planted drop in log-odds each one causes.
PERTURBATION_EFFECT = {"punctuation_added": 0.0, "emoji_added": -0.9, "code_switch_added": -1.6}
PAIRS_PER_PERTURBATION = 250
# Share of pairs whose second rating is drawn afresh: rater noise that any edit shows.
RATER_REDRAW_RATE = 0.15

CANONICAL_SEED = 2024
MESSAGE_COUNT = 6000


@dataclass(frozen=True)
class SmartReplyTruth:
    """The planted answers: true probability of a good suggestion per message and per pair."""

    message_good_probability: np.ndarray
    pair_good_probability_before: np.ndarray
    pair_good_probability_after: np.ndarray


def slice_name(language: str, code_switched: bool) -> str:
    """The slice label used throughout module 01, e.g. 'Hindi' or 'Hindi + code-switch'."""
    return f"{language} + code-switch" if code_switched else language


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ratings(rng: np.random.Generator, good: np.ndarray) -> np.ndarray:
    """Map good / not good to a 1-5 rating: good is 4 or 5, not good is 1, 2 or 3."""
    good_rating = rng.choice([4, 5], size=good.size, p=[0.55, 0.45])
    bad_rating = rng.choice([1, 2, 3], size=good.size, p=[0.25, 0.30, 0.45])
    return np.where(good, good_rating, bad_rating)


def _draw_messages(rng: np.random.Generator, n: int) -> pd.DataFrame:
    language = rng.choice(LANGUAGES, size=n, p=LANGUAGE_SHARE)
    code_switched = rng.random(n) < np.vectorize(CODE_SWITCH_RATE.get)(language)
    length_band = rng.choice(LENGTH_BANDS, size=n, p=LENGTH_BAND_SHARE)
    emoji_level = np.empty(n, dtype=object)
    for band in LENGTH_BANDS:
        rows = length_band == band
        emoji_level[rows] = rng.choice(EMOJI_LEVELS, size=rows.sum(), p=EMOJI_GIVEN_LENGTH[band])
    length_tokens = np.array([rng.integers(*LENGTH_TOKENS[b], endpoint=True) for b in length_band])
    emoji_count = np.array([rng.integers(*EMOJI_COUNT[e], endpoint=True) for e in emoji_level])
    return pd.DataFrame(
        {
            "language": language,
            "code_switched": code_switched,
            "length_tokens": length_tokens,
            "length_band": length_band,
            "emoji_count": emoji_count,
            "emoji_level": emoji_level.astype(str),
        }
    )


def _structural_logit(frame: pd.DataFrame) -> np.ndarray:
    logit = (
        frame["length_band"].map(LENGTH_EFFECT).to_numpy()
        + frame["emoji_level"].map(EMOJI_EFFECT).to_numpy()
        + frame["language"].map(LANGUAGE_EFFECT).to_numpy()
    )
    switch = frame["language"].map(CODE_SWITCH_EFFECT).to_numpy()
    return logit + np.where(frame["code_switched"].to_numpy(), switch, 0.0)


def _confidence(rng: np.random.Generator, logit: np.ndarray, code_switched: np.ndarray) -> np.ndarray:
    seen = CONFIDENCE_SIGNAL * logit + rng.normal(0.0, CONFIDENCE_NOISE_SD, logit.size)
    seen += np.where(code_switched, CONFIDENCE_OVERCONFIDENCE_CODE_SWITCH, 0.0)
    return np.round(_sigmoid(seen), 3)


def generate(seed: int = CANONICAL_SEED) -> tuple[dict[str, pd.DataFrame], SmartReplyTruth]:
    """Build both module 01 tables from a seed; returns {file name: table} and the planted truth."""
    rng = np.random.default_rng(seed)
    messages = _draw_messages(rng, MESSAGE_COUNT)
    logit = _structural_logit(messages) + rng.normal(0.0, DIFFICULTY_SD, MESSAGE_COUNT)
    probability = _sigmoid(logit)
    good = rng.random(MESSAGE_COUNT) < probability
    messages.insert(0, "message_id", [f"m{i:05d}" for i in range(1, MESSAGE_COUNT + 1)])
    messages.insert(3, "slice", [slice_name(l, c) for l, c in zip(messages["language"], messages["code_switched"])])
    messages["confidence"] = _confidence(rng, logit, messages["code_switched"].to_numpy())
    messages["rating"] = _ratings(rng, good)

    pairs, before, after = _draw_pairs(rng)
    truth = SmartReplyTruth(probability, before, after)
    return {"smart_reply_messages": messages, "smart_reply_invariance": pairs}, truth


def _draw_pairs(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """English messages rated twice: as sent, and after one controlled edit."""
    n = PAIRS_PER_PERTURBATION * len(PERTURBATION_EFFECT)
    base = _draw_messages(rng, n)
    base["language"] = "English"
    base["code_switched"] = False
    base["emoji_level"] = "none"
    base["emoji_count"] = 0
    perturbation = np.repeat(list(PERTURBATION_EFFECT), PAIRS_PER_PERTURBATION)
    logit_before = _structural_logit(base) + rng.normal(0.0, DIFFICULTY_SD, n)
    logit_after = logit_before + np.vectorize(PERTURBATION_EFFECT.get)(perturbation)
    before, after = _sigmoid(logit_before), _sigmoid(logit_after)
    # One shared uniform per pair: an edit that does not matter cannot flip the rating by chance.
    draw = rng.random(n)
    rerated = rng.random(n) < RATER_REDRAW_RATE
    good_before = draw < before
    good_after = np.where(rerated, rng.random(n) < after, draw < after)
    pairs = pd.DataFrame(
        {
            "pair_id": [f"p{i:04d}" for i in range(1, n + 1)],
            "perturbation": perturbation,
            "length_band": base["length_band"],
            "length_tokens": base["length_tokens"],
            "confidence_original": _confidence(rng, logit_before, np.zeros(n, dtype=bool)),
            "confidence_perturbed": _confidence(rng, logit_after, perturbation == "code_switch_added"),
            "rating_original": _ratings(rng, good_before),
            "rating_perturbed": _ratings(rng, good_after),
        }
    )
    return pairs, before, after


FAMILY = DatasetFamily("smart_reply", generate, CANONICAL_SEED, ("smart_reply_messages", "smart_reply_invariance"))
