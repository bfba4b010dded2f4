"""The grading engine against hostile submissions: each scores at most what it honestly earned, reads
nothing of the grader's, changes nothing of the grader's, and never stops the batch."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import pytest

from aipmlab import course, datasets, paths
from aipmlab.grader import (AnswerKeyMissing, IsolationUnavailable, Limits, Submission, SubmissionResult,
                            grade_batch, grade_notebook)
from aipmlab.grader import execute, extract
from tests.grader.hostile import Case, cases

LIMITS = Limits(cell_seconds=6, wall_seconds=90)


def canonical_seed(module: course.Module) -> int:
    return datasets.family_of(module.tables[0]).canonical_seed


def grader_files(*extra: Path) -> dict[str, str]:
    """A digest of every file the grader owns: answer key, solutions, data, package, and `extra` folders."""
    folders = [paths.grading_dir(), paths.solutions_dir(), paths.datasets_dir(), Path(paths.__file__).parent, *extra]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def submissions_for(all_cases: list[Case], handed_in: Path) -> list[Submission]:
    found = []
    for case in all_cases:
        folder = handed_in / case.name
        if not folder.exists():
            case.build(folder)
        found.append(Submission(case.name, folder / case.module.notebook_name, case.module.slug,
                                canonical_seed(case.module)))
    return found


def hostile_course(base: Path, extra: Sequence[Case] = ()) -> tuple[Path, Path, list[Case], list[Submission], dict]:
    """A course folder holding a gradebook, the hostile cases (and `extra`) handed in under `base`, and a digest of
    every grader file before grading: (course folder, results folder, cases, submissions, digest)."""
    course_dir, results_dir = base / "course", base / "results"
    course_dir.mkdir()
    (course_dir / "gradebook.db").write_bytes(b"the class's grades")
    all_cases = cases(course_dir, results_dir) + list(extra)
    return course_dir, results_dir, all_cases, submissions_for(all_cases, base / "handed-in"), grader_files(course_dir)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    course_dir, results_dir, all_cases, submissions, before = hostile_course(base)
    started = time.monotonic()
    results = grade_batch(submissions, results_dir, LIMITS, progress=False)
    seconds = time.monotonic() - started
    return {"cases": all_cases, "results": dict(zip([c.name for c in all_cases], results)), "before": before,
            "after": grader_files(course_dir), "course": course_dir, "results_dir": results_dir, "base": base,
            "submissions": submissions, "seconds": seconds}


pytestmark = pytest.mark.slow


def test_the_whole_batch_finished(batch):
    assert len(batch["results"]) == len(batch["cases"])
    stored = sorted(p.relative_to(batch["results_dir"]).with_suffix("").as_posix()
                    for p in batch["results_dir"].rglob("*.json"))
    assert stored == sorted(case.name for case in batch["cases"])
    assert not [p for p in batch["results_dir"].rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", [case.name for case in cases(Path("/course"), Path("/results"))])
def test_each_submission_scores_only_what_it_earned(batch, name):
    case = next(c for c in batch["cases"] if c.name == name)
    result = batch["results"][name]
    summary = f"{result.status} ({result.reason}): " + ", ".join(
        f"{e.key} {e.state} {e.points}" for e in result.exercises)
    assert case.at_least <= result.points <= case.at_most, summary
    assert result.status in ((case.status,) if isinstance(case.status, str) else case.status), summary
    assert result.points == sum(e.points for e in result.exercises)
    assert result.max_points == case.module.autograded_points
    if result.status != "graded":
        assert result.reason, "a result that is not fully graded says why"
    assert "namespaces" in result.isolation


def test_reads_of_the_key_solutions_and_results_are_blocked(batch):
    for case in batch["cases"]:
        if case.blocked:
            answer = batch["results"][case.name].exercises[0].answer
            assert isinstance(answer, dict) and answer, case.name
            for what, outcome in answer.items():
                assert not str(outcome).startswith("READ"), f"{case.name} read {what}"


def test_no_grader_file_changed(batch):
    assert batch["before"] == batch["after"]


def test_the_written_answer_is_left_for_a_reviewer(batch):
    statement = next(e for e in batch["results"]["key/strong-example"].exercises if e.key == "boundary_statement")
    manual = course.module("01").exercise("boundary_statement").written.manual_points
    assert (statement.state, statement.points, statement.manual_points) == ("ready for review", 0, manual)


def test_messages_show_no_kit_path(batch):
    for result in batch["results"].values():
        for text in [result.reason, *(e.message for e in result.exercises)]:
            assert str(paths.kit_root()) not in text and "answer_key" not in text


def test_stored_results_round_trip(batch):
    for name, result in batch["results"].items():
        stored = json.loads((batch["results_dir"] / f"{name}.json").read_text())
        assert SubmissionResult.from_json(stored) == result


def test_a_rerun_reuses_every_stored_result(batch):
    started = time.monotonic()
    again = grade_batch(batch["submissions"], batch["results_dir"], LIMITS, progress=False)
    assert again == list(batch["results"].values())
    assert time.monotonic() - started < 10


KILLED_BATCH = """
import sys
from pathlib import Path
from typing import Sequence
from aipmlab.grader import Limits, Submission, grade_batch
submissions = [Submission(name, Path(path), module, seed) for name, path, module, seed in {rows!r}]
grade_batch(submissions, Path({results!r}), Limits(cell_seconds=6, wall_seconds=90), progress=False)
"""


def test_kill_9_mid_batch_then_rerun_equals_an_uninterrupted_run(batch, tmp_path):
    chosen = [s for s in batch["submissions"] if s.submission_id in
              ("controls/m00-solution", "patch/check", "controls/m01-release", "crash/exit")]
    rows = [(s.submission_id, str(s.notebook), s.module, s.seed) for s in chosen]
    results_dir = tmp_path / "results"
    script = KILLED_BATCH.format(rows=rows, results=str(results_dir))
    process = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                               env=dict(os.environ, PYTHONPATH=str(paths.kit_root())))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(results_dir.rglob("*.json"))) < 1:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 1 <= len(list(results_dir.rglob("*.json"))) < len(chosen)
    rerun = grade_batch(chosen, results_dir, LIMITS, progress=False)
    uninterrupted = [batch["results"][s.submission_id] for s in chosen]
    comparable = lambda r: {k: v for k, v in r.to_json().items() if k != "seconds"}  # noqa: E731
    assert [comparable(r) for r in rerun] == [comparable(r) for r in uninterrupted]
    assert len(list(results_dir.rglob("*.json"))) == len(chosen)
    assert not [p for p in results_dir.rglob("*") if p.name.endswith(".tmp")]
    left_behind = Path(tempfile.gettempdir()) / "aipmlab-grading"
    assert not list(left_behind.glob(f"{process.pid}-*")), "the killed grader's sandbox folder was cleaned up"


def test_a_missing_answer_key_is_an_error_never_marks(batch, monkeypatch, tmp_path):
    (tmp_path / "datasets").symlink_to(paths.datasets_dir())
    monkeypatch.setenv("AIPMLAB_HOME", str(tmp_path))
    submission = batch["submissions"][0]
    with pytest.raises(AnswerKeyMissing, match="answer key"):
        grade_notebook(submission, LIMITS)
    with pytest.raises(AnswerKeyMissing):
        grade_batch([submission], tmp_path / "results", LIMITS, progress=False)


def test_grading_unisolated_needs_an_explicit_flag(batch, monkeypatch):
    monkeypatch.setattr(execute, "namespaces_available", lambda: False)
    with pytest.raises(IsolationUnavailable, match="allow_unisolated"):
        grade_notebook(batch["submissions"][0], LIMITS)


def test_submission_ids_are_checked():
    for bad in ("../escape", "/absolute", "a//b", "spaces are not allowed", ""):
        with pytest.raises(ValueError):
            Submission(bad, Path("x.ipynb"), "00", 1)


def test_answer_lines_are_parsed_as_capped_json_only():
    deep = {"a": 1}
    for _ in range(40):
        deep = {"a": deep}
    lines = [b"not json", b'{"event": "answers", "answers": {"language_mix": {"English": 1.0}, "other": 3}}',
             json.dumps({"event": "answers", "answers": {"language_mix": deep}}).encode(),
             b'{"event": "answers", "answers": {"language_mix": NaN}}', b"[1, 2]",
             b'{"event": "end", "status": "graded", "reason": ""}']
    answers, events = extract.parse_snapshots(lines, ["language_mix"], 10_000)
    assert answers == {"language_mix": {"English": 1.0}}
    assert events == [{"event": "end", "status": "graded", "reason": ""}]
    _, events = extract.parse_snapshots([b"x" * 100], ["language_mix"], 50)
    assert events == [{"event": "overflow"}]


def test_without_namespaces_an_explicit_flag_grades_and_says_so(batch, monkeypatch):
    monkeypatch.setattr(execute, "namespaces_available", lambda: False)
    solution = next(s for s in batch["submissions"] if s.submission_id == "controls/m00-solution")
    result = grade_notebook(solution, LIMITS, allow_unisolated=True)
    assert (result.status, result.points) == ("graded", 1)
    assert result.isolation.startswith("UNISOLATED")


def test_the_grade_command_prints_json(batch, capsys):
    from aipmlab.cli import main

    release = next(s for s in batch["submissions"] if s.submission_id == "controls/m00-release")
    assert main(["grade", str(release.notebook), "--module", "00", "--seed", "2024", "--json"]) == 0
    [printed] = json.loads(capsys.readouterr().out)
    assert (printed["status"], printed["points"], printed["max_points"]) == ("graded", 0, 1)


def test_a_sandbox_that_cannot_be_built_stops_grading_and_records_nothing(batch, monkeypatch, tmp_path):
    kit = execute._kit_paths()
    monkeypatch.setattr(execute, "_kit_paths", lambda: dict(kit, **{"/kit/missing": str(tmp_path / "absent")}))
    with pytest.raises(execute.SandboxFailed, match="nothing was graded"):
        grade_batch(batch["submissions"][:1], tmp_path / "results", LIMITS, progress=False)
    assert not list((tmp_path / "results").rglob("*.json"))
