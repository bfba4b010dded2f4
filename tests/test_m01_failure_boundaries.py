"""Module 01 specifics: deploying the threshold decision, the comparison tolerance, and the strong example's figures."""

from __future__ import annotations

import re

import numpy as np
import pytest

from aipmlab import answer_key
from aipmlab.exercises.core import DataSource, State, judge
from aipmlab.exercises import m01_failure_boundaries as m01
from tests.conftest import OTHER_SEEDS

KEY = answer_key.load("m01_failure_boundaries")
SEEDS = (2024, *OTHER_SEEDS)


@pytest.mark.parametrize("seed", SEEDS)
def test_deployed_reference_thresholds_keep_the_floor_and_beat_absurd_ones(seed):
    data = DataSource(seed)
    reference = KEY.trigger_thresholds(data)
    outcome = m01.deploy_thresholds(reference, seed)
    shown = outcome.table["true_shown_good_rate"].dropna()
    assert (shown >= m01.QUALITY_FLOOR).all()
    everything = reference.assign(threshold=0.0, coverage=1.0)
    nothing = reference.assign(threshold=np.nan, coverage=0.0)
    for absurd in (everything, nothing):
        assert m01.deploy_thresholds(absurd, seed).regret > outcome.regret + 0.15
    assert outcome.regret < 0.25 and str(round(100 * outcome.regret, 1)) in outcome.summary


def test_answers_rounded_to_four_decimals_pass_and_material_errors_fail():
    data = DataSource()
    for key in ("overall_quality", "slice_quality", "confirmed_boundary", "emoji_quality", "trigger_thresholds",
                "invariance"):
        exercise = m01.MODULE.exercise(key)
        expected = getattr(KEY, key)(data)
        rounded = ({k: round(v, 4) for k, v in expected.items()} if isinstance(expected, dict)
                   else expected.round(4))
        assert judge(exercise, rounded, data, expected, True).state is State.CORRECT, key
        column = "good_rate" if key != "emoji_quality" else "adjusted_good_rate"
        column = {"trigger_thresholds": "coverage", "invariance": "flip_rate",
                  "confirmed_boundary": "explore_good_rate"}.get(key, column)
        if isinstance(expected, dict):
            wrong = {**expected, column: expected[column] + 0.002}
        else:
            wrong = expected.copy()
            wrong.iloc[0, wrong.columns.get_loc(column)] = min(1.0, wrong[column].iloc[0] + 0.002)
        assert judge(exercise, wrong, data, expected, True).state is State.INCORRECT, key


def test_strong_example_quotes_the_canonical_figures():
    text = answer_key.strong_example(KEY, "boundary_statement")
    data = DataSource()
    overall, slices = KEY.overall_quality(data), KEY.slice_quality(data)
    emoji, pairs, thresholds = KEY.emoji_quality(data), KEY.invariance(data), KEY.trigger_thresholds(data)
    evidence = KEY.launch_evidence(data)
    messages = data.load("smart_reply_messages")
    messages["good"] = messages["rating"] >= m01.GOOD_RATING
    heavy = messages[messages["emoji_level"] == "heavy"].groupby("length_band")["good"].agg(["mean", "size"])
    shown = thresholds.dropna()
    confirmed = KEY.confirmed_boundary(data)
    long_messages = messages.loc[messages["length_band"] == "long", "good"]
    figures = [
        f"{overall['good_rate']:.1%}", f"{overall['ci_low']:.1%}", f"{overall['ci_high']:.1%}", f"n={overall['n']}",
        f"Hindi with code-switching ({slices.loc['Hindi + code-switch', 'good_rate']:.0%}, "
        f"n={slices.loc['Hindi + code-switch', 'n']})",
        f"English with code-switching ({slices.loc['English + code-switch', 'good_rate']:.0%}, "
        f"n={slices.loc['English + code-switch', 'n']})",
        f"only {slices.loc['French + code-switch', 'n']} ratings",
        f"receive {emoji.loc['heavy', 'raw_good_rate']:.0%}", f"fall to {emoji.loc['heavy', 'adjusted_good_rate']:.0%}",
        f"flips {pairs.loc['emoji_added', 'flip_rate']:.0%}", f"{pairs.loc['punctuation_added', 'flip_rate']:.1%} for",
        f"({heavy.loc['medium', 'mean']:.0%}, n={heavy.loc['medium', 'size']}",
        f"{confirmed['confirmed'].sum()} of {len(confirmed)} suspects",
        f"{sum('length_band=long' in g for g in confirmed.index[confirmed['confirmed']])} of them long-message",
        f"long messages get {long_messages.mean():.0%} good suggestions (n={len(long_messages)})",
        f"in {len(shown)} of {len(thresholds)} slices",
        f"at {shown['coverage'].min():.0%} to {shown['coverage'].max():.0%} coverage",
    ]
    missing = [figure for figure in figures if figure not in text]
    assert not missing, missing
    assert evidence["below"] == ["English + code-switch", "Hindi + code-switch"]
    assert evidence["meets"] == ["English", "Hindi", "Portuguese", "Spanish"]
    assert len(re.findall(r"\d", text)) > 20
