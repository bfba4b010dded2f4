"""The exercise model: one definition per exercise, judged the same way everywhere.

An `Exercise` says what the learner must produce (plain data: a number, a string, a list, a dict
or a DataFrame), how its structure is checked, how it is compared with the reference from the
answer key, and which hints help. `judge` turns an answer into a `Verdict` without printing or
raising, so the notebook check, nbgrader, the take-home grader and the tests all share it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

NOT_ATTEMPTED_MARK = Ellipsis  # the stub every answer cell starts from: `answer = ...`


class DataSource:
    """The learner's data, by table name: fresh copies for the seed the notebook runs on."""

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def load(self, table: str) -> pd.DataFrame:
        """A fresh copy of `table`, so nothing a learner does to their copy changes a check."""
        from aipmlab import datasets

        return datasets.load(table, self.seed)


class State(enum.Enum):
    """What a learner sees after a check."""

    NOT_ATTEMPTED = "not attempted"
    INCORRECT = "incorrect"
    UNVERIFIED = "shape checked; values not checked here"  # no answer key: earns nothing until a grader judges it
    READY_FOR_REVIEW = "ready for review"  # a written answer: a human scores it by rubric; no automatic points
    CORRECT = "correct"


class Incorrect(Exception):
    """Raised by structure and comparison checks; the message teaches and names a hint."""

    def __init__(self, message: str, hint: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Written:
    """What a written (manually graded) answer needs before a human reads it."""

    manual_points: int
    min_words: int
    must_mention: tuple[tuple[str, ...], ...] = ()  # each group: at least one of these words


@dataclass(frozen=True)
class Outcome:
    """What a decision does when deployed on a fresh draw from the same world: the truth, the best, the regret."""

    decision: str             # the learner's decision in a few words
    value: float              # what users get under it (e.g. true shown quality, expected cost per 1,000)
    best_value: float         # the best any decision of the same form could have got, in hindsight
    unit: str                 # what `value` measures, for the sentence a learner reads
    higher_is_better: bool
    summary: str              # one or two sentences for a PM: what users would get, and the regret
    table: pd.DataFrame | None = None  # per-slice (or per-week, per-arm) detail, when there is one

    @property
    def regret(self) -> float:
        """How much worse than the best decision in hindsight (never negative)."""
        gap = self.best_value - self.value if self.higher_is_better else self.value - self.best_value
        return max(0.0, float(gap))


@dataclass(frozen=True)
class Exercise:
    """One exercise, defined once. `key` is also the name of the variable the learner fills in."""

    key: str
    number: int
    title: str
    points: int
    expects: str
    hints: tuple[str, ...]
    check_structure: Callable[[Any, DataSource], None] | None = None  # written answers: `written` says it all
    compare: Callable[[Any, Any], None] | None = None
    written: Written | None = None
    # A decision exercise: deploys the answer on a fresh draw from the world of `seed` (needs the simulator).
    deploy: Callable[[Any, int], Outcome] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def max_points(self) -> int:
        """Autograded points plus, for a written answer, the points a human awards by rubric."""
        return self.points + (self.written.manual_points if self.written else 0)


@dataclass(frozen=True)
class Verdict:
    """The outcome of judging one answer; `points` are the autograded points earned."""

    key: str
    state: State
    message: str
    points: int
    max_points: int
    hint: int | None = None

    @property
    def passed(self) -> bool:
        """True when nothing is known to be wrong: correct, ready for review, or shape-checked without a key."""
        return self.state in (State.CORRECT, State.UNVERIFIED, State.READY_FOR_REVIEW)


def is_stub(answer: Any) -> bool:
    """True when the learner has not replaced the `...` placeholder."""
    return answer is NOT_ATTEMPTED_MARK


def judge(
    exercise: Exercise, answer: Any, data: DataSource, reference: Any = None, has_reference: bool = False
) -> Verdict:
    """Judge `answer` on `data`: structure always, correctness against `reference` when `has_reference`."""

    def verdict(state: State, message: str, hint: int | None = None) -> Verdict:
        earned = exercise.points if state is State.CORRECT else 0  # only a value checked against the key earns
        return Verdict(exercise.key, state, message, earned, exercise.points, hint)

    if is_stub(answer):
        return verdict(
            State.NOT_ATTEMPTED,
            f"`{exercise.key}` still holds the placeholder `...`. Replace it with {exercise.expects}.",
        )
    try:
        if exercise.written is not None:
            from aipmlab.exercises.checks import check_written

            check_written(answer, exercise.key, exercise.written.min_words, exercise.written.must_mention, 1)
        if exercise.check_structure is not None:
            exercise.check_structure(answer, data)
        if has_reference and exercise.compare is not None:
            exercise.compare(answer, reference)
    except Incorrect as wrong:
        return verdict(State.INCORRECT, wrong.message, wrong.hint)
    except Exception as error:  # an answer shaped so oddly that a check tripped over it
        return verdict(State.INCORRECT, f"The check could not read `{exercise.key}` ({type(error).__name__}). "
                                        f"It expects {exercise.expects}.", 1)
    if exercise.compare is not None and not has_reference:
        return verdict(State.UNVERIFIED, "Its shape is right. Its values are not checked here (this kit has no "
                                         "answer key); a grader checks them.")
    if exercise.written is not None:
        return verdict(
            State.READY_FOR_REVIEW,
            f"Checked: it is long enough, states a figure and names what it must. Not checked: whether it is right, "
            f"which a reviewer marks out of {exercise.written.manual_points} with the rubric.",
        )
    return verdict(State.CORRECT, "It matches the reference computed on your data.")
