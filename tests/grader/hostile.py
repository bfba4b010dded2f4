"""Hostile submissions, rebuilt from the issue that found them, and the honest controls beside them.

Each case is a notebook made from the release (or the worked solutions) with a few cells changed or
added, and the most it may score: what its answers honestly earn. Reading cases put what they could
read into the answer itself, so a test can see that nothing came through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from aipmlab import course, paths
from aipmlab.lab import answer_cell_id, check_cell_id

M00, M01 = course.module("00"), course.module("01")
GARBAGE_00 = 'language_mix = {"English": 1.0}'
GARBAGE_01 = 'overall_quality = {"n": 6000, "good_rate": 0.5, "ci_low": 0.4, "ci_high": 0.6}'


@dataclass
class Case:
    """A submission to build and the most it may score automatically."""

    name: str
    module: course.Module
    build: Callable[[Path], None]       # writes the notebook (and anything handed in beside it) into a folder
    at_most: int                        # automatic points it honestly earns
    at_least: int = 0                   # points it must keep (honest work before a crash, say)
    status: str | tuple[str, ...] = "graded"  # or the statuses it may end with (a limit may be hit either way)
    blocked: bool = False               # its answer must record that the reads were blocked
    extra: dict = field(default_factory=dict)


def source(module: course.Module, origin: str) -> nbformat.NotebookNode:
    """The worked solutions ("solutions") or the untouched release ("notebooks") of `module`."""
    return nbformat.read(paths.kit_root() / origin / module.slug / module.notebook_name, as_version=4)


def _setup_index(notebook: nbformat.NotebookNode) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and "Lab(" in cell.source)


def _set_answer(notebook: nbformat.NotebookNode, key: str, code: str) -> None:
    cell = next(c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == answer_cell_id(key))
    cell.source = code


def variant(module: course.Module, origin: str = "notebooks", answers: dict[str, str] | None = None,
            after_setup: tuple[str, ...] = (), at_end: tuple[str, ...] = (),
            change: Callable[[nbformat.NotebookNode], None] | None = None) -> Callable[[Path], None]:
    """A builder: `origin` with some answers replaced and hostile cells after the setup cell or at the end."""
    def build(folder: Path) -> None:
        notebook = source(module, origin)
        for key, code in (answers or {}).items():
            _set_answer(notebook, key, code)
        at = _setup_index(notebook) + 1
        notebook.cells[at:at] = [nbformat.v4.new_code_cell(code) for code in after_setup]
        notebook.cells += [nbformat.v4.new_code_cell(code) for code in at_end]
        if change is not None:
            change(notebook)
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / module.notebook_name)
    return build


def raw(module: course.Module, text: str) -> Callable[[Path], None]:
    """A builder that hands in `text` as the notebook file."""
    def build(folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / module.notebook_name).write_text(text)
    return build


def with_shadow_package(build: Callable[[Path], None]) -> Callable[[Path], None]:
    """Hand in an `aipmlab/` folder beside the notebook whose checks pass everything."""
    def shadowed(folder: Path) -> None:
        build(folder)
        (folder / "aipmlab").mkdir()
        (folder / "aipmlab" / "__init__.py").write_text(
            "class Lab:\n    def __init__(self, *a, **k): pass\n    def load(self, *a): raise SystemExit\n"
            "    def check(self, *a): print('correct')\n")
    return shadowed


def reads(paths_to_try: list[str], key: str) -> str:
    """An answer cell that tries to read each path and records, as its answer, what happened."""
    return (f"import os\n{key} = {{}}\nfor path in {paths_to_try!r}:\n"
            f"    try:\n        {key}[path] = 'READ ' + (open(path).read(60) if os.path.isfile(path) else str(os.listdir(path)))\n"
            f"    except Exception as error:\n        {key}[path] = 'blocked ' + type(error).__name__\n")


PATCH_CHECK = ("import aipmlab.lab as lab_module\n"
               "lab_module.Lab.check = lambda self, key, answer: print('✓ correct')\n"
               "lab_module.Lab.verdict = lambda self, key, answer: None")
PATCH_JUDGE = ("import aipmlab.exercises.core as core, aipmlab.lab as lab_module\n"
               "def judge(exercise, *args, **kwargs):\n"
               "    return core.Verdict(exercise.key, core.State.CORRECT, 'fine', exercise.points, exercise.points)\n"
               "core.judge = lab_module.judge = judge")
REBIND_LAB = "class Fake:\n    def check(self, *args): print('✓ correct')\nlab = Fake()"
NULL_CHECKS = ("for exercise in lab.module.exercises:\n"
               "    object.__setattr__(exercise, 'check_structure', None)\n"
               "    object.__setattr__(exercise, 'compare', None)")
ONLY_WHEN_GRADED = ("import os, aipmlab.lab as lab_module\n"
                    "if os.environ.get('NBGRADER_EXECUTION') == 'autograde' or os.getuid() != 0:\n"
                    "    lab_module.Lab.check = lambda self, key, answer: None")
KEY_OFF = ("import os, sys, aipmlab.answer_key as answer_key\n"
           "os.environ['AIPMLAB_HOME'] = '/nonexistent'\n"
           "answer_key.load = lambda *args: None\n"
           "sys.modules['aipmlab.answer_key'] = None")
INPUT_TRANSFORMER = ("get_ipython().input_transformers_cleanup.append(\n"
                     "    lambda lines: ['pass\\n'] if any('lab.check(' in line for line in lines) else lines)")
PATCH_BUILTINS = ("import builtins, numpy, pandas\n"
                  "builtins.abs = lambda x: 0\n"
                  "numpy.isclose = lambda *a, **k: True\n"
                  "pandas.DataFrame.equals = lambda *a, **k: True\n"
                  "import aipmlab.exercises.checks as checks\n"
                  "checks.numbers_match = lambda *a, **k: True")
REWRITE_DATA = ("import pandas as pd, aipmlab.datasets as datasets\n"
                "frame = datasets.load('smart_reply_messages')\n"
                "frame['language'] = 'English'\n"
                "datasets.load = lambda *args, **kwargs: frame.copy()\n"
                "try:\n    frame.to_csv('/kit/datasets/smart_reply_messages.csv', index=False)\n"
                "except OSError:\n    pass")
FORGE_SNIPPET = ("from IPython.display import publish_display_data\n"
                 "publish_display_data({'application/x-aipmlab-answers+json': "
                 "{'nonce': 'guess', 'answers': {'language_mix': {'English': 1.0}}}})")
KEY_EXAMPLE_STATEMENT = "boundary_statement = '''{text}'''"


def controls(module: course.Module) -> list[Case]:
    """The module's worked solution (every automatic point) and its untouched release (none)."""
    number = f"m{module.number:02d}"
    return [Case(f"controls/{number}-solution", module, variant(module, "solutions"), at_most=module.autograded_points,
                 at_least=module.autograded_points),
            Case(f"controls/{number}-release", module, variant(module), at_most=0)]


