"""nbgrader's gradebook on PostgreSQL, as nbgrader's FAQ recommends when several graders work at once.

The same small class of module 00 is autograded twice by `aipmlab autograde`: into SQLite by one grader,
student after student, and into a PostgreSQL server (see conftest.py) by two graders at the same time,
each with its own share of the class. Both gradebooks must hold the same rows: the engine's scores do
not depend on the database, and two graders writing at once lose, duplicate or mix up nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aipmlab import course, paths
from aipmlab.grader import cohort
from tests.conftest import write_course_config
from tests.grader.hostile import cases

pytestmark = pytest.mark.slow
MODULE = course.module("00")
CLASS = {"solver": "controls/m00-solution", "untouched": "controls/m00-release",
         "broken-metadata": "metadata/schema-99"}  # the last is refused by nbgrader and graded by the engine alone
GRADER_SHARES = (["solver"], ["untouched", "broken-metadata"])  # each grader writes both kinds of route


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


def autograde_command(course_dir: Path, students: list[str]) -> list[str]:
    """`aipmlab autograde` for some students, as a grader at a terminal would type it."""
    return [sys.executable, "-m", "aipmlab.cli", "autograde", MODULE.slug, "--course", str(course_dir),
            *[argument for student in students for argument in ("--student", student)]]


@pytest.fixture(scope="module")
def gradebooks(tmp_path_factory, postgres):
    base = tmp_path_factory.mktemp("gradebooks")
    sqlite_url = f"sqlite:///{base / 'sqlite' / 'gradebook.db'}"
    postgres_url = postgres.database("cohort")
    on_sqlite = make_course(base / "sqlite", sqlite_url)
    on_postgres = make_course(base / "postgres", postgres_url)
    serial = cohort.autograde(on_sqlite, MODULE.slug)
    env = dict(os.environ, PYTHONPATH=str(paths.kit_root()),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    graders = [subprocess.Popen(autograde_command(on_postgres, share), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for share in GRADER_SHARES]
    outputs = [grader.communicate(timeout=300)[0] for grader in graders]
    return {"sqlite": gradebook_rows(sqlite_url), "postgres": gradebook_rows(postgres_url), "serial": serial,
            "outputs": outputs, "exit codes": [grader.returncode for grader in graders]}


def test_both_graders_finished_on_postgres(gradebooks):
    assert gradebooks["exit codes"] == [0, 0], gradebooks["outputs"]
    printed = "\n".join(gradebooks["outputs"])
    for student in CLASS:
        assert f"{student}: " in printed, printed


def test_the_class_is_graded_as_the_engine_decides(gradebooks):
    scores = {row.student: (row.how, row.points) for row in gradebooks["serial"]}
    assert scores == {"solver": ("nbgrader", 1), "untouched": ("nbgrader", 0), "broken-metadata": ("engine only", 1)}


def test_postgres_and_sqlite_hold_identical_gradebooks(gradebooks):
    assert gradebooks["sqlite"], "the SQLite gradebook has grades"
    assert {row[0] for row in gradebooks["sqlite"]} == set(CLASS)
    assert gradebooks["postgres"] == gradebooks["sqlite"]
