"""The course map: every module, in learning order, with its exercises."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import lru_cache

from aipmlab.exercises.core import Exercise


@dataclass(frozen=True)
class Module:
    """One notebook and nbgrader assignment. `slug` names its folder in solutions/ and notebooks/."""

    slug: str
    title: str
    purpose: str
    minutes: int
    tables: tuple[str, ...]
    exercises: tuple[Exercise, ...]

    @property
    def number(self) -> int:
        """The module's place in the learning path (00, 01, ...)."""
        return int(self.slug.split("-", 1)[0])

    @property
    def code_name(self) -> str:
        """A Python-friendly name, e.g. m01_failure_boundaries (answer key file name)."""
        return "m" + self.slug.replace("-", "_")

    @property
    def notebook_name(self) -> str:
        """The notebook file inside the module folder."""
        return f"{self.slug}.ipynb"

    @property
    def autograded_points(self) -> int:
        """Points nbgrader awards automatically."""
        return sum(exercise.points for exercise in self.exercises)

    @property
    def manual_points(self) -> int:
        """Points a reviewer awards with a rubric."""
        return sum(exercise.written.manual_points for exercise in self.exercises if exercise.written)

    def exercise(self, key: str) -> Exercise:
        """The exercise whose answer variable is `key`, or a clear error listing the keys."""
        for exercise in self.exercises:
            if exercise.key == key:
                return exercise
        known = ", ".join(e.key for e in self.exercises)
        raise KeyError(f"Module {self.slug} has no exercise {key!r}. Its exercises are: {known}.")


@lru_cache(maxsize=1)
def _module_files() -> tuple[str, ...]:
    """The names of aipmlab/exercises/mNN_*.py, without importing them."""
    import aipmlab.exercises as package

    return tuple(info.name for info in pkgutil.iter_modules(package.__path__)
                 if info.name[:1] == "m" and info.name[1:3].isdigit())


def _load(file_name: str) -> Module:
    return importlib.import_module(f"aipmlab.exercises.{file_name}").MODULE


@lru_cache(maxsize=1)
def modules() -> tuple[Module, ...]:
    """Every module, in learning order: each aipmlab/exercises/mNN_*.py that declares a MODULE."""
    return tuple(sorted((_load(name) for name in _module_files()), key=lambda m: m.number))


def _number_in(name: str | int) -> int | None:
    """The module number a name starts with ('04-…', '04', 4, 'm04_…'), or None."""
    if isinstance(name, int):
        return name
    digits = name.strip().removeprefix("m")
    digits = digits[:len(digits) - len(digits.lstrip("0123456789"))]
    return int(digits) if digits else None


def module(name: str | int) -> Module:
    """Find a module by slug ('01-failure-boundaries'), number prefix ('01'), number (1 or '1') or code name.
    Only the matching module's file is imported (a notebook needs its own module, not all of them)."""
    if isinstance(name, str) and name.strip().isdigit():
        name = int(name)
    number = _number_in(name)
    files = [file_name for file_name in _module_files() if number is not None and int(file_name[1:3]) == number]
    for candidate in [_load(file_name) for file_name in files] or modules():
        if name in (candidate.slug, candidate.number, f"{candidate.number:02d}", candidate.code_name):
            return candidate
    known = ", ".join(m.slug for m in modules())
    raise KeyError(f"There is no module {name!r}. The modules are: {known}.")


# Modules on the learning path that are not published yet, shown in module 00's map.
PLANNED = (
    ("02", "Data quality audit", "duplicates, leakage, label errors by confident learning, a re-labelling plan"),
    ("03", "Data collection plan", "inter-rater agreement, guidelines, sample sizes and budget"),
    ("04", "Success metrics beyond accuracy", "error costs, thresholds by expected cost, calibration, guardrails"),
    ("05", "Drift, degradation and rollback", "shift statistics, delayed labels, a rollback rule set in advance"),
    ("06", "Contaminated A/B tests", "feedback loops between arms, sample ratio mismatch, CUPED"),
    ("07", "Isolating components", "candidate generation vs. ranking, 2×2 attribution, diversity"),
    ("08", "LLM features: prompts and guardrails", "guardrail precision and recall per slice, a failure playbook"),
    ("09", "Interview drill", "the three signals, rubric-scored practice answers"),
)
