"""`aipmlab autograde ASSIGNMENT`: nbgrader's autograde, one student at a time, so no submission stops the rest.

nbgrader (configured in grading/nbgrader_config.py) already asks the engine for every verdict. Run
over a whole class in one go, though, one notebook whose nbgrader metadata it rejects (say a cell
claiming `schema_version: 99`) stops every student after it. Here each student is autograded on its
own; when nbgrader refuses a submission, the engine grades it anyway and its automatic scores are
written into the gradebook, with the reason in the summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aipmlab.lab import check_cell_id


@dataclass
class CohortRow:
    """What happened to one student's submission."""

    student: str
    how: str        # "nbgrader" (autograded as usual) | "engine only" (nbgrader refused it) | "failed"
    points: float
    max_points: float
    reason: str


def _nbgrader_api(course_dir: Path):
    """nbgrader's in-process API for `course_dir`, configured by its nbgrader_config.py."""
    import os
    import sys

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    tools = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from the environment to set up its database
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def students_of(course_dir: Path, assignment: str) -> list[str]:
    """Every student with a submitted folder for `assignment`, sorted."""
    return sorted(path.parent.name for path in (course_dir / "submitted").glob(f"*/{assignment}") if path.is_dir())


def autograde(course_dir: Path, assignment: str, students: list[str] | None = None,
              allow_unisolated: bool = False) -> list[CohortRow]:
    """Autograde each student's submission of `assignment` through nbgrader and the engine, one at a time."""
    from nbgrader.api import Gradebook

    api = _nbgrader_api(course_dir)
    rows = []
    for student in students or students_of(course_dir, assignment):
        outcome = api.autograde(assignment, student, force=True, create=True)
        if outcome["success"]:
            with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
                submission = gradebook.find_submission(assignment, student)
                rows.append(CohortRow(student, "nbgrader", submission.score, submission.max_score, ""))
            continue
        rows.append(_engine_only(api, course_dir, assignment, student, allow_unisolated,
                                 _exception_line(outcome.get("error") or "")))
    return rows


def _exception_line(error: str) -> str:
    """The `SomeError: message` line of a traceback, squeezed to one line."""
    found = re.findall(r"^[\w.]+(?:Error|Exception): .*(?:\n(?![\w.]+(?:Error|Exception): ).*)*", error, re.MULTILINE)
    return " ".join(found[-1].split())[:240] if found else "no reason given"


def _engine_only(api, course_dir: Path, assignment: str, student: str, allow_unisolated: bool,
                 refusal: str) -> CohortRow:
    """Grade a submission nbgrader refused with the engine alone and record its automatic scores."""
    from nbgrader.api import Gradebook

    from aipmlab import course, datasets
    from aipmlab.grader import Submission, grade_notebook
    from aipmlab.grader.nbgrader_autograde import _safe_id

    module = course.module(assignment)
    notebook = course_dir / "submitted" / student / assignment / module.notebook_name
    if not notebook.exists():
        return CohortRow(student, "failed", 0, 0, f"no {module.notebook_name} was handed in.")
    seed = datasets.default_seed(module.tables[0])
    result = grade_notebook(Submission(_safe_id(student, assignment), notebook, module.slug, seed),
                            allow_unisolated=allow_unisolated)
    verdicts = {check_cell_id(exercise.key): exercise for exercise in result.exercises}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        for grade in submission.notebooks[0].grades:
            verdict = verdicts.get(grade.name)
            if verdict is not None:
                grade.auto_score = verdict.points
                grade.needs_manual_grade = False
            else:  # a written answer: a reviewer reads it in the submitted notebook
                grade.auto_score = None
                grade.needs_manual_grade = True
        gradebook.db.commit()
        score = gradebook.find_submission(assignment, student).score
    reason = (f"nbgrader refused it ({refusal}), so the engine graded it alone: {result.status}"
              + (f", {result.reason}" if result.reason else ""))
    return CohortRow(student, "engine only", score, module.autograded_points + module.manual_points, reason)