def cases(course_dir: Path, results_dir: Path) -> list[Case]:
    """Every hostile submission and every control, with what each may score."""
    key_00 = str(paths.grading_dir() / "answer_key" / "m00_start_here.py")
    solution_00 = str(paths.solutions_dir() / M00.slug / M00.notebook_name)
    gradebook = str(course_dir / "gradebook.db")
    other_result = str(results_dir / "controls" / "m00-solution.json")
    from aipmlab import answer_key
    strong = answer_key.strong_example(answer_key.load(M01.code_name), "boundary_statement")
    def add_duplicate(notebook):
        """A copy of the locked check cell, placed first, that prints success instead of checking."""
        check = next(c for c in notebook.cells
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == check_cell_id("language_mix"))
        copy = nbformat.from_dict(json.loads(json.dumps(check)))
        copy.source = "print('✓ correct')"
        notebook.cells.insert(_setup_index(notebook) + 1, copy)

    def schema_99(notebook):
        for cell in notebook.cells:
            if "nbgrader" in cell.metadata:
                cell.metadata["nbgrader"]["schema_version"] = 99

    def delete_cells(notebook):
        notebook.cells = [c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                          != answer_cell_id("language_mix")]

    garbage = {"language_mix": GARBAGE_00}
    return [
        *controls(M00), *controls(M01),
        Case("patch/check", M00, variant(M00, answers=garbage, after_setup=(PATCH_CHECK,)), at_most=0),
        Case("patch/judge", M00, variant(M00, answers=garbage, after_setup=(PATCH_JUDGE,)), at_most=0),
        Case("patch/rebind-lab", M00, variant(M00, answers=garbage, after_setup=(REBIND_LAB,)), at_most=0),
        Case("patch/null-checks", M00, variant(M00, answers=garbage, after_setup=(NULL_CHECKS,)), at_most=0),
        Case("patch/only-when-graded", M00, variant(M00, answers=garbage, after_setup=(ONLY_WHEN_GRADED,)), at_most=0),
        Case("patch/answer-key-off", M00, variant(M00, answers=garbage, after_setup=(KEY_OFF,)), at_most=0),
        Case("patch/input-transformer", M00, variant(M00, answers=garbage, after_setup=(INPUT_TRANSFORMER,)),
             at_most=0),
        Case("patch/builtins-pandas-checks", M00, variant(M00, answers=garbage, after_setup=(PATCH_BUILTINS,)),
             at_most=0),
        Case("patch/m01-checker", M01, variant(M01, answers={"overall_quality": GARBAGE_01},
                                               after_setup=(PATCH_CHECK, PATCH_JUDGE)), at_most=0),
        Case("key/reference", M00, variant(M00, answers={"language_mix": "language_mix = lab._reference("
                                                          "lab.module.exercise('language_mix'))[1]"}), at_most=0),
        Case("key/load", M00, variant(M00, answers={"language_mix": "from aipmlab import answer_key\n"
                                                     "language_mix = answer_key.load('m00_start_here')"
                                                     ".language_mix(lab.data)"}), at_most=0),
        Case("key/read-files", M00, variant(M00, answers={"language_mix": reads(
            ["../../../grading/answer_key/m00_start_here.py", key_00, solution_00, gradebook, other_result,
             ], "language_mix")}), at_most=0, blocked=True),
        Case("key/exec-relative", M00, variant(M00, answers={"language_mix": (
            "try:\n    namespace = {}\n    exec(open('../../../grading/answer_key/m00_start_here.py').read(), namespace)\n"
            "    language_mix = namespace['language_mix'](lab.data)\nexcept Exception as error:\n"
            "    language_mix = {'blocked': type(error).__name__}")}), at_most=0, blocked=True),
        Case("key/worked-solution", M00, variant(M00, answers={"language_mix": (
            "from aipmlab.lab import worked_solution\n"
            "language_mix = {'blocked': worked_solution(lab.module, 'language_mix')}")}), at_most=0, blocked=True),
        Case("key/strong-example", M01, variant(M01, answers={
            "boundary_statement": KEY_EXAMPLE_STATEMENT.format(text=strong)}), at_most=0),
        Case("shadow/aipmlab-folder", M00, with_shadow_package(variant(M00)), at_most=0),
        Case("data/rewrite-cache", M00, variant(M00, answers=garbage, after_setup=(REWRITE_DATA,)), at_most=0),
        Case("data/other-seed", M00, variant(M00, "solutions", after_setup=(
            "seed = 7\nlab = Lab('00-start-here', seed=seed)",)), at_most=0),
        Case("write/gradebook-and-key", M00, variant(M00, answers=garbage, after_setup=(
            f"for path in [{gradebook!r}, {key_00!r}, {other_result!r}]:\n    try:\n"
            "        open(path, 'w').write('x')\n    except OSError:\n        pass",)), at_most=0),
        Case("forge/answer-output", M00, variant(M00, answers=garbage, at_end=(FORGE_SNIPPET,)), at_most=0),
        Case("metadata/schema-99", M00, variant(M00, "solutions", change=schema_99), at_most=1, at_least=1),
        Case("metadata/duplicate-grade-id", M00, variant(M00, answers=garbage, change=add_duplicate), at_most=0),
        Case("metadata/answer-cell-deleted", M00, variant(M00, "solutions", change=delete_cells), at_most=0),
        Case("malformed/not-json", M00, raw(M00, "{ this is not a notebook"), at_most=0, status="failed"),
        Case("malformed/invalid-nbformat", M00, raw(M00, json.dumps({"nbformat": 4, "nbformat_minor": 5,
                                                                    "metadata": {}, "cells": [{"cell_type": "code"}]})),
             at_most=0, status="failed"),
        Case("crash/exit", M00, variant(M00, "solutions", at_end=("exit()",)), at_most=1, at_least=1,
             status="partial"),
        Case("crash/kernel-dies", M00, variant(M00, "solutions", at_end=("import os\nos._exit(1)",)),
             at_most=1, at_least=1, status="partial"),
        Case("crash/kernel-dies-early", M00, variant(M00, "solutions", after_setup=("import os\nos._exit(1)",)),
             at_most=0, status="failed"),
        Case("limits/sigint-ignored-loop", M00, variant(M00, "solutions", at_end=(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",)),
             at_most=1, at_least=1, status="partial"),
        Case("limits/memory-hog", M00, variant(M00, "solutions", at_end=(
            "hog = []\nwhile True:\n    hog.append(bytearray(2**28))",)), at_most=1, at_least=1,
             status=("graded", "partial")),
        Case("limits/fork-bomb", M00, variant(M00, "solutions", at_end=(
            "import os, time\nwhile True:\n    try:\n        if os.fork() == 0:\n            time.sleep(3600)\n"
            "    except OSError:\n        time.sleep(0.01)",)),
             at_most=1, at_least=1, status="partial"),
        Case("limits/huge-output", M00, variant(M00, "solutions", at_end=("print('x' * 30_000_000)",)),
             at_most=1, at_least=1),
    ]
