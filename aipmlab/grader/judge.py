"""Judge extracted answers in the grader's own process, against the answer key on the grader's seed."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from types import ModuleType
from typing import Any

from aipmlab import answer_key
from aipmlab.course import Module
from aipmlab.exercises.core import DataSource, Exercise, State, judge
from aipmlab.grader.engine import AnswerKeyMissing, ExerciseResult
from aipmlab.serialize import from_json

ENGINE_VERSION = "1"  # bump when a change here would change a stored result
_references: dict[tuple[str, int, str], Any] = {}


def require_answer_key(module: Module) -> ModuleType:
    """The module's answer key, or AnswerKeyMissing: grading without it would hand out unearned points."""
    key_module = answer_key.load(module.code_name)
    if key_module is None:
        raise AnswerKeyMissing(f"The answer key of module {module.slug} is missing ({answer_key.key_path(module.code_name)} "
                               "does not exist); grading needs it, so nothing was graded.")
    return key_module


def answer_key_fingerprint(module: Module) -> str:
    """A digest of what decides a verdict: the answer key file, the exercise definitions, checks and this engine."""
    import aipmlab.exercises as definitions

    digest = hashlib.sha256(ENGINE_VERSION.encode())
    folder = Path(definitions.__file__).parent
    for path in (answer_key.key_path(module.code_name), folder / f"{module.code_name}.py", folder / "core.py",
                 folder / "checks.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def reference(key_module: ModuleType, module: Module, exercise: Exercise, seed: int) -> Any:
    """The answer key's reference for `exercise` on `seed` (computed once per grader process, copied out)."""
    cache_key = (module.code_name, seed, exercise.key)
    if cache_key not in _references:
        _references[cache_key] = getattr(key_module, exercise.key)(DataSource(seed))
    return copy.deepcopy(_references[cache_key])


def judge_answer(exercise: Exercise, answer: Any, seen: bool, seed: int, key_module: ModuleType,
                 module: Module) -> ExerciseResult:
    """The verdict on one extracted answer (JSON data, or None when the notebook never defined it)."""
    manual = exercise.written.manual_points if exercise.written else 0

    def result(state: str, points: int, message: str) -> ExerciseResult:
        return ExerciseResult(exercise.key, exercise.number, state, points, exercise.points, manual, message,
                              answer if seen else None)

    if not seen:
        return result(State.NOT_ATTEMPTED.value, 0, f"`{exercise.key}` was never set to plain data that could be "
                                                     f"read (a number, text, list, dict or table). It expects "
                                                     f"{exercise.expects}.")
    try:
        decoded = from_json(answer)
    except Exception:
        return result(State.INCORRECT.value, 0, f"`{exercise.key}` could not be read. It expects {exercise.expects}.")
    has_reference = exercise.compare is not None
    expected = reference(key_module, module, exercise, seed) if has_reference else None
    verdict = judge(exercise, decoded, DataSource(seed), expected, has_reference=has_reference)
    earned = verdict.points if verdict.state is State.CORRECT else 0  # unverified and written answers earn nothing here
    return result(verdict.state.value, earned, verdict.message)
