"""Grade many submissions on this machine: the interface of the fast executor (issue 10, part A).

This is the plain stand-in: a loop over `engine.grade_notebook`, one submission after another. The
pre-warmed, forking executor replaces it with the same signature, so callers (the Dask route in
`distributed`) need no change.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from aipmlab.grader.engine import Limits, Submission, SubmissionResult, grade_notebook


def grade_many(submissions: Sequence[Submission], limits: Limits = Limits(), *, workers: int | None = None,
               allow_unisolated: bool = False) -> Iterator[SubmissionResult]:
    """Yield the result of each submission as it finishes (here in order, one at a time; `workers` is unused)."""
    for submission in submissions:
        yield grade_notebook(submission, limits, allow_unisolated=allow_unisolated)
