"""`aipmlab takehome grade`: returned notebooks → the grading engine, on the seeds issued → reports.

Points come from the engine (`aipmlab.grader`), which runs each notebook in a sandbox and judges
the answers in its own process. This module adds what a hiring manager needs around it: which
notebook is whose, the decisions' outcomes, the written answers beside their rubric, similarity
evidence, and the files reviewers fill in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from aipmlab import answer_key, course, serialize
from aipmlab.answer_key import Rubric
from aipmlab.takehome import report, returns, similarity
from aipmlab.takehome.seeds import Candidate, issued_seeds, read_candidates, read_or_create_secret

NOT_ATTEMPTED, READY_FOR_REVIEW = "not attempted", "ready for review"


@dataclass(frozen=True)
class WrittenAnswer:
    """A written answer for reviewers: its text and the rubric they score it with."""

    key: str
    number: int
    text: str | None
    state: str
    rubric: Rubric


@dataclass
class ModuleReport:
    """One module of one candidate: the engine's result plus what the report adds to it."""

    module: course.Module
    result: Any | None                                    # aipmlab.grader.SubmissionResult; None: not handed in
    outcomes: dict[str, Any] = field(default_factory=dict)  # decision key -> Outcome, or why there is none
    written: list[WrittenAnswer] = field(default_factory=list)


@dataclass
class CandidateReport:
    """Everything one candidate's report shows."""

    candidate: Candidate
    modules: list[ModuleReport]
    notes: list[str]
    matches: list[similarity.Match]

    @property
    def points(self) -> float:
        """Automatic points earned across modules."""
        return sum(m.result.points for m in self.modules if m.result is not None)

    @property
    def max_points(self) -> int:
        """Automatic points available across the modules issued."""
        return sum(m.module.autograded_points for m in self.modules)

    @property
    def manual_max_points(self) -> int:
        """Points reviewers award with rubrics, across the modules issued."""
        return sum(m.module.manual_points for m in self.modules)


def submission_id(candidate_id: str, module: course.Module) -> str:
    """The engine's id of one candidate's notebook for one module."""
    return f"{candidate_id}--{module.slug}"


def decision_outcomes(module: course.Module, result: Any, seed: int) -> dict[str, Any]:
    """Deploy each attempted decision on the issued seed's world, in this process: Outcome, or why not."""
    outcomes: dict[str, Any] = {}
    for exercise_result in result.exercises:
        exercise = module.exercise(exercise_result.key)
        if exercise.deploy is None or exercise_result.state == NOT_ATTEMPTED or exercise_result.answer is None:
            continue
        try:
            outcomes[exercise.key] = exercise.deploy(serialize.from_json(exercise_result.answer), seed)
        except Exception as error:  # an answer the simulator cannot read: say so, keep going
            outcomes[exercise.key] = f"Could not deploy this decision ({type(error).__name__})."
    return outcomes


def written_answers(module: course.Module, result: Any | None) -> list[WrittenAnswer]:
    """The module's written answers with their rubric (from the answer key), in exercise order."""
    key_module = answer_key.load(module.code_name)
    if key_module is None:
        raise FileNotFoundError(f"The answer key of {module.slug} is missing; grade from the course repository.")
    by_key = {r.key: r for r in result.exercises} if result is not None else {}
    answers = []
    for exercise in module.exercises:
        if exercise.written is None:
            continue
        found = by_key.get(exercise.key)
        text = found.answer if found is not None and isinstance(found.answer, str) else None
        answers.append(WrittenAnswer(exercise.key, exercise.number, text,
                                     found.state if found is not None else NOT_ATTEMPTED, key_module.RUBRICS[exercise.key]))
    return answers


def find_similarities(handed: list[returns.Handed], modules: list[course.Module]) -> list[similarity.Match]:
    """Near-copies in each module's answer cells, read from the notebooks as handed in."""
    matches = []
    for module in modules:
        cells = {}
        for entry in handed:
            path = entry.notebooks.get(module.slug)
            if path is None:
                continue
            try:
                cells[entry.candidate.candidate_id] = similarity.answer_cells(nbformat.read(path, as_version=4), module)
            except Exception:  # malformed: the engine's record says why
                continue
        matches += similarity.find_copies(cells, module)
    return matches


def grade(returned: Path, secret_file: Path, candidates_file: Path, out: Path,
          reviewers: tuple[str, ...] = ("reviewer_a", "reviewer_b"), limits: Any = None,
          allow_unisolated: bool = False) -> list[CandidateReport]:
    """Grade every candidate's returned notebooks and write reports, summaries and score sheets into `out`."""
    from aipmlab.grader import Limits, Submission, grade_batch

    candidates = read_candidates(candidates_file)
    secret, _ = read_or_create_secret(secret_file, create=False)
    seeds = issued_seeds(secret, candidates)
    if not returned.is_dir():
        raise FileNotFoundError(f"The returned folder {returned} does not exist.")
    out.mkdir(parents=True, exist_ok=True)
    handed = returns.collect(returned, candidates, seeds, out / "work" / "handed-in")
    modules = sorted({slug for entry in handed for slug in entry.notebooks}, key=lambda slug: course.module(slug).number)
    modules = [course.module(slug) for slug in modules]
    submissions = [Submission(submission_id(entry.candidate.candidate_id, course.module(slug)), path, slug,
                              seeds[entry.candidate.candidate_id])
                   for entry in handed for slug, path in sorted(entry.notebooks.items())]
    results = {r.submission_id: r for r in grade_batch(submissions, out / "work" / "results",
                                                       limits=limits or Limits(), progress=True,
                                                       allow_unisolated=allow_unisolated)}
    matches = find_similarities(handed, modules)
    reports = []
    for entry in handed:
        candidate_id = entry.candidate.candidate_id
        module_reports = []
        for module in modules:
            result = results.get(submission_id(candidate_id, module))
            outcomes = decision_outcomes(module, result, seeds[candidate_id]) if result is not None else {}
            module_reports.append(ModuleReport(module, result, outcomes, written_answers(module, result)))
        reports.append(CandidateReport(entry.candidate, module_reports, entry.notes,
                                       [m for m in matches if m.candidate_id == candidate_id]))
    report.write_all(reports, out, reviewers)
    return reports
