"""nbgrader's gradebook on PostgreSQL, as nbgrader's FAQ recommends when several graders work at once.

The same small class of module 00 is autograded twice by `aipmlab autograde`: into SQLite by one grader,
student after student, and into a PostgreSQL server (see conftest.py) by two graders at the same time,
each with its own share of the class. Both gradebooks must hold the same rows: the engine's scores do
not depend on the database, and two graders writing at once lose, duplicate or mix up nothing.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sys
from pathlib import Path

import pytest

from aipmlab import course, paths
from aipmlab.grader import cohort
from tests.conftest import write_course_config
from tests.grader.hostile import cases

pytestmark = pytest.mark.slow
MODULE = course.module("00")
CLASS = {"solver": "controls/m00-solution",             # autograded by nbgrader, judged by the engine
         "broken-metadata": "metadata/duplicate-grade-id"}  # refused by nbgrader, graded by the engine alone: 0
GRADER_SHARES = (["solver"], ["broken-metadata"])


def make_course(folder: Path, db_url: str) -> Path:
    """A throwaway course with the kit's configuration and `db_url`, module 00 generated, the class handed in."""
    folder.mkdir()
    write_course_config(folder, "c.EngineAutograde.cell_seconds = 6", "c.EngineAutograde.wall_seconds = 90",
                        f"c.CourseDirectory.db_url = {db_url!r}")
    shutil.copytree(paths.solutions_dir() / MODULE.slug, folder / "solutions" / MODULE.slug)
    assert cohort._nbgrader_api(folder).generate_assignment(MODULE.slug, force=True, create=True)["success"]
    by_name = {case.name: case for case in cases(folder, folder / "results")}
    for student, case_name in CLASS.items():
        by_name[case_name].build(folder / "submitted" / student / MODULE.slug)
    return folder


def gradebook_rows(db_url: str) -> list[tuple]:
    """Every grade of module 00 in the gradebook, as plain values, sorted (no timestamps or row ids)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id="aipmlab") as gradebook:
        rows = [(submission.student_id, notebook.name, grade.name, grade.auto_score, grade.manual_score,
                 grade.max_score, grade.needs_manual_grade, submission.score)
                for submission in gradebook.assignment_submissions(MODULE.slug)
                for notebook in submission.notebooks for grade in notebook.grades]
    return sorted(rows)


def grader(course_dir: Path, students: list[str]) -> None:
    """A grader's process: `aipmlab autograde` for some students, as typed at a terminal, its exit code kept."""
    from aipmlab.cli import main

    arguments = ["autograde", MODULE.slug, "--course", str(course_dir),
                 *[argument for student in students for argument in ("--student", student)]]
    sys.exit(main(arguments))


@pytest.fixture(scope="module")
def gradebooks(tmp_path_factory, postgres):
    return grade_into_both(tmp_path_factory.mktemp("gradebooks"), postgres)


def grade_into_both(base: Path, postgres) -> dict:
    """The class autograded into SQLite by one grader and into PostgreSQL by two at once; both gradebooks' rows."""
    sqlite_url = f"sqlite:///{base / 'sqlite' / 'gradebook.db'}"
    postgres_url = postgres.database("cohort")
    on_sqlite = make_course(base / "sqlite", sqlite_url)
    on_postgres = make_course(base / "postgres", postgres_url)
    serial = cohort.autograde(on_sqlite, MODULE.slug)
    # Forked from this process, the graders skip a fresh interpreter's imports; each still opens its own
    # connections, grades in its own sandboxes and writes on its own, at the same time as the other.
    graders = [multiprocessing.get_context("fork").Process(target=grader, args=(on_postgres, share))
               for share in GRADER_SHARES]
    for process in graders:
        process.start()
    for process in graders:
        process.join(timeout=300)
    return {"sqlite": gradebook_rows(sqlite_url), "postgres": gradebook_rows(postgres_url), "serial": serial,
            "exit codes": [process.exitcode for process in graders]}


def test_both_graders_finished_on_postgres(gradebooks):
    assert gradebooks["exit codes"] == [0, 0]


def test_the_class_is_graded_as_the_engine_decides(gradebooks):
    scores = {row.student: (row.how, row.points) for row in gradebooks["serial"]}
    assert scores == {"solver": ("nbgrader", 1), "broken-metadata": ("engine only", 0)}


def test_postgres_and_sqlite_hold_identical_gradebooks(gradebooks):
    assert gradebooks["sqlite"], "the SQLite gradebook has grades"
    assert {row[0] for row in gradebooks["sqlite"]} == set(CLASS)
    assert gradebooks["postgres"] == gradebooks["sqlite"]
