"""The bootcamp flow with nbgrader's own apps: release, collect, autograde, manual grading, feedback, export.

A student who submits the worked solutions gets every autograded point; a student who submits the
untouched release gets none.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aipmlab import course, paths
from aipmlab.grader import cohort
from tests.conftest import ipc_kernel_prefix, write_course_config

MODULES = course.modules()
SOLVER, UNTOUCHED = "solver", "untouched"


def nbgrader(course_dir: Path, *arguments: str) -> None:
    """Run an nbgrader app with the kit's real configuration, rooted in a scratch course folder."""
    tools = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=tools + os.pathsep + os.environ.get("PATH", ""))
    command = [str(Path(tools) / "nbgrader"), *arguments]
    result = subprocess.run(command, cwd=course_dir, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(arguments)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    course_dir = tmp_path_factory.mktemp("course")
    write_course_config(course_dir, "c.KernelManager.transport = 'ipc'", f"c.KernelManager.ip = {ipc_kernel_prefix()!r}")
    shutil.copytree(paths.solutions_dir(), course_dir / "solutions")
    api = cohort._nbgrader_api(course_dir)  # nbgrader's own apps, in this process
    for module in MODULES:
        succeeded(api.generate_assignment(module.slug, force=True, create=True))
        for student, origin in ((SOLVER, "solutions"), (UNTOUCHED, "notebooks")):
            target = course_dir / "submitted" / student / module.slug
            target.mkdir(parents=True)
            shutil.copy(course_dir / origin / module.slug / module.notebook_name, target)
            succeeded(api.autograde(module.slug, student, force=True, create=True))
    return course_dir


def succeeded(outcome: dict) -> None:
    assert outcome["success"], f"{outcome.get('error')}\n{outcome.get('log')}"


def gradebook(course_dir: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id="aipmlab")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_worked_solutions_get_every_autograded_point(graded_course, module):
    with gradebook(graded_course) as gb:
        notebook = gb.find_submission(module.slug, SOLVER).notebooks[0]
        checks = {grade.name: grade for grade in notebook.grades if grade.name.endswith("-check")}
        autograded = [exercise for exercise in module.exercises if exercise.points > 0]
        assert len(checks) == len(autograded)
        for exercise in autograded:
            grade = checks[f"{exercise.key}-check"]
            assert (grade.auto_score, grade.max_score) == (exercise.points, exercise.points), exercise.key
        assert notebook.needs_manual_grade == (module.manual_points > 0)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.slug)
def test_untouched_release_scores_zero(graded_course, module):
    with gradebook(graded_course) as gb:
        submission = gb.find_submission(module.slug, UNTOUCHED)
        assert submission.score == 0
        assert submission.max_score == module.autograded_points + module.manual_points


def test_manual_grades_feedback_and_export(graded_course):
    with gradebook(graded_course) as gb:
        for module in MODULES:
            for grade in gb.find_submission(module.slug, SOLVER).notebooks[0].grades:
                if grade.auto_score is None:
                    grade.manual_score = grade.max_score  # what a reviewer enters in the formgrader
            gb.db.commit()
    api = cohort._nbgrader_api(graded_course)
    for module in MODULES:
        succeeded(api.generate_feedback(module.slug, force=True))
        for student in (SOLVER, UNTOUCHED):
            assert (graded_course / "feedback" / student / module.slug / f"{module.slug}.html").exists()
    export = graded_course / "grades.csv"
    nbgrader(graded_course, "export", f"--to={export}")
    rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(export.open())}
    for module in MODULES:
        full = module.autograded_points + module.manual_points
        assert float(rows[(module.slug, SOLVER)]["raw_score"]) == full
        assert float(rows[(module.slug, SOLVER)]["max_score"]) == full
        assert float(rows[(module.slug, UNTOUCHED)]["raw_score"]) == 0
