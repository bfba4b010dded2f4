"""Building blocks for structure and comparison checks, with messages that teach.

Every failure raises `Incorrect` naming what was expected and, where one helps, the hint to read.
No message ever contains the expected value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from aipmlab.exercises.core import Incorrect


def type_name(value: Any) -> str:
    """A plain-words name for the type of `value`."""
    if isinstance(value, pd.DataFrame):
        return "a DataFrame"
    if isinstance(value, pd.Series):
        return "a pandas Series"
    if isinstance(value, bool):
        return "True/False"
    if isinstance(value, numbers.Number):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a dict"
    if isinstance(value, (list, tuple, set)):
        return f"a {type(value).__name__}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def require_number(value: Any, name: str, low: float | None = None, high: float | None = None,
                   hint: int | None = None) -> float:
    """`value` is a finite real number within [low, high]; returns it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Incorrect(f"{name} should be a number, but it is {type_name(value)}.", hint)
    number = float(value)
    if not math.isfinite(number):
        raise Incorrect(f"{name} should be a finite number, but it is {number}.", hint)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = (f"between {low} and {high}" if low is not None and high is not None
                  else f"at least {low}" if low is not None else f"at most {high}")
        raise Incorrect(f"{name} should be {bounds}, but it is {number:.4g}.", hint)
    return number


def require_whole_number(value: Any, name: str, low: int = 0, hint: int | None = None) -> int:
    """`value` is a whole number (a count) of at least `low`; returns it as int."""
    number = require_number(value, name, low, None, hint)
    if not float(number).is_integer():
        raise Incorrect(f"{name} should be a whole number, {low} or more.", hint)
    return int(number)


