"""The README's cohort commands, run exactly as written, on a fresh copy of the course.

The instructor's block and the student's block are read from README.md and run line by line with bash:
generate, release to a local exchange in a temporary folder, one student fetches, answers and submits,
a second student's notebook is placed in submitted/ (the no-exchange path), collect, autograde by the
engine, a manual grade entered as the formgrader would, feedback and export. `make course` is the one
line not run: it opens a browser session, whose part (the manual score) the test enters through
nbgrader's gradebook API.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from aipmlab import course, paths, release
from tests.conftest import ROOT, ipc_kernel_prefix

pytestmark = pytest.mark.slow
ASSIGNMENT = "01-failure-boundaries"
EXCHANGE_STUDENT = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip() or "student"
PLACED_STUDENT = "placed-by-hand"


def readme_blocks() -> tuple[list[str], list[str]]:
    """The instructor's and the student's command lines from the README's cohort section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**A bootcamp running a cohort.**"):text.index("*Who decides the points.*")]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, "the cohort section has an instructor block and a student block"
    lines = [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip()] for block in blocks]
    return lines[0], lines[1]


def run(line: str, cwd: Path, env: dict) -> str:
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"`{line}` failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    base = tmp_path_factory.mktemp("cohort-readme")
    course_dir, exchange, student_home = base / "course", base / "exchange", base / "student"
    course_dir.mkdir()
    exchange.mkdir(mode=0o777)
    student_home.mkdir()
    for name in ("solutions", "notebooks", "grading"):
        shutil.copytree(ROOT / name, course_dir / name)
    exchange_line = f"c.Exchange.root = {str(exchange)!r}\n"
    (course_dir / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + exchange_line +
                                                  "c.KernelManager.transport = 'ipc'\n"
                                                  f"c.KernelManager.ip = {ipc_kernel_prefix()!r}\n")
    (student_home / "nbgrader_config.py").write_text("c = get_config()\n" + exchange_line)
    venv_bin = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=f"{venv_bin}{os.pathsep}{os.environ['PATH']}", HOME=str(base / "home"),
               JUPYTER_DATA_DIR=str(base / "jupyter-data"))
    instructor, student = readme_blocks()
    assert "make course" in instructor
    before = {path: path.read_bytes() for path in (course_dir / "notebooks").rglob("*.ipynb")}
    log = []
    for line in instructor:
        if line.startswith("nbgrader collect"):
            for student_line in student:
                if student_line.startswith("nbgrader submit"):
                    answer_like_a_student(student_home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
                log.append(run(student_line, student_home, env))
            placed = course_dir / "submitted" / PLACED_STUDENT / ASSIGNMENT
            placed.mkdir(parents=True)
            shutil.copy(release.release_notebook_path(course.module(ASSIGNMENT)), placed)
        if line.startswith("make course"):
            enter_manual_grades(course_dir)
            continue
        log.append(run(line, course_dir, env))
    return {"dir": course_dir, "log": "\n".join(log), "before": before}


def answer_like_a_student(notebook_path: Path) -> None:
    """A student who answers exercise 1 with the worked solution, writes the statement, and leaves the rest."""
    from aipmlab import answer_key

    statement = answer_key.strong_example(answer_key.load(course.module(ASSIGNMENT).code_name), "boundary_statement")
    source = nbformat.read(release.source_notebook_path(course.module(ASSIGNMENT)), as_version=4)
    worked = next(c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "overall_quality-answer")
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "overall_quality-answer":
            cell.source = worked.replace("### BEGIN SOLUTION\n", "").replace("### END SOLUTION\n", "")
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "boundary_statement-answer":
            cell.source = f"boundary_statement = {statement!r}"
    nbformat.write(notebook, notebook_path)


def enter_manual_grades(course_dir: Path) -> None:
    """What a reviewer enters in the formgrader: one point on the exchange student's written answer."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id="aipmlab") as gradebook:
        notebook = gradebook.find_submission(ASSIGNMENT, EXCHANGE_STUDENT).notebooks[0]
        written = [grade for grade in notebook.grades if grade.auto_score is None]
        assert written, "a written answer waits for a reviewer"
        written[0].manual_score = 1
        gradebook.db.commit()


def test_generate_leaves_the_committed_release_unchanged(cohort):
    for path, data in cohort["before"].items():
        assert release.notebook_json(path) == release.notebook_json(path), path
        assert nbformat.reads(path.read_text(), 4) == nbformat.reads(data.decode(), 4), f"{path.name} changed"


def test_the_exchange_student_and_the_placed_student_are_graded_by_the_engine(cohort):
    exported = {row["student_id"]: row for row in csv.DictReader((cohort["dir"] / "grades.csv").open())
                if row["assignment"] == ASSIGNMENT}
    assert set(exported) == {EXCHANGE_STUDENT, PLACED_STUDENT}
    first_exercise = course.module(ASSIGNMENT).exercises[0].points
    assert float(exported[EXCHANGE_STUDENT]["raw_score"]) == first_exercise + 1  # exercise 1, plus the manual point
    assert float(exported[PLACED_STUDENT]["raw_score"]) == 0


def test_feedback_shows_messages_but_no_kit_code_paths_or_reference_values(cohort):
    for student in (EXCHANGE_STUDENT, PLACED_STUDENT):
        html = (cohort["dir"] / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "not attempted" in html
        assert str(paths.kit_root()) not in html and "aipmlab/" not in html
        assert "Traceback (most recent call last)" not in html and 'File "' not in html
        assert "answer_key" not in html and "BEGIN SOLUTION" not in html
    from aipmlab import answer_key
    from aipmlab.exercises.core import DataSource

    reference = answer_key.load(course.module(ASSIGNMENT).code_name).overall_quality(DataSource())
    html = (cohort["dir"] / "feedback" / PLACED_STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    for value in (reference["good_rate"], reference["ci_low"], reference["ci_high"]):
        assert f"{value:.4f}" not in html and f"{value:.1%}" not in html, "feedback reveals a reference value"


def test_the_formgrader_shows_the_rubric_under_each_written_answer(cohort):
    graded = nbformat.read(cohort["dir"] / "autograded" / EXCHANGE_STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    written = [e for e in course.module(ASSIGNMENT).exercises if e.written]
    for exercise in written:
        check = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{exercise.key}-check")
        shown = "".join(o.get("text", "") for o in check.outputs)
        assert "Rubric for the reviewer" in shown and "(up to" in shown
