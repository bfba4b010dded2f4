"""The take-home end to end, through the README's commands: create bundles for three candidates; one
hands in the worked answers, one hands in nothing done, one patches the checker and changes the seed;
grade → full marks, zero, and only what was honestly earned; the reports render; a rerun reuses results."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from aipmlab import cli, course
from aipmlab.takehome import similarity
from aipmlab.takehome.seeds import candidate_seed, read_or_create_secret
from tests.takehome import handins

pytestmark = pytest.mark.slow

HOSTILE_ANSWER = "<script>document.title='owned'</script> Everything works everywhere, 100% of the time."
HONEST_KEYS = ["overall_quality"]  # the one exercise cy really answers


def hand_back(takehome, returned: Path) -> None:
    """Candidates' returns: ada a folder (with the bundle's aipmlab/ still beside the notebooks), bob a zip, cy a folder."""
    bundles = takehome["bundles"]
    ada = Path(shutil.copytree(bundles / "ada", returned / "ada"))
    for module in (course.module("00"), course.module("01")):
        handins.fill(ada / module.notebook_name, module)
    with zipfile.ZipFile(returned / "bob.zip", "w") as archive:
        for path in sorted((bundles / "bob").glob("*.ipynb")):
            archive.write(path, f"bob/{path.name}")
    cy = returned / "cy"
    cy.mkdir()
    module = course.module("01")
    shutil.copy(bundles / "cy" / module.notebook_name, cy / module.notebook_name)
    handins.fill(cy / module.notebook_name, module, HONEST_KEYS)
    handins.patch_checker(cy / module.notebook_name, {
        "slice_quality": "slice_quality = {'English': 1.0}",
        "launch_evidence": "launch_evidence = {'below': [], 'inconclusive': []}",
        "boundary_statement": f"boundary_statement = {HOSTILE_ANSWER!r}",
    })
    handins.set_seed(cy / module.notebook_name, 2024)  # the canonical seed, whose numbers are public


def grade_command(takehome, returned: Path, reports: Path) -> list[str]:
    """The README's grade command."""
    return ["takehome", "grade", "--returned", str(returned), "--secret-file", str(takehome["secret"]),
            "--candidates", str(takehome["candidates"]), "--out", str(reports)]


@pytest.fixture(scope="module")
def graded(takehome, tmp_path_factory):
    work = tmp_path_factory.mktemp("returned")
    returned, reports = work / "returned", work / "reports"
    returned.mkdir()
    hand_back(takehome, returned)
    assert cli.main(grade_command(takehome, returned, reports)) == 0
    summary = {row["candidate_id"]: row for row in json.loads((reports / "summary.json").read_text())}
    return {"returned": returned, "reports": reports, "summary": summary}


def engine_records(graded) -> dict[str, dict]:
    """The engine's stored result of each submission, by submission id."""
    return {path.stem: json.loads(path.read_text()) for path in (graded["reports"] / "work" / "results").rglob("*.json")}


def test_every_notebook_was_graded_to_the_end(graded):
    unfinished = {name: (r["status"], r["reason"]) for name, r in engine_records(graded).items() if r["status"] != "graded"}
    assert not unfinished, f"the engine did not finish these (status, reason): {unfinished}"


def test_full_marks_zero_and_only_what_was_earned(graded):
    summary = graded["summary"]
    automatic = sum(course.module(m).autograded_points for m in ("00", "01"))
    assert summary["ada"]["points"] == summary["ada"]["max_points"] == automatic
    assert summary["bob"]["points"] == 0
    honest = sum(course.module("01").exercise(key).points for key in HONEST_KEYS)
    assert summary["cy"]["points"] == honest
    cy = {e["key"]: e for e in summary["cy"]["exercises"]}
    assert cy["overall_quality"]["state"] == "correct" and cy["slice_quality"]["state"] == "incorrect"
    assert "language_mix" not in cy and summary["cy"]["modules_handed_in"] == "01-failure-boundaries"
    assert summary["cy"]["max_points"] == automatic  # a module not handed in still counts against the total
    ready = [e for e in summary["ada"]["exercises"] if e["state"] == "ready for review"]
    assert ready and all(e["points"] == 0 for e in ready)