def require_probability(value: Any, name: str, hint: int | None = None) -> float:
    """`value` is a share between 0 and 1 (not a percentage)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 1 < float(value) <= 100:
        raise Incorrect(f"{name} should be a share between 0 and 1; it looks like a percentage.", hint)
    return require_number(value, name, 0.0, 1.0, hint)


def require_mapping(answer: Any, keys: Iterable[str], name: str, hint: int | None = None) -> Mapping:
    """`answer` is a dict with exactly `keys`."""
    if not isinstance(answer, Mapping):
        raise Incorrect(f"{name} should be a dict, but it is {type_name(answer)}.", hint)
    expected = set(keys)
    present = {str(key) for key in answer}
    missing, extra = sorted(expected - present), sorted(present - expected)
    if missing:
        raise Incorrect(f"{name} is missing the key(s) {', '.join(map(repr, missing))}.", hint)
    if extra:
        raise Incorrect(f"{name} has key(s) it should not: {', '.join(map(repr, extra))}. "
                        f"Expected exactly {', '.join(map(repr, sorted(expected)))}.", hint)
    return answer


def require_labels(labels: Any, allowed: Iterable[str], name: str, hint: int | None = None) -> list[str]:
    """`labels` is a list of distinct labels, each one of `allowed`."""
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple, set, pd.Index, np.ndarray)):
        raise Incorrect(f"{name} should be a list of labels, but it is {type_name(labels)}.", hint)
    labels = [str(label) for label in labels]
    unknown = sorted(set(labels) - set(allowed))
    if unknown:
        raise Incorrect(f"{name} contains {', '.join(map(repr, unknown))}, which is not one of the labels in the "
                        f"data. Use the exact labels from the data.", hint)
    if len(set(labels)) != len(labels):
        raise Incorrect(f"{name} lists a label more than once.", hint)
    return labels


def require_frame(answer: Any, name: str, index_name: str, index_values: Iterable[Any],
                  columns: Iterable[str], hint: int | None = None) -> pd.DataFrame:
    """`answer` is a DataFrame indexed by `index_name` with one row per value and the named columns."""
    if not isinstance(answer, pd.DataFrame):
        extra = " Did you forget `.to_frame()` or select a single column?" if isinstance(answer, pd.Series) else ""
        raise Incorrect(f"{name} should be a DataFrame, but it is {type_name(answer)}.{extra}", hint)
    if isinstance(answer.index, pd.MultiIndex):
        raise Incorrect(f"{name} has an index of several levels ({', '.join(map(str, answer.index.names))}); it "
                        f"should have one level, `{index_name}`.", hint)
    if answer.index.name != index_name:
        if index_name in answer.columns:
            raise Incorrect(f"{name} should be indexed by `{index_name}`; it is a column. "
                            f"Use `.set_index('{index_name}')`.", hint)
        raise Incorrect(f"{name} should have one row per `{index_name}`, with `{index_name}` as its index "
                        f"(its index is named {answer.index.name!r}).", hint)
    expected_rows = {str(value) for value in index_values}
    present_rows = [str(value) for value in answer.index]
    if len(set(present_rows)) != len(present_rows):
        raise Incorrect(f"{name} has the same `{index_name}` on more than one row.", hint)
    missing, extra = sorted(expected_rows - set(present_rows)), sorted(set(present_rows) - expected_rows)
    if missing:
        raise Incorrect(f"{name} has no row for {', '.join(map(repr, missing))}; expected one row per "
                        f"`{index_name}` in the data ({len(expected_rows)} rows).", hint)
    if extra:
        raise Incorrect(f"{name} has rows that are not in the data: {', '.join(map(repr, extra))}.", hint)
    missing_columns = [column for column in columns if column not in answer.columns]
    if missing_columns:
        raise Incorrect(f"{name} is missing the column(s) {', '.join(f'`{c}`' for c in missing_columns)}.", hint)
    return answer


def require_numeric_columns(frame: pd.DataFrame, name: str, columns: Iterable[str], low: float | None = None,
                            high: float | None = None, allow_missing: bool = False,
                            hint: int | None = None) -> None:
    """Each named column holds numbers in [low, high] (missing values allowed only if asked)."""
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() and not (allow_missing and frame[column].isna().equals(values.isna())):
            raise Incorrect(f"Column `{column}` of {name} should hold numbers only.", hint)
        present = values.dropna()
        if (low is not None and (present < low).any()) or (high is not None and (present > high).any()):
            raise Incorrect(f"Column `{column}` of {name} should lie between {low} and {high}.", hint)


def numbers_match(answer: float, expected: float, atol: float) -> bool:
    """True when both are missing, or both are numbers within `atol`."""
    answer_missing = answer is None or (isinstance(answer, float) and math.isnan(answer))
    expected_missing = expected is None or (isinstance(expected, float) and math.isnan(expected))
    if answer_missing or expected_missing:
        return answer_missing and expected_missing
    return abs(float(answer) - float(expected)) <= atol


def compare_values(answer: Mapping, expected: Mapping, advice: Mapping[str, tuple[str, int]],
                   atol: float = 5e-4) -> None:
    """Each key of `advice`, in order, matches within `atol`; otherwise raise its (message, hint)."""
    for key, (message, hint) in advice.items():
        if not numbers_match(answer[key], expected[key], atol):
            raise Incorrect(message, hint)


def compare_columns(answer: pd.DataFrame, expected: pd.DataFrame, name: str,
                    hints: Mapping[str, int], atol: float = 5e-4) -> None:
    """Each column of `expected` (in order) matches `answer` row by row; `hints` maps column to hint."""
    for column in expected.columns:
        wrong = [label for label in expected.index
                 if not numbers_match(_scalar(answer.at[label, column]), _scalar(expected.at[label, column]), atol)]
        if wrong:
            example = ", ".join(repr(str(label)) for label in wrong[:2])
            raise Incorrect(f"Column `{column}` of {name} is off for {len(wrong)} of {len(expected)} rows "
                            f"(for example {example}).", hints.get(column))


def _scalar(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def check_written(answer: Any, name: str, min_words: int, must_mention: Iterable[Iterable[str]],
                  hint: int | None = None) -> str:
    """A written answer is text of at least `min_words` words, with a figure, naming one word of each group."""
    if not isinstance(answer, str):
        raise Incorrect(f"{name} should be text in quotes (a string), but it is {type_name(answer)}.", hint)
    words = answer.split()
    if len(words) < min_words:
        raise Incorrect(f"{name} has {len(words)} words; a reviewer needs at least {min_words} to judge it.", hint)
    if not any(character.isdigit() for character in answer):
        raise Incorrect(f"{name} states no figure. Back the claim with a number from your analysis.", hint)
    lowered = answer.lower()
    for group in must_mention:
        group = tuple(group)
        if not any(word.lower() in lowered for word in group):
            raise Incorrect(f"{name} should name at least one of: {', '.join(group)}.", hint)
    return answer
