"""Record results: one JSON file per submission, written atomically, reused on a rerun when nothing changed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from aipmlab.grader.engine import Limits, Submission, SubmissionResult, grade_notebook, notebook_sha256


def result_path(results_dir: Path, submission: Submission) -> Path:
    """Where the result of `submission` is stored (its id, already validated, as a relative path)."""
    return results_dir / f"{submission.submission_id}.json"


def write_atomically(path: Path, result: SubmissionResult) -> None:
    """Write the result to a temporary file beside `path`, flush it to disk, then rename it into place."""
    write_bytes_atomically(path, json.dumps(result.to_json(), indent=1, sort_keys=True).encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def stored_result(path: Path, submission: Submission, fingerprint: str) -> SubmissionResult | None:
    """The stored result when it was graded from the same notebook bytes, seed and answer key; else None."""
    try:
        stored = SubmissionResult.from_json(json.loads(path.read_text(encoding="utf-8")))
        digest = notebook_sha256(submission.notebook)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    same = (stored.notebook_sha256 == digest and stored.seed == submission.seed
            and stored.answer_key_fingerprint == fingerprint and stored.submission_id == submission.submission_id)
    return stored if same else None


def internal_failure(submission: Submission, error: Exception) -> SubmissionResult:
    """A result for a submission the grader itself could not finish, so the batch goes on."""
    from aipmlab import course

    module = course.module(submission.module)
    return SubmissionResult(submission.submission_id, module.slug, submission.seed, "failed",
                            f"the grader could not finish this submission ({type(error).__name__}: "
                            f"{str(error)[:200]}).", [], 0, sum(e.points for e in module.exercises), 0.0, "", "", "")


def check_own_ids(submissions: Sequence[Submission]) -> None:
    """Refuse a batch in which two submissions share a submission_id (their results would overwrite each other)."""
    ids = [submission.submission_id for submission in submissions]
    if len(set(ids)) != len(ids):
        raise ValueError("Each submission in a batch needs its own submission_id.")


def answer_keys(submissions: Sequence[Submission]) -> dict[str, tuple[Any, str, list[str]]]:
    """For each module of the batch, by slug: its answer key, the key's fingerprint and the exercises' answer
    variables. Checks the ids first, and fails before anything is graded when a module has no answer key."""
    from aipmlab import course
    from aipmlab.grader import judge

    check_own_ids(submissions)
    keys = {}
    for submission in submissions:
        module = course.module(submission.module)
        if module.slug not in keys:
            keys[module.slug] = (judge.require_answer_key(module), judge.answer_key_fingerprint(module),
                                 [exercise.key for exercise in module.exercises])
    return keys


def graded_by_engine(submission: Submission, limits: Limits, allow_unisolated: bool) -> SubmissionResult:
    """The plain engine's result; a bug or an odd file gives a failed result instead, so the batch goes on, but a
    machine that cannot grade anyone (`execute.SandboxFailed`) stops it."""
    from aipmlab.grader import execute

    try:
        return grade_notebook(submission, limits, allow_unisolated=allow_unisolated)
    except execute.SandboxFailed:
        raise
    except Exception as error:
        return internal_failure(submission, error)


def grade_all(submissions: Sequence[Submission], results_dir: Path, limits: Limits, progress: bool,
              allow_unisolated: bool) -> list[SubmissionResult]:
    """Grade every submission (reusing finished ones), store each result as it finishes, with a progress bar."""
    from tqdm.auto import tqdm

    from aipmlab import course
    from aipmlab.grader import execute

    keys = answer_keys(submissions)
    execute.isolation(allow_unisolated)
    results = []
    with tqdm(total=len(submissions), disable=not progress, unit="notebook", desc="grading") as bar:
        for submission in submissions:
            path = result_path(results_dir, submission)
            result = stored_result(path, submission, keys[course.module(submission.module).slug][1])
            if result is None:
                result = graded_by_engine(submission, limits, allow_unisolated)
                write_atomically(path, result)
            results.append(result)
            bar.set_postfix_str(submission.submission_id[-40:])
            bar.update()
    return results
