"""Command-line tasks of the grading engine: `aipmlab grade` and `aipmlab autograde`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _grade(arguments: argparse.Namespace) -> int:
    from aipmlab.grader import Limits, Submission, grade_batch, grade_notebook

    limits = Limits(cell_seconds=arguments.cell_seconds, wall_seconds=arguments.wall_seconds)
    submissions = [Submission(f"{index:03d}-{''.join(c if c.isalnum() or c in '-_.' else '_' for c in path.stem)}",
                              path, arguments.module, arguments.seed)
                   for index, path in enumerate(arguments.notebook, start=1)]
    on_dask = arguments.scheduler is not None or arguments.local_cluster is not None
    if on_dask:
        from aipmlab.grader.distributed import grade_batch_on_cluster, grade_on_cluster

        where = dict(scheduler=arguments.scheduler, workers=arguments.local_cluster,
                     allow_unisolated=arguments.allow_unisolated)
        if arguments.results:
            results = grade_batch_on_cluster(submissions, arguments.results, limits, progress=not arguments.json,
                                             **where)
        else:
            by_id = {result.submission_id: result for result in grade_on_cluster(submissions, limits, **where)}
            results = [by_id[submission.submission_id] for submission in submissions]
    elif arguments.results:
        results = grade_batch(submissions, arguments.results, limits, progress=not arguments.json,
                              allow_unisolated=arguments.allow_unisolated)
    else:
        results = [grade_notebook(submission, limits, allow_unisolated=arguments.allow_unisolated)
                   for submission in submissions]
    if arguments.json:
        print(json.dumps([result.to_json() for result in results], indent=1))
        return 0
    for path, result in zip(arguments.notebook, results):
        print(f"{path}: {result.status}, {result.points}/{result.max_points} automatic points"
              + (f" ({result.reason})" if result.reason else ""))
        for exercise in result.exercises:
            manual = f", plus up to {exercise.manual_points} by rubric" if exercise.manual_points else ""
            print(f"  {exercise.number}. {exercise.key}: {exercise.state}, {exercise.points}/{exercise.max_points}"
                  f"{manual}. {exercise.message}")
    return 0


def _autograde(arguments: argparse.Namespace) -> int:
    from aipmlab.grader import cohort

    if arguments.plain:
        rows = cohort.autograde(arguments.course.resolve(), arguments.assignment, arguments.student or None,
                                allow_unisolated=arguments.allow_unisolated)
    else:
        rows = cohort.autograde_fast(arguments.course.resolve(), arguments.assignment, arguments.student or None,
                                     workers=arguments.local_cluster or arguments.workers,
                                     scheduler=arguments.scheduler, cluster=arguments.local_cluster is not None,
                                     allow_unisolated=arguments.allow_unisolated)
    for row in rows:
        print(f"{row.student}: {row.how}, {row.points:g}/{row.max_points:g}" + (f" ({row.reason})" if row.reason else ""))
    return 1 if any(row.how == "failed" for row in rows) else 0


def register(tasks: argparse._SubParsersAction) -> None:
    """Add `grade` and `autograde` to the `aipmlab` command."""
    grade = tasks.add_parser("grade", help="grade notebooks with the engine (sandboxed, judged against the answer key)")
    grade.add_argument("notebook", nargs="+", type=Path, help="the handed-in .ipynb files")
    grade.add_argument("--module", required=True, help="the module they answer, e.g. 01")
    grade.add_argument("--seed", required=True, type=int, help="the data seed to grade on (the grader chooses it)")
    grade.add_argument("--results", type=Path, help="store one JSON result per notebook here; a rerun resumes")
    grade.add_argument("--json", action="store_true", help="print the results as JSON")
    grade.add_argument("--cell-seconds", type=int, default=120, help="wall time allowed per cell")
    grade.add_argument("--wall-seconds", type=int, default=600, help="wall time allowed per notebook")
    grade.add_argument("--allow-unisolated", action="store_true",
                       help="grade even where the sandbox cannot isolate the notebook (not root, not Linux)")
    where = grade.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on the Dask cluster at ADDRESS (e.g. tcp://10.0.0.5:8786); its workers need the kit "
                            "with grading/")
    where.add_argument("--local-cluster", metavar="N", type=int,
                       help="grade on a local Dask cluster of N worker processes")
    grade.set_defaults(run=_grade)
    autograde = tasks.add_parser("autograde", help="grade a collected assignment for the class and record it in "
                                                   "nbgrader's gradebook (fast: one pre-warmed parent forks a "
                                                   "sandboxed child per notebook)")
    autograde.add_argument("assignment", help="the nbgrader assignment, e.g. 01-failure-boundaries")
    autograde.add_argument("--student", action="append", help="only this student (repeatable); default: all")
    autograde.add_argument("--course", type=Path, default=Path.cwd(), help="the nbgrader course folder (default: here)")
    autograde.add_argument("--allow-unisolated", action="store_true",
                           help="grade even where the sandbox cannot isolate the notebook (not root, not Linux)")
    autograde.add_argument("--workers", type=int, help="notebooks graded at once (default: the cores)")
    autograde.add_argument("--plain", action="store_true",
                           help="nbgrader autograde one student at a time, each in a fresh kernel (slow; the fast "
                                "path gives the same grades)")
    where = autograde.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask cluster (e.g. tcp://host:8786)")
    where.add_argument("--local-cluster", metavar="N", type=int,
                       help="grade on a local Dask cluster of N worker processes (as `aipmlab grade` does)")
    autograde.set_defaults(run=_autograde)


if __name__ == "__main__":
    print("Run it as `aipmlab grade ...` or `aipmlab autograde ...`.", file=sys.stderr)
