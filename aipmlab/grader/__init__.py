"""The grading engine: execute a notebook in a sandbox, extract its answers, judge them, record the result."""

from aipmlab.grader.engine import (AnswerKeyMissing, ExerciseResult, IsolationUnavailable, Limits, Submission,
                                   SubmissionResult, grade_batch, grade_notebook)

__all__ = ["AnswerKeyMissing", "ExerciseResult", "IsolationUnavailable", "Limits", "Submission",
           "SubmissionResult", "grade_batch", "grade_notebook"]
