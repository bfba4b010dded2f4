"""The cohort path: nbgrader manages the course, the engine decides its autograded scores.

Hostile submissions go through `aipmlab autograde` (nbgrader, one student at a time): each scores
at most what it honestly earned, a submission nbgrader refuses is still graded, the class finishes,
and feedback shows no kit path, no answer key and no traceback.
"""

from __future__ import annotations

import json
import shutil

import pytest

from aipmlab import paths
from aipmlab.grader import cohort
from tests.conftest import write_course_config
from tests.grader.hostile import cases
from tests.grader.test_engine import grader_files

CHOSEN = ("controls/m00-solution", "controls/m00-release", "controls/m01-solution", "controls/m01-release",
          "patch/check", "patch/only-when-graded", "patch/answer-key-off", "patch/input-transformer",
          "key/read-files", "shadow/aipmlab-folder", "write/gradebook-and-key", "metadata/schema-99",
          "metadata/duplicate-grade-id", "malformed/not-json", "crash/kernel-dies", "limits/sigint-ignored-loop")

pytestmark = pytest.mark.slow


def student_id(case_name: str) -> str:
    return case_name.replace("/", "-")


@pytest.fixture(scope="module")
def cohort_run(tmp_path_factory):
    from nbgrader.apps import NbGraderAPI  # noqa: F401 (fail early when nbgrader is missing)

    course_dir = tmp_path_factory.mktemp("cohort")
    write_course_config(course_dir, "c.EngineAutograde.cell_seconds = 6", "c.EngineAutograde.wall_seconds = 90")
    shutil.copytree(paths.solutions_dir(), course_dir / "solutions")
    chosen = [case for case in cases(course_dir, course_dir / "results") if case.name in CHOSEN]
    api = cohort._nbgrader_api(course_dir)
    for slug in sorted({case.module.slug for case in chosen}):
        assert api.generate_assignment(slug, force=True, create=True)["success"]
    for case in chosen:
        case.build(course_dir / "submitted" / student_id(case.name) / case.module.slug)
    before = grader_files()
    rows = {}
    for slug in sorted({case.module.slug for case in chosen}):
        for row in cohort.autograde(course_dir, slug):
            rows[row.student] = row
    return {"dir": course_dir, "cases": chosen, "rows": rows, "before": before, "after": grader_files(), "api": api}


def test_every_student_was_graded(cohort_run):
    assert sorted(cohort_run["rows"]) == sorted(student_id(case.name) for case in cohort_run["cases"])


@pytest.mark.parametrize("name", CHOSEN)
def test_each_scores_only_what_it_earned_in_the_gradebook(cohort_run, name):
    from nbgrader.api import Gradebook

    case = next(c for c in cohort_run["cases"] if c.name == name)
    row = cohort_run["rows"][student_id(name)]
    with Gradebook(f"sqlite:///{cohort_run['dir'] / 'gradebook.db'}", course_id="aipmlab") as gradebook:
        submission = gradebook.find_submission(case.module.slug, student_id(name))
        automatic = sum(grade.auto_score or 0 for grade in submission.notebooks[0].grades)
    assert case.at_least <= automatic <= case.at_most, row
    refused_by_nbgrader = ("metadata/schema-99", "metadata/duplicate-grade-id", "malformed/not-json")
    expected_route = "engine only" if name in refused_by_nbgrader else "nbgrader"
    assert row.how == expected_route, row


def test_no_grader_file_changed(cohort_run):
    assert cohort_run["before"] == cohort_run["after"]


def test_feedback_shows_no_kit_path_key_or_traceback(cohort_run):
    import nbformat

    api = cohort_run["api"]
    for case in cohort_run["cases"]:
        if cohort_run["rows"][student_id(case.name)].how != "nbgrader":
            continue
        assert api.generate_feedback(case.module.slug, student_id(case.name), force=True)["success"]
        assert (cohort_run["dir"] / "feedback" / student_id(case.name) / case.module.slug /
                f"{case.module.slug}.html").exists()
        graded = nbformat.read(cohort_run["dir"] / "autograded" / student_id(case.name) / case.module.slug /
                               case.module.notebook_name, as_version=4)
        shown = json.dumps([cell.get("outputs", []) for cell in graded.cells])  # what feedback adds to the student's code
        for leak in (str(paths.kit_root()), "answer_key", "Traceback (most recent call last)", "/kit/",
                     "site-packages"):
            assert leak not in shown, f"{case.name}: {leak}"
