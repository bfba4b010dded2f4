"""Access to the answer key in grading/answer_key/: reference implementations and rubrics.

The key is present in the repository and on a grader's machine, and absent from a take-home
bundle; every caller must cope with `None`.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from aipmlab import paths


@dataclass(frozen=True)
class Level:
    """One anchored level of a rubric criterion: the points and what an answer at that level looks like."""

    points: int
    looks_like: str


@dataclass(frozen=True)
class Criterion:
    """One thing a reviewer scores, with anchored levels from 0 up to full marks."""

    name: str
    levels: tuple[Level, ...]

    @property
    def max_points(self) -> int:
        """The points of the top level."""
        return max(level.points for level in self.levels)


@dataclass(frozen=True)
class Rubric:
    """How a written answer is marked by a human."""

    criteria: tuple[Criterion, ...]

    @property
    def max_points(self) -> int:
        """Full marks: the sum of each criterion's top level."""
        return sum(criterion.max_points for criterion in self.criteria)

    def score(self, scores: dict[str, int]) -> int:
        """Total of one reviewer's scores, one per criterion, each one of that criterion's anchored levels."""
        names = [criterion.name for criterion in self.criteria]
        if sorted(scores) != sorted(names):
            raise ValueError(f"Score every criterion once: {', '.join(names)}; got {', '.join(scores) or 'none'}.")
        for criterion in self.criteria:
            allowed = sorted(level.points for level in criterion.levels)
            if scores[criterion.name] not in allowed:
                raise ValueError(f"{criterion.name!r} is scored at one of its levels {allowed}, "
                                 f"not {scores[criterion.name]!r}.")
        return sum(scores.values())

    def as_text(self) -> str:
        """The rubric as plain text, one criterion and its levels per block."""
        blocks = []
        for criterion in self.criteria:
            lines = [f"{criterion.name} (up to {criterion.max_points})"]
            lines += [f"  {level.points}: {level.looks_like}" for level in criterion.levels]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


EXAMPLE_LEVELS = ("weak", "middling", "strong")


@dataclass(frozen=True)
class ExampleAnswer:
    """An example written answer at one quality level, with the scores the rubric gives it (reviewed by hand)."""

    level: str               # one of EXAMPLE_LEVELS
    text: str
    scores: dict[str, int]   # criterion name -> the level's points


def strong_example(key_module: ModuleType, key: str) -> str:
    """The text of the full-mark example of written exercise `key` in an answer key module."""
    return next(example.text for example in key_module.EXAMPLES[key] if example.level == "strong")


def key_path(code_name: str) -> Path:
    """Where the answer key of a module lives."""
    return paths.grading_dir() / "answer_key" / f"{code_name}.py"


@lru_cache(maxsize=None)
def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"aipmlab_answer_key_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    key = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(key)
    return key


def load(code_name: str) -> ModuleType | None:
    """The answer key module for `code_name` (e.g. 'm01_failure_boundaries'), or None when absent."""
    path = key_path(code_name)
    return _load(path.resolve()) if path.exists() else None
