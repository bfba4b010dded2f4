"""A reviewer in a real browser: JupyterLab's formgrader (nbgrader's lab extension) on a graded course.

One student hands in module 01's worked solutions; `aipmlab autograde` grades them. In headless
Chromium the reviewer opens Nbgrader → Formgrader in the instructor's JupyterLab, goes to the
student's submission through Manual Grading, reads the written answer's text (not only the code that
made it) and its rubric, and types a score. `nbgrader export` then carries that score in the student's total. Needs Chromium (see
test_browser.py for how it is found or installed).
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from aipmlab import answer_key, course, paths
from tests.conftest import write_course_config
from tests.test_browser import chromium_path, free_port, wait_for_lab

pytestmark = pytest.mark.slow
MODULE = course.module("01")
STUDENT = "ada"
WRITTEN = next(exercise for exercise in MODULE.exercises if exercise.written)
REVIEWER_SCORE = 4
TOKEN = "aipmlab-formgrader-test"


def venv_tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@contextlib.contextmanager
def instructor_lab(base: Path) -> Iterator[dict]:
    """A course with one autograded student, and the instructor's JupyterLab on it (a free port), stopped after."""
    pytest.importorskip("playwright", reason="playwright is a test dependency; run `make test` to install it")
    browser = chromium_path()
    from aipmlab.grader import cohort

    course_dir = base / "course"
    course_dir.mkdir()
    write_course_config(course_dir, "c.EngineAutograde.cell_seconds = 60")
    shutil.copytree(paths.solutions_dir() / MODULE.slug, course_dir / "solutions" / MODULE.slug)
    assert cohort._nbgrader_api(course_dir).generate_assignment(MODULE.slug, force=True, create=True)["success"]
    handed_in = course_dir / "submitted" / STUDENT / MODULE.slug
    handed_in.mkdir(parents=True)
    worked = nbformat.read(paths.solutions_dir() / MODULE.slug / MODULE.notebook_name, as_version=4)
    for cell in worked.cells:  # as a student would hand it in: the worked answers, without nbgrader's markers
        cell.source = "".join(line for line in cell.source.splitlines(keepends=True)
                              if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    nbformat.write(worked, handed_in / MODULE.notebook_name)
    [row] = cohort.autograde(course_dir, MODULE.slug)
    assert (row.how, row.points) == ("nbgrader", MODULE.autograded_points), row

    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIPMLAB_", "JUPYTER_", "PYTEST_"))}
    env = dict(inherited, HOME=str(base / "home"), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               PYTHONPATH=str(paths.kit_root()), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    server = subprocess.Popen(
        [venv_tool("jupyter"), "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={course_dir}", f"--IdentityProvider.token={TOKEN}", "--allow-root"],
        cwd=course_dir, env=env, stdout=(base / "lab.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_lab(url, TOKEN, lambda: "the instructor's JupyterLab did not start within a minute: "
                                  f"{(base / 'lab.log').read_text()[-2000:]}")
        yield {"url": url, "browser": browser, "course": course_dir, "base": base, "env": env}
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def review(lab: dict) -> dict:
    """The reviewer's session: open the formgrader, find the submission, read the page, type a score."""
    from playwright.sync_api import sync_playwright

    shots = lab["base"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=lab["browser"], args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab['url']}/lab?token={TOKEN}")
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=120_000)
            page.locator(".lm-Menu-itemLabel:text-is('Formgrader')").click()  # not "Formgrader (local)"
            formgrader = page.frame_locator("iframe")
            formgrader.get_by_role("link", name="Manual Grading").click(timeout=60_000)
            formgrader.get_by_role("link", name=MODULE.slug).first.click()
            formgrader.get_by_role("link", name=MODULE.slug).first.click()  # the notebook, on the assignment's page
            formgrader.get_by_role("link", name="Submission #1").click()
            score = formgrader.locator(f"input.score#{WRITTEN.key}-answer")
            score.wait_for(timeout=60_000)
            grading_page = formgrader.locator("body").inner_text()
            score.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "formgrader-written-answer.png"))
            score.fill(str(REVIEWER_SCORE))
            with page.expect_response(lambda response: "/formgrader/api/grade/" in response.url
                                      and response.request.method == "PUT", timeout=60_000) as saving:
                score.press("Tab")  # leaving the field saves the score, as a reviewer's Tab does
            assert saving.value.ok, saving.value.status
            saved_value = score.input_value()
            formgrader.get_by_text("Rubric for the reviewer").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "formgrader-rubric.png"))
        except Exception:
            page.screenshot(path=str(shots / "formgrader-failed.png"))
            raise
        finally:
            browser.close()
    return {"page": grading_page, "value": saved_value}


def exported_row(lab: dict) -> dict:
    """The student's row in the CSV that `nbgrader export` writes."""
    export = lab["course"] / "grades.csv"
    done = subprocess.run([venv_tool("nbgrader"), "export", f"--to={export}"], cwd=lab["course"], env=lab["env"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [row] = [row for row in csv.DictReader(export.open()) if row["student_id"] == STUDENT]
    return row


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    with instructor_lab(tmp_path_factory.mktemp("formgrader")) as lab:
        return dict(review(lab), exported=exported_row(lab))


def test_the_answer_text_and_its_rubric_are_on_the_grading_page(reviewed):
    rubric = answer_key.load(MODULE.code_name).RUBRICS[WRITTEN.key]
    assert "The answer as handed in:" in reviewed["page"]
    assert "Smart reply meets the" in reviewed["page"]  # the statement the worked answer's code produces
    assert "Rubric for the reviewer" in reviewed["page"]
    for criterion in rubric.criteria:
        assert f"{criterion.name} (up to {criterion.max_points})" in reviewed["page"], criterion.name


def test_the_typed_score_is_in_the_exported_grades(reviewed):
    assert reviewed["value"] == str(REVIEWER_SCORE)
    assert float(reviewed["exported"]["raw_score"]) == MODULE.autograded_points + REVIEWER_SCORE
    assert float(reviewed["exported"]["max_score"]) == MODULE.autograded_points + MODULE.manual_points
