"""The learner's side of the kit: `lab = Lab("01", seed=seed)`, then load, check, hint, solution."""

from __future__ import annotations

import atexit
import copy
import gc
from typing import Any

import pandas as pd

from aipmlab import answer_key, course, paths
from aipmlab.exercises.core import DataSource, Exercise, Outcome, State, Verdict, judge

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
TAKEHOME_ASIDE = "This is a take-home, so this part of the kit is left out."


class CheckFailed(Exception):
    """A check did not pass; the message says why. nbgrader scores the check cell zero."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the message alone, wrapped to stay readable in feedback."""
        import textwrap

        text = f"{type(self).__name__}: {self}"
        return [wrapped for line in text.splitlines() for wrapped in textwrap.wrap(line, 96) or [""]]


class NotAttempted(CheckFailed):
    """The answer still holds the `...` placeholder."""


class IncorrectAnswer(CheckFailed):
    """The answer has the wrong shape or the wrong values."""


def answer_cell_id(key: str) -> str:
    """nbgrader grade_id of the cell where the learner writes `key`."""
    return f"{key}-answer"


def check_cell_id(key: str) -> str:
    """nbgrader grade_id of the locked cell that checks `key`."""
    return f"{key}-check"


class Lab:
    """One module's data, checks, hints and solutions, for the seed the notebook runs on."""

    def __init__(self, module: str | int, seed: int | None = None):
        self.module = course.module(module)
        self.data = DataSource(seed)
        self._references: dict[str, Any] = {}
        _plain_display()
        _freeze_startup_objects()

    def __repr__(self) -> str:
        mode = "with answer key" if self.has_answer_key else "structure checks only (no answer key)"
        return f"<Lab {self.module.slug}, seed {self.data.seed}, {mode}>"

    @property
    def has_answer_key(self) -> bool:
        """True when grading/ is present, so checks compare values as well as structure."""
        return answer_key.load(self.module.code_name) is not None

    def load(self, table: str) -> pd.DataFrame:
        """A fresh copy of one of this module's tables, for this notebook's seed."""
        if table not in self.module.tables:
            known = ", ".join(self.module.tables)
            raise KeyError(f"Module {self.module.slug} uses the tables {known}; {table!r} is not one of them.")
        return self.data.load(table)

    def verdict(self, key: str, answer: Any) -> Verdict:
        """Judge `answer` for exercise `key` without printing or raising."""
        exercise = self.module.exercise(key)
        has_reference, reference = self._reference(exercise)
        return judge(exercise, answer, self.data, reference, has_reference)

    def check(self, key: str, answer: Any) -> None:
        """Print the verdict for exercise `key`; raise (so nbgrader scores zero) unless it passes."""
        verdict = self.verdict(key, answer)
        exercise = self.module.exercise(key)
        label = f"Exercise {exercise.number} ({key})"
        if paths.in_takehome_bundle() and verdict.passed:
            print(f"◐ {label}: its shape is right. Values and written answers are judged after you hand in; "
                  f"a take-home shows no points.")
            return
        if verdict.state is State.NOT_ATTEMPTED:
            raise NotAttempted(f"{label}: not attempted yet. {verdict.message}")
        if verdict.state is State.INCORRECT:
            advice = (f"Read hint {verdict.hint}: lab.hint({key!r}, {verdict.hint})" if verdict.hint
                      else f"For a nudge, run lab.hint({key!r}).")
            raise IncorrectAnswer(f"{label}: not yet. {verdict.message} {advice}")
        if verdict.state is State.CORRECT:
            print(f"✓ {label}: correct, {verdict.points}/{verdict.max_points} points. {verdict.message}")
        elif verdict.state is State.READY_FOR_REVIEW:
            print(f"✎ {label}: ready for review. {verdict.message}")
        else:
            print(f"◐ {label}: {verdict.state.value}. {verdict.message}")

    def deploy(self, key: str, decision: Any) -> Outcome | None:
        """Deploy a decision on a fresh draw from this notebook's world: what users get, the best, the regret."""
        exercise = self.module.exercise(key)
        if paths.in_takehome_bundle():
            print(f"{TAKEHOME_ASIDE} Deploying a decision on a fresh draw comes with the course, after hiring.")
            return None
        if exercise.deploy is None:
            print(f"Exercise {exercise.number} ({key}) is not a decision, so there is nothing to deploy.")
            return None
        verdict = judge(exercise, decision, self.data)  # shape only: deploying needs a readable decision
        if verdict.state in (State.NOT_ATTEMPTED, State.INCORRECT):
            raise IncorrectAnswer(f"Exercise {exercise.number} ({key}) cannot be deployed yet. {verdict.message}")
        try:
            from aipmlab import datasets

            seed = self.data.seed if self.data.seed is not None else datasets.default_seed(self.module.tables[0])
            outcome = exercise.deploy(decision, seed)
        except ModuleNotFoundError:
            print("Deploying needs the course's simulator, which this kit does not include.")
            return None
        print(outcome.summary)
        return outcome

    def hint(self, key: str, number: int | None = None) -> None:
        """Print hint `number` of exercise `key` (the first when not given) and say how many there are."""
        exercise = self.module.exercise(key)
        count = len(exercise.hints)
        number = 1 if number is None else number
        if not 1 <= number <= count:
            print(f"Exercise {exercise.number} has hints 1 to {count}.")
            return
        more = f" (hint {number + 1}: lab.hint({key!r}, {number + 1}))" if number < count else ""
        print(f"Hint {number} of {count} for exercise {exercise.number}{more}:\n{exercise.hints[number - 1]}")

    def solution(self, key: str) -> None:
        """Print the worked solution of exercise `key` from solutions/, when the kit includes it."""
        if paths.in_takehome_bundle():
            print(f"{TAKEHOME_ASIDE} Worked solutions are not part of it; your own reasoning is what we read.")
            return
        print(worked_solution(self.module, key))

    def rubric(self, key: str) -> None:
        """Print the anchored rubric of a written exercise, when the answer key is present."""
        exercise = self.module.exercise(key)
        if paths.in_takehome_bundle():
            print(f"{TAKEHOME_ASIDE} The rubric stays with the reviewers; the exercise text says what a good answer covers.")
            return
        if exercise.written is None:
            print(f"Exercise {exercise.number} is checked automatically; it has no rubric.")
            return
        key_module = answer_key.load(self.module.code_name)
        if key_module is None:
            print("This kit has no answer key, so the rubric stays with the reviewer.")
            return
        print(key_module.RUBRICS[key].as_text())

    def _reference(self, exercise: Exercise) -> tuple[bool, Any]:
        key_module = answer_key.load(self.module.code_name)
        if key_module is None or exercise.compare is None:
            return False, None
        if exercise.key not in self._references:
            self._references[exercise.key] = getattr(key_module, exercise.key)(self.data)
        return True, copy.deepcopy(self._references[exercise.key])