def test_a_changed_seed_is_graded_on_the_issued_seed(takehome, graded):
    secret, _ = read_or_create_secret(takehome["secret"], create=False)
    for path in (graded["reports"] / "work" / "results").rglob("*.json"):
        record = json.loads(path.read_text())
        assert record["seed"] == candidate_seed(secret, record["submission_id"].split("--")[0])
    assert "graded on the issued seed" in graded["summary"]["cy"]["notes"]


def test_reports_show_verdicts_rubrics_and_evidence_and_escape_candidates(graded):
    reports = graded["reports"]
    ada, bob, cy = ((reports / f"{c}.html").read_text() for c in ("ada", "bob", "cy"))
    automatic = sum(course.module(m).autograded_points for m in ("00", "01"))
    assert f"{automatic} of {automatic}" in ada and "Where it fails, with evidence" in ada and "score" in ada
    assert similarity.PUBLIC_SOLUTION in ada  # ada pasted the worked answers
    assert "<script>" not in bob and "&lt;script&gt;" in bob
    assert "<script>" not in cy and "&lt;script&gt;document.title" in cy
    assert "Not handed in." in cy
    with (reports / "scores_reviewer_a.csv").open() as handle:
        assert handle.readline().strip() == "candidate_id,exercise,criterion,score"
        rows = handle.read().splitlines()
    assert rows and all(row.startswith("ada,boundary_statement,") and row.endswith(",") for row in rows)


def test_a_report_renders_in_headless_chromium(graded, tmp_path):
    from tests.test_browser import chromium_path

    browser = chromium_path()  # installs Debian's Chromium when it can; skips with the reason when it cannot
    screenshot = graded["reports"] / "ada.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,1800", f"--screenshot={screenshot}", (graded["reports"] / "ada.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page with text, not a blank one


def test_a_rerun_reuses_every_result(takehome, graded, capsys):
    results = sorted((graded["reports"] / "work" / "results").rglob("*.json"))
    before = {path: path.stat().st_mtime_ns for path in results}
    assert len(before) == 5  # ada 2, bob 2, cy 1
    retried = {name for name, r in engine_records(graded).items() if not r["notebook_sha256"]}  # the engine's own
    # failures (it could not finish a submission) are retried by design; everything it finished must be reused
    assert cli.main(grade_command(takehome, graded["returned"], graded["reports"])) == 0
    changed = [path.stem for path in results if path.stat().st_mtime_ns != before[path] and path.stem not in retried]
    assert not changed, f"graded again instead of reused: {changed}; records: " + str(
        {name: (r["status"], r["reason"], r["notebook_sha256"][:8]) for name, r in engine_records(graded).items()})
    if not retried:
        assert json.loads((graded["reports"] / "summary.json").read_text()) == list(graded["summary"].values())


def test_reviewers_fill_their_sheets_and_calibrate(graded, tmp_path, capsys):
    import csv

    from aipmlab.answer_key import load

    rubric = load(course.module("01").code_name).RUBRICS["boundary_statement"]
    tops = {criterion.name: criterion.max_points for criterion in rubric.criteria}
    sheets = []
    for reviewer, harsher in (("reviewer_a", 0), ("reviewer_b", 1)):
        path = graded["reports"] / f"scores_{reviewer}.csv"
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row["score"] = max(0, tops[row["criterion"]] - harsher)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["candidate_id", "exercise", "criterion", "score"])
            writer.writeheader()
            writer.writerows(rows)
        sheets.append(str(path))
    assert cli.main(["takehome", "calibrate", "--scores", *sheets, "--out", str(tmp_path / "calibration")]) == 0
    final = json.loads((tmp_path / "calibration" / "calibration.json").read_text())
    assert final["manual_points"] == {"ada": sum(tops.values()) - len(tops) / 2}
