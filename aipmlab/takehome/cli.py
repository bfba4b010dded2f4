"""`aipmlab takehome create | grade | calibrate`: the hiring manager's three commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from aipmlab.takehome.seeds import CANDIDATE_ID, TakehomeError


def _create(arguments: argparse.Namespace) -> int:
    from aipmlab.takehome import bundle

    for made in bundle.create(arguments.modules, arguments.candidates, arguments.hours, arguments.secret_file,
                              arguments.out):
        print(f"bundle for {made.candidate_id}: {made.folder} and {made.zip_path.name}")
    return 0


def _grade(arguments: argparse.Namespace) -> int:
    from aipmlab.takehome import grade

    reviewers = tuple(name.strip() for name in arguments.reviewers.split(",") if name.strip())
    if not reviewers or not all(CANDIDATE_ID.match(name) for name in reviewers):
        raise TakehomeError("--reviewers takes names of letters, digits, '-' and '_', separated by commas, e.g. ana,ben.")
    reports = grade.grade(arguments.returned, arguments.secret_file, arguments.candidates, arguments.out, reviewers,
                          allow_unisolated=arguments.allow_unisolated)
    for report in reports:
        print(f"{report.candidate.candidate_id}: {report.points:g} of {report.max_points} automatic points, "
              f"{len(report.matches)} similarity flag(s) → {arguments.out / (report.candidate.candidate_id + '.html')}")
    print(f"summary: {arguments.out / 'summary.csv'}; reviewers fill in scores_REVIEWER.csv there")
    return 0


def _calibrate(arguments: argparse.Namespace) -> int:
    from aipmlab.takehome import calibrate

    result = calibrate.calibrate(arguments.scores, arguments.out)
    for row in result["agreement"]:
        alpha = "n/a" if row["alpha"] is None else f"{row['alpha']:.2f}"
        kappa = "" if row["kappa"] is None else f", weighted kappa {row['kappa']:.2f}"
        print(f"{row['exercise']} / {row['criterion']}: alpha {alpha}{kappa} over {row['answers']} answers")
    print(f"{len(result['to_discuss'])} score(s) more than one level apart to discuss; final scores in "
          f"{arguments.out / 'final_scores.csv'}")
    return 0


def register(tasks: argparse._SubParsersAction) -> None:
    """Register `takehome create|grade|calibrate` on the `aipmlab` command line."""
    takehome = tasks.add_parser("takehome", help="a hiring manager's take-home: create bundles, grade, calibrate")
    commands = takehome.add_subparsers(dest="takehome_task", required=True)
    create = commands.add_parser("create", help="one bundle (folder and zip) per candidate, each with its own seed")
    create.add_argument("--modules", required=True, help="modules to include, e.g. 00,01")
    create.add_argument("--candidates", required=True, type=Path, help="CSV with candidate_id,name,email")
    create.add_argument("--hours", required=True, type=float, help="the candidate's time limit, in hours")
    create.add_argument("--secret-file", required=True, type=Path, help="your secret; created (mode 0600) if missing")
    create.add_argument("--out", required=True, type=Path, help="folder for the bundles")
    create.set_defaults(run=_guarded(_create))
    grade = commands.add_parser("grade", help="grade returned notebooks; HTML reports, summary, score sheets")
    grade.add_argument("--returned", required=True, type=Path, help="folder with ID/ or ID.zip per candidate")
    grade.add_argument("--secret-file", required=True, type=Path, help="the secret `create` used")
    grade.add_argument("--candidates", required=True, type=Path, help="the candidates CSV `create` used")
    grade.add_argument("--out", required=True, type=Path, help="folder for reports (re-running resumes)")
    grade.add_argument("--reviewers", default="reviewer_a,reviewer_b", help="names of the score sheets to write")
    grade.add_argument("--allow-unisolated", action="store_true",
                       help="grade even where the sandbox cannot isolate notebooks (they could read this machine)")
    grade.set_defaults(run=_guarded(_grade))
    calibrate = commands.add_parser("calibrate", help="reviewer agreement per criterion, answers to discuss, final scores")
    calibrate.add_argument("--scores", required=True, type=Path, nargs="+", help="each reviewer's filled-in score sheet")
    calibrate.add_argument("--out", required=True, type=Path, help="folder for the calibration files")
    calibrate.set_defaults(run=_guarded(_calibrate))


def _guarded(task: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`task`, with each expected problem printed as one clear line on stderr and exit status 2 (as `aipmlab`'s own)."""

    def run(arguments: argparse.Namespace) -> int:
        from aipmlab.grader import AnswerKeyMissing, IsolationUnavailable

        try:
            return task(arguments)
        except (TakehomeError, FileNotFoundError, AnswerKeyMissing, IsolationUnavailable) as problem:
            print(f"aipmlab takehome: {problem}", file=sys.stderr)
            return 2

    return run
