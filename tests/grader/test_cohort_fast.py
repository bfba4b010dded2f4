"""The fast cohort command: the class through the fast path, recorded by nbgrader's own autograde.

Each student scores what the one-at-a-time command gives (the same autograded notebook, the same
gradebook entry, the same route for what nbgrader refuses); nbgrader finds every verdict already
computed; feedback renders; a rerun grades nothing; a kill -9 mid-class, then a rerun, gives the
grades of an uninterrupted run and leaves no half-written file.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest

from aipmlab import course, paths
from aipmlab.grader import cohort
from tests.conftest import write_course_config
from tests.grader.hostile import Case, cases, variant

M00 = course.module("00")
CHOSEN = ("controls/m00-solution", "controls/m00-release", "patch/check", "metadata/schema-99",
          "metadata/duplicate-grade-id", "malformed/not-json", "crash/exit", "slow/sleeps")
KILLED_CLASS = ("controls/m00-solution", "slow/sleeps", "patch/check", "metadata/schema-99", "crash/exit")
TWIN = "twin-of-controls-m00-release"   # hands in the same notebook as another student: graded once, recorded twice

pytestmark = pytest.mark.slow


def student_id(case_name: str) -> str:
    return case_name.replace("/", "-")


def scores(course_dir) -> dict[str, tuple]:
    """Each student's automatic score per graded cell, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id="aipmlab") as gradebook:
        return {student.id: tuple(sorted((grade.name, grade.auto_score) for submission in student.submissions
                                         for notebook in submission.notebooks for grade in notebook.grades))
                for student in gradebook.students}


def make_course(folder, chosen_names: tuple[str, ...] = CHOSEN, slow_seconds: float = 3) -> list:
    """A course with module 00 generated and each chosen case (and a twin) handed in; "slow/sleeps" sleeps
    `slow_seconds` at its end."""
    from nbgrader.apps import NbGraderAPI  # noqa: F401 (fail early when nbgrader is missing)

    folder.mkdir(parents=True)
    write_course_config(folder, "c.EngineAutograde.cell_seconds = 6", "c.EngineAutograde.wall_seconds = 90")
    shutil.copytree(paths.solutions_dir() / M00.slug, folder / "solutions" / M00.slug)
    slow = Case("slow/sleeps", M00, variant(M00, "solutions", at_end=(f"import time\ntime.sleep({slow_seconds})",)),
                at_most=1, at_least=1)  # takes a while without using the CPU, so a kill lands mid-class
    chosen = [case for case in cases(folder, folder / "results") + [slow] if case.name in chosen_names]
    assert cohort._nbgrader_api(folder).generate_assignment(M00.slug, force=True, create=True)["success"]
    for case in chosen:
        case.build(folder / "submitted" / student_id(case.name) / M00.slug)
    if "controls/m00-release" in chosen_names:
        shutil.copytree(folder / "submitted" / student_id("controls/m00-release"), folder / "submitted" / TWIN)
    return chosen


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cohort-fast")
    course_dir = base / "course"
    chosen = make_course(course_dir)
    from aipmlab import grader

    engine_runs = []
    original = grader.grade_notebook
    grader.grade_notebook = lambda *a, **k: engine_runs.append(a[0].submission_id) or original(*a, **k)
    try:
        rows = {row.student: row for row in cohort.autograde_fast(course_dir, M00.slug, workers=2, progress=False)}
    finally:
        grader.grade_notebook = original
    return {"dir": course_dir, "base": base, "cases": chosen, "rows": rows, "engine_runs": engine_runs}


def test_every_student_is_graded_on_the_route_the_plain_command_takes(fast_run):
    refused = {"metadata-schema-99", "metadata-duplicate-grade-id", "malformed-not-json"}
    assert sorted(fast_run["rows"]) == sorted([student_id(c.name) for c in fast_run["cases"]] + [TWIN])
    for student, row in fast_run["rows"].items():
        assert row.how == ("engine only" if student in refused else "nbgrader"), row


def test_each_scores_only_what_it_earned_in_the_gradebook(fast_run):
    found = scores(fast_run["dir"])
    for case in fast_run["cases"]:
        automatic = sum(score or 0 for _cell, score in found[student_id(case.name)])
        assert case.at_least <= automatic <= case.at_most, case.name
    assert found[TWIN] == found[student_id("controls/m00-release")]


def test_nbgrader_found_every_verdict_already_computed(fast_run):
    assert fast_run["engine_runs"] == [], "no notebook ran again in a fresh kernel while nbgrader recorded it"


def test_the_same_gradebook_and_autograded_notebook_as_the_plain_command(fast_run, tmp_path):
    chosen = ["patch-check"]
    plain_dir = tmp_path / "plain"
    make_course(plain_dir, ("patch/check",))
    cohort.autograde(plain_dir, M00.slug, chosen)
    fast_scores, plain_scores = scores(fast_run["dir"]), scores(plain_dir)
    for student in chosen:
        assert fast_scores[student] == plain_scores[student]
        outputs = [[cell.get("outputs") for cell in nbformat.read(folder / "autograded" / student / M00.slug /
                                                                  M00.notebook_name, as_version=4).cells]
                   for folder in (fast_run["dir"], plain_dir)]
        assert outputs[0] == outputs[1]


def test_feedback_renders(fast_run):
    api = cohort._nbgrader_api(fast_run["dir"])
    assert api.generate_feedback(M00.slug, "controls-m00-solution", force=True)["success"]
    assert (fast_run["dir"] / "feedback" / "controls-m00-solution" / M00.slug / f"{M00.slug}.html").exists()


def test_a_rerun_grades_nothing_and_changes_nothing(fast_run, capsys):
    from aipmlab.cli import main
    from aipmlab.grader import fast

    before = scores(fast_run["dir"])
    started = []
    original = fast._start_parent
    fast._start_parent = lambda *a: started.append(1) or original(*a)
    try:
        assert main(["autograde", M00.slug, "--course", str(fast_run["dir"])]) == 0
    finally:
        fast._start_parent = original
    assert started == [] and scores(fast_run["dir"]) == before
    shown = capsys.readouterr()
    assert "controls-m00-solution: nbgrader, 1/1" in shown.out
    assert "grading 00-start-here" in shown.err and "<" in shown.err, "a progress bar with its ETA"


KILLED = "import sys\nfrom aipmlab.cli import main\nsys.exit(main(['autograde', {slug!r}, '--course', {course!r}]))\n"


def test_kill_9_mid_class_then_rerun_gives_the_uninterrupted_grades(fast_run):
    course_dir = fast_run["base"] / "killed"
    make_course(course_dir, KILLED_CLASS)
    store = course_dir / cohort.RESULTS_FOLDER / M00.slug
    process = subprocess.Popen([sys.executable, "-c", KILLED.format(slug=M00.slug, course=str(course_dir))],
                               start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, PYTHONPATH=str(paths.kit_root())))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(store.glob("*.json")):
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(course_dir / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len(list(store.glob("*.json"))) < len(KILLED_CLASS), "killed mid-class"
    cohort.autograde_fast(course_dir, M00.slug, progress=False)
    uninterrupted = scores(fast_run["dir"])
    assert scores(course_dir) == {student_id(name): uninterrupted[student_id(name)] for name in KILLED_CLASS}
    assert not [path for path in store.iterdir() if path.name.endswith(".tmp")]
