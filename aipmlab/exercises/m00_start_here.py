"""Module 00 — start here: the warm-up exercise that shows how checks, hints and points work."""

from __future__ import annotations

from typing import Any

from aipmlab.course import Module
from aipmlab.exercises import checks
from aipmlab.exercises.core import DataSource, Exercise, Incorrect


def _language_mix_structure(answer: Any, data: DataSource) -> None:
    languages = data.load("smart_reply_messages")["language"].unique()
    checks.require_mapping(answer, languages, "language_mix", 1)
    shares = [checks.require_probability(share, f"language_mix[{language!r}]", 1) for language, share in answer.items()]
    if abs(sum(shares) - 1.0) > 1e-3:
        raise Incorrect("The shares in language_mix should add up to 1: each is a language's share of all messages.", 2)


def _language_mix_compare(answer: dict, expected: dict) -> None:
    off = [language for language in expected if not checks.numbers_match(answer[language], expected[language], 5e-4)]
    if off:
        raise Incorrect(f"The share for {off[0]!r} is off. Count messages per language, then divide by all messages.", 2)


LANGUAGE_MIX = Exercise(
    key="language_mix", number=1, title="Warm-up: who writes to the app?", points=1,
    expects="a dict mapping each language to its share of messages, e.g. {'English': 0.5, ...}",
    hints=(
        "`messages['language'].value_counts()` counts messages per language. The answer wants shares "
        "(between 0 and 1), one per language, as a dict.",
        "`value_counts(normalize=True)` gives shares directly, and `.to_dict()` turns a Series into a dict.",
    ),
    check_structure=_language_mix_structure, compare=_language_mix_compare,
)

MODULE = Module(
    slug="00-start-here",
    title="Start here",
    purpose="What an AI product manager does, how this kit works, and a first graded exercise.",
    minutes=20,
    tables=("smart_reply_messages",),
    exercises=(LANGUAGE_MIX,),
)
