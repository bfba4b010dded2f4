"""Grading beyond one machine on Dask's distributed scheduler: each Dask worker hosts a fast-path parent.

A placeholder in this branch: part B of issue 10 replaces this file.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from aipmlab.grader.engine import Limits, Submission, SubmissionResult


def grade_on_cluster(submissions: Sequence[Submission], limits: Limits, *, scheduler: str | None,
                     workers: int | None, allow_unisolated: bool) -> Iterator[SubmissionResult]:
    """Grade `submissions` on a Dask cluster (`scheduler` an address, or None for a local one)."""
    raise NotImplementedError("part B")
