"""The grading engine: execute a submitted notebook in a sandbox, extract its answers, judge them, record.

The learner's kernel is for teaching and is never trusted with points. Here a separate process runs
the notebook (see `execute`), the answers come back as plain JSON data (see `extract`), and the
grader's own process judges them against the answer key on the grader's seed (see `judge`).
Results are stored one JSON file per submission, so a batch can be resumed (see `record`).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

SUBMISSION_ID = re.compile(r"[A-Za-z0-9_.\-/]{1,200}")


@dataclass(frozen=True)
class Limits:
    """What one submission may use: memory of each process, CPU time, wall time per cell and in all, output."""

    memory_mib: int = 3072
    cpu_seconds: int = 600
    wall_seconds: int = 600
    cell_seconds: int = 120
    output_kib: int = 2048


@dataclass(frozen=True)
class Submission:
    """One handed-in notebook, the module it answers, and the data seed the grader chose for it."""

    submission_id: str   # e.g. "alice/01-failure-boundaries"; letters, digits, - _ . / only
    notebook: Path       # the handed-in .ipynb (never modified)
    module: str          # slug or number, as course.module() accepts
    seed: int            # chosen by the grader, injected as the papermill `seed` parameter

    def __post_init__(self) -> None:
        if not SUBMISSION_ID.fullmatch(self.submission_id) or any(
                part in ("", ".", "..") for part in self.submission_id.split("/")):
            raise ValueError(f"A submission id uses letters, digits, '-', '_', '.' and '/' between non-empty "
                             f"names (no '..'), such as 'alice/01-failure-boundaries'; got {self.submission_id!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"A seed is a non-negative whole number; got {self.seed!r}.")


@dataclass
class ExerciseResult:
    """How one exercise was judged. `max_points` are the automatic points; `manual_points` a reviewer awards."""

    key: str
    number: int
    state: str           # a State value: "correct", "incorrect", "not attempted", "ready for review"
    points: int
    max_points: int
    manual_points: int
    message: str
    answer: Any          # the extracted answer as JSON data (serialize.to_json form); None if never extracted


@dataclass
class SubmissionResult:
    """The record of one graded submission: its status, every exercise, the totals and what isolated it."""

    submission_id: str
    module: str
    seed: int
    status: str          # "graded" | "partial" (crashed or timed out: answers so far judged) | "failed" (no answers)
    reason: str          # "" when graded; one clear sentence otherwise
    exercises: list[ExerciseResult]
    points: int
    max_points: int
    seconds: float
    notebook_sha256: str
    isolation: str       # what isolation was in force, in words
    answer_key_fingerprint: str = ""  # which answer key and exercise definitions judged it (for reuse on rerun)
    note: str = ""       # for the grader: how it was run when that differs from the usual (the fast path's fallback)

    def to_json(self) -> dict:
        """Plain JSON data, as stored in the results folder."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "SubmissionResult":
        """The result `to_json` wrote."""
        fields = dict(data)
        fields["exercises"] = [ExerciseResult(**exercise) for exercise in data["exercises"]]
        return cls(**fields)


class AnswerKeyMissing(RuntimeError):
    """Grading needs the answer key of the module; without it nothing may earn points."""


class IsolationUnavailable(RuntimeError):
    """The sandbox cannot isolate the notebook here, and the caller did not accept running without it."""


def notebook_sha256(path: Path) -> str:
    """The SHA-256 of the handed-in file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def grade_notebook(submission: Submission, limits: Limits = Limits(), *,
                   allow_unisolated: bool = False) -> SubmissionResult:
    """Execute, extract, judge: the full result of one submission. Raises when the answer key is missing, or
    when the notebook cannot be isolated here and `allow_unisolated` is not given."""
    from aipmlab import course
    from aipmlab.grader import execute, extract, judge

    started = time.monotonic()
    module = course.module(submission.module)
    key_module = judge.require_answer_key(module)
    fingerprint = judge.answer_key_fingerprint(module)
    try:
        digest = notebook_sha256(submission.notebook)
    except OSError as error:
        return failed(submission, module.slug, f"the notebook could not be read ({error.strerror or error}).",
                      "", "", fingerprint, started)
    isolation_mode = execute.isolation(allow_unisolated)
    try:
        notebook = extract.read_submission(submission.notebook)
    except extract.MalformedNotebook as malformed:
        return failed(submission, module.slug, str(malformed), digest, isolation_mode.description,
                      fingerprint, started)
    run = execute.run(notebook, [exercise.key for exercise in module.exercises], submission.seed, limits,
                      isolation_mode)
    return judged(submission, run, key_module, digest, isolation_mode.description, fingerprint, started)


def judged(submission: Submission, run: Any, key_module: Any, digest: str, isolation: str, fingerprint: str,
           started: float) -> SubmissionResult:
    """The result of one run (an `execute.Run`): every exercise judged here, in the grader's own process."""
    from aipmlab import course
    from aipmlab.grader import judge

    module = course.module(submission.module)
    exercises = [judge.judge_answer(exercise, run.answers.get(exercise.key), exercise.key in run.answers,
                                    submission.seed, key_module, module)
                 for exercise in module.exercises]
    status, reason = run.status, run.reason
    if status == "partial" and not run.answers:
        status = "failed"
    return SubmissionResult(
        submission_id=submission.submission_id, module=module.slug, seed=submission.seed, status=status,
        reason=reason, exercises=exercises, points=sum(e.points for e in exercises),
        max_points=sum(e.max_points for e in exercises), seconds=round(time.monotonic() - started, 2),
        notebook_sha256=digest, isolation=isolation, answer_key_fingerprint=fingerprint)


def failed(submission: Submission, slug: str, reason: str, digest: str, isolation: str, fingerprint: str,
           started: float) -> SubmissionResult:
    """The result of a submission nothing could be read from: every exercise not attempted, with the reason."""
    from aipmlab import course

    module = course.module(slug)
    exercises = [ExerciseResult(e.key, e.number, "not attempted", 0, e.points,
                                e.written.manual_points if e.written else 0,
                                "No answer could be read from this submission.", None) for e in module.exercises]
    return SubmissionResult(submission.submission_id, slug, submission.seed, "failed", reason, exercises, 0,
                            sum(e.max_points for e in exercises), round(time.monotonic() - started, 2), digest,
                            isolation, fingerprint)


def grade_batch(submissions: Sequence[Submission], results_dir: Path, limits: Limits = Limits(),
                progress: bool = True, *, allow_unisolated: bool = False) -> list[SubmissionResult]:
    """Grade each submission once, storing one JSON file each in `results_dir`; a rerun reuses finished ones."""
    from aipmlab.grader import record

    return record.grade_all(submissions, Path(results_dir), limits, progress, allow_unisolated)
