"""nbgrader's autograde step, judged by the engine: a preprocessor that replaces nbgrader's `Execute`.

nbgrader stays the course manager (sanitising, the gradebook, the formgrader, feedback, export). In
place of running the student's notebook in a kernel that decides its own check cells, this
preprocessor hands the notebook to the engine and writes each check cell's output from the engine's
verdict: an error output for a miss (so `SaveAutoGrades` scores it zero), the verdict text otherwise.
The outputs carry the learner-facing message only: no kit paths, no reference values, no hidden checks.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Integer, Unicode

from aipmlab.lab import check_cell_id

_ERROR_NAMES = {"not attempted": "NotAttempted", "incorrect": "IncorrectAnswer"}


class EngineAutograde(NbGraderPreprocessor):
    """Grade the notebook with the aipmlab engine and write its verdicts into the check cells."""

    seed = Integer(None, allow_none=True, help="The data seed to grade on; by default the module's canonical "
                                              "seed, the one the released notebook uses.").tag(config=True)
    allow_unisolated = Bool(False, help="Grade even where the sandbox cannot isolate the notebook.").tag(config=True)
    cell_seconds = Integer(120, help="Wall time allowed per cell.").tag(config=True)
    wall_seconds = Integer(600, help="Wall time allowed per notebook.").tag(config=True)
    memory_mib = Integer(3072, help="Memory allowed per process of the notebook.").tag(config=True)
    graded_in_advance = Unicode("", help="A folder of results the fast cohort command already computed (see "
                                         "`cohort.autograde_fast`): a notebook whose execution key has one there is "
                                         "not run again.").tag(config=True)

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        """Run the engine on `nb` and replace every check cell's outputs with its verdict."""
        from aipmlab import course, datasets
        from aipmlab.grader import Limits, Submission, grade_notebook

        info = resources["nbgrader"]
        module = course.module(info["assignment"])
        seed = self.seed if self.seed is not None else datasets.default_seed(module.tables[0])
        limits = Limits(memory_mib=self.memory_mib, cell_seconds=self.cell_seconds, wall_seconds=self.wall_seconds)
        result = self._graded_in_advance(nb, seed, module)
        if result is None:
            with tempfile.TemporaryDirectory(prefix="aipmlab-autograde-") as folder:
                copy = Path(folder) / f"{info['notebook']}.ipynb"
                nbformat.write(nb, copy)
                result = grade_notebook(Submission(_safe_id(info["student"], info["assignment"]), copy, module.slug,
                                                   seed), limits, allow_unisolated=self.allow_unisolated)
        self.log.info("Engine: %s/%s %s, %s/%s automatic points%s", info["student"], info["assignment"],
                      result.status, result.points, result.max_points, f" ({result.reason})" if result.reason else "")
        verdicts = {check_cell_id(exercise.key): exercise for exercise in result.exercises}
        note = "" if result.status == "graded" else f" (Grading note: {result.reason})"
        rubrics = _rubrics(module)
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
                if grade_id in verdicts:
                    verdict = verdicts[grade_id]
                    cell.outputs = [_verdict_output(verdict, note)]
                    if verdict.key in rubrics:  # the reviewer scores the written answer just above by this
                        if isinstance(verdict.answer, str) and verdict.answer.strip():  # the text, not the code
                            shown = f"\nThe answer as handed in:\n{_wrapped(verdict.answer)}\n"
                            cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=shown))
                        rubric = f"\nRubric for the reviewer:\n{_wrapped(rubrics[verdict.key], '  ')}\n"
                        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=rubric))
        return nb, resources


    def _graded_in_advance(self, nb: Any, seed: int, module: Any) -> Any:
        """The result the fast cohort command stored for this very notebook, seed and answer key, or None."""
        if not self.graded_in_advance:
            return None
        from aipmlab.grader import SubmissionResult, judge

        key = execution_key(nb, seed, judge.answer_key_fingerprint(module))
        try:
            return SubmissionResult.from_json(json.loads((Path(self.graded_in_advance) / f"{key}.json").read_text()))
        except (OSError, ValueError, TypeError, KeyError):
            return None


def execution_key(nb: Any, seed: int, fingerprint: str) -> str:
    """What decides a run's result, as a digest: each cell's type, source and tags in order, the seed, the key."""
    cells = [(cell.cell_type, cell.source, sorted(t for t in cell.get("metadata", {}).get("tags", []) if isinstance(t, str)))
             for cell in nb.cells]
    return hashlib.sha256(json.dumps([cells, seed, fingerprint]).encode()).hexdigest()


def _rubrics(module: Any) -> dict[str, str]:
    """Each written exercise's rubric as text, from the answer key on the grader's machine."""
    from aipmlab import answer_key

    key = answer_key.load(module.code_name)
    return {name: rubric.as_text() for name, rubric in getattr(key, "RUBRICS", {}).items()} if key else {}


def _wrapped(text: str, hanging: str = "", width: int = 96) -> str:
    """`text` with every line wrapped to `width` columns, continuing at its indent plus `hanging` (the formgrader
    and feedback pages do not wrap output)."""
    lines = []
    for line in text.splitlines():
        indent = line[:len(line) - len(line.lstrip())]
        lines += textwrap.wrap(line, width, subsequent_indent=indent + hanging) or [""]
    return "\n".join(lines)


def _safe_id(student: str, assignment: str) -> str:
    """A submission id the engine accepts, from nbgrader's student and assignment ids."""
    clean = lambda text: "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "_"  # noqa: E731
    return f"{clean(student)}/{clean(assignment)}"


def _verdict_output(exercise: Any, note: str) -> Any:
    """The output nbgrader scores: an error for anything short of correct, the verdict text otherwise."""
    label = f"Exercise {exercise.number} ({exercise.key})"
    if exercise.state == "correct":
        text = f"✓ {label}: correct, {exercise.points}/{exercise.max_points} points. {exercise.message}{note}\n"
        return nbformat.v4.new_output("stream", name="stdout", text=text)
    if exercise.state == "ready for review":
        return nbformat.v4.new_output("stream", name="stdout",
                                      text=f"✎ {label}: ready for review. {exercise.message}{note}\n")
    name = _ERROR_NAMES.get(exercise.state, "IncorrectAnswer")
    message = f"{label}: {exercise.state}. {exercise.message}{note}"
    lines = textwrap.wrap(f"{name}: {message}", 96)  # feedback HTML does not wrap a traceback line
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=lines)