_startup_frozen = False


def _freeze_startup_objects() -> None:
    """Once per process: park the objects alive when the first Lab starts (in a notebook, mostly the imports':
    about 175,000 in module 05) in the garbage collector's permanent generation, so a full collection while the
    notebook runs walks only the notebook's own objects. They rejoin at exit, so the last collection still
    finalizes everything."""
    global _startup_frozen
    if _startup_frozen:
        return
    _startup_frozen = True
    gc.freeze()
    atexit.register(gc.unfreeze)


def _plain_display() -> None:
    """In a notebook, an untouched answer cell echoes a short note instead of the bare word `Ellipsis`, and
    numpy numbers inside a displayed answer read as plain numbers (0.55, not np.float64(0.55))."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        plain = shell.display_formatter.formatters["text/plain"]
        note = lambda _value, printer, _cycle: printer.text("... (not answered yet)")  # noqa: E731
        plain.singleton_printers[id(Ellipsis)] = note  # Ellipsis is printed as a singleton, not by its type
        import numpy as np

        concrete = [(np.float64, float), (np.float32, float), (np.int64, int), (np.int32, int), (np.bool_, bool)]
        for kind, plain_kind in concrete:  # each numpy type has its own __repr__, so register each by name
            plain.for_type(kind, lambda value, printer, _cycle, as_plain=plain_kind: printer.text(repr(as_plain(value))))


def worked_solution(module: course.Module, key: str) -> str:
    """The solution code for `key` as written in the source notebook, or why there is none."""
    import nbformat

    path = paths.solutions_dir() / module.slug / module.notebook_name
    if not path.exists():
        return "This kit has no worked solutions (a take-home bundle, say). Ask your reviewer after grading."
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == answer_cell_id(key):
            lines = cell.source.splitlines()
            if SOLUTION_BEGIN in lines and SOLUTION_END in lines:
                lines = lines[lines.index(SOLUTION_BEGIN) + 1: lines.index(SOLUTION_END)]
            return "\n".join(lines)
    return f"No solution cell for {key!r} was found in {path.name}."
