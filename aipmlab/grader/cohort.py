"""`aipmlab autograde ASSIGNMENT`: nbgrader's autograde, one student at a time, so no submission stops the rest.

nbgrader (configured in grading/nbgrader_config.py) already asks the engine for every verdict. Run
over a whole class in one go, though, one notebook whose nbgrader metadata it rejects (say a cell
claiming `schema_version: 99`) stops every student after it. Here each student is autograded on its
own; when nbgrader refuses a submission, the engine grades it anyway and its automatic scores are
written into the gradebook, with the reason in the summary.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from aipmlab.lab import check_cell_id


@dataclass
class CohortRow:
    """What happened to one student's submission."""

    student: str
    how: str        # "nbgrader" (autograded as usual) | "engine only" (nbgrader refused it) | "failed"
    points: float
    max_points: float
    reason: str


def _nbgrader_api(course_dir: Path, graded_in_advance: Path | None = None):
    """nbgrader's in-process API for `course_dir`, configured by its nbgrader_config.py (and where the fast
    command keeps its results, when given)."""
    import os
    import sys

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    tools = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from the environment to set up its database
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    if graded_in_advance is not None:
        config.EngineAutograde.graded_in_advance = str(graded_in_advance)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def students_of(course_dir: Path, assignment: str) -> list[str]:
    """Every student with a submitted folder for `assignment`, sorted."""
    return sorted(path.parent.name for path in (course_dir / "submitted").glob(f"*/{assignment}") if path.is_dir())


def autograde(course_dir: Path, assignment: str, students: list[str] | None = None,
              allow_unisolated: bool = False) -> list[CohortRow]:
    """Autograde each student's submission of `assignment` through nbgrader and the engine, one at a time."""
    from nbgrader.api import Gradebook

    api = _nbgrader_api(course_dir)
    rows = []
    for student in students or students_of(course_dir, assignment):
        outcome = api.autograde(assignment, student, force=True, create=True)
        if outcome["success"]:
            with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
                submission = gradebook.find_submission(assignment, student)
                rows.append(CohortRow(student, "nbgrader", submission.score, submission.max_score, ""))
            continue
        rows.append(_engine_only(api, course_dir, assignment, student, allow_unisolated,
                                 _exception_line(outcome.get("error") or "")))
    return rows


def _exception_line(error: str) -> str:
    """The `SomeError: message` line of a traceback, squeezed to one line."""
    found = re.findall(r"^[\w.]+(?:Error|Exception): .*(?:\n(?![\w.]+(?:Error|Exception): ).*)*", error, re.MULTILINE)
    return " ".join(found[-1].split())[:240] if found else "no reason given"


def _engine_only(api, course_dir: Path, assignment: str, student: str, allow_unisolated: bool,
                 refusal: str) -> CohortRow:
    """Grade a submission nbgrader refused with the engine alone and record its automatic scores."""
    from aipmlab import course, datasets
    from aipmlab.grader import Submission, grade_notebook
    from aipmlab.grader.nbgrader_autograde import _safe_id

    module = course.module(assignment)
    notebook = course_dir / "submitted" / student / assignment / module.notebook_name
    if not notebook.exists():
        return CohortRow(student, "failed", 0, 0, f"no {module.notebook_name} was handed in.")
    seed = datasets.default_seed(module.tables[0])
    result = grade_notebook(Submission(_safe_id(student, assignment), notebook, module.slug, seed),
                            allow_unisolated=allow_unisolated)
    return _record_engine_only(api, assignment, student, result, refusal)


def _record_engine_only(api, assignment: str, student: str, result, refusal: str) -> CohortRow:
    """Write the automatic scores of a submission nbgrader refused into the gradebook, in one transaction."""
    from nbgrader.api import Gradebook

    from aipmlab import course

    module = course.module(assignment)
    verdicts = {check_cell_id(exercise.key): exercise for exercise in result.exercises}
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        for grade in submission.notebooks[0].grades:
            verdict = verdicts.get(grade.name)
            if verdict is not None:
                grade.auto_score = verdict.points
                grade.needs_manual_grade = False
            else:  # a written answer: a reviewer reads it in the submitted notebook
                grade.auto_score = None
                grade.needs_manual_grade = True
        gradebook.db.commit()
        score = gradebook.find_submission(assignment, student).score
    reason = (f"nbgrader refused it ({refusal}), so the engine graded it alone: {result.status}"
              + (f", {result.reason}" if result.reason else ""))
    return CohortRow(student, "engine only", score, module.autograded_points + module.manual_points, reason)


# --- The fast cohort command ------------------------------------------------------------------------------------

RESULTS_FOLDER = ".aipmlab-grading"  # in the course folder: results the fast command computed, by execution key


def sanitized(api, assignment: str, student: str, notebook: Path) -> Any:
    """The notebook nbgrader's autograde would run: its own sanitizing preprocessors (clear outputs, drop duplicate
    ids, overwrite locked cells from the release, check metadata); raises what nbgrader would raise."""
    import nbformat
    from nbgrader.converters import Autograde

    app = Autograde(coursedir=api.coursedir, parent=api)
    resources = {"unique_key": notebook.stem, "nbgrader": {
        "student": student, "assignment": assignment, "notebook": notebook.stem, "db_url": api.coursedir.db_url}}
    nb = nbformat.read(notebook, as_version=4)
    for kind in app.sanitize_preprocessors:
        nb, resources = kind(parent=app)(nb, resources)  # as nbconvert calls it: only when enabled
    return nb


class Recorder:
    """nbgrader's autograde for one student, in this process: its own steps and preprocessors, as configured for the
    course, without starting an nbgrader app and two exporter passes per student. The engine's verdict comes from
    the results the fast path stored; the gradebook gets each student's scores in one transaction."""

    def __init__(self, api, assignment: str):
        from nbgrader.converters import Autograde

        self.api, self.assignment = api, assignment
        self.app = Autograde(coursedir=api.coursedir, parent=api)

    def record(self, student: str, nb: Any) -> CohortRow:
        """Record `nb` (the sanitized notebook) as `student`'s autograded submission; the row for the summary."""
        import shutil

        import nbformat
        from nbgrader import utils
        from nbgrader.api import Gradebook
        from nbgrader.preprocessors import SaveAutoGrades

        from aipmlab import course
        from aipmlab.grader import record

        coursedir, assignment = self.api.coursedir, self.assignment
        handed_in = Path(coursedir.format_path(coursedir.submitted_directory, student, assignment))
        destination = Path(coursedir.format_path(coursedir.autograded_directory, student, assignment))
        with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
            gradebook.find_assignment(assignment)
            gradebook.update_or_create_student(student)
            timestamp = coursedir.get_existing_timestamp(str(handed_in))
            gradebook.update_or_create_submission(assignment, student, **({"timestamp": timestamp} if timestamp else {}))
        notebook_id = Path(course.module(assignment).notebook_name).stem
        resources = {"unique_key": notebook_id, "output_files_dir": f"{notebook_id}_files", "nbgrader": {
            "student": student, "assignment": assignment, "notebook": notebook_id, "db_url": coursedir.db_url}}
        with utils.setenv(NBGRADER_EXECUTION="autograde"):
            for kind in self.app.autograde_preprocessors:
                kind = _save_at_once() if kind is SaveAutoGrades else kind
                nb, resources = kind(parent=self.app)(nb, resources)  # as nbconvert calls it: only when enabled
        destination.mkdir(parents=True, exist_ok=True)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        for path in utils.find_all_files(str(source), coursedir.ignore + ["*.ipynb"]):
            target = destination / Path(path).relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            shutil.copy(path, target)
            target.chmod(0o444)
        written = destination / f"{notebook_id}.ipynb"
        record.write_bytes_atomically(written, nbformat.writes(nb).encode("utf-8"))
        written.chmod(0o444)
        with Gradebook(coursedir.db_url, coursedir.course_id) as gradebook:
            submission = gradebook.find_submission(assignment, student)
            return CohortRow(student, "nbgrader", submission.score, submission.max_score, "")

@lru_cache(maxsize=1)
def _save_at_once() -> type:
    from nbgrader.preprocessors import SaveAutoGrades

    class SaveAutoGradesAtOnce(SaveAutoGrades):
        """nbgrader's SaveAutoGrades, committing a notebook's scores and comments in one transaction, not cell by cell:
        a grader killed mid-notebook leaves the gradebook as it was."""

        def preprocess(self, nb, resources):
            from nbgrader.api import Gradebook

            self.notebook_id = resources["nbgrader"]["notebook"]
            self.assignment_id = resources["nbgrader"]["assignment"]
            self.student_id = resources["nbgrader"]["student"]
            self.db_url = resources["nbgrader"]["db_url"]
            self.gradebook = Gradebook(self.db_url)
            with self.gradebook:
                session = self.gradebook.db
                commit = session.commit
                session.commit = session.flush  # each cell's change waits for the one commit below
                try:
                    nb, resources = super(SaveAutoGrades, self).preprocess(nb, resources)
                finally:
                    session.commit = commit
                session.commit()
            return nb, resources

    return SaveAutoGradesAtOnce


def autograde_fast(course_dir: Path, assignment: str, students: list[str] | None = None, *,
                   workers: int | None = None, scheduler: str | None = None, cluster: bool = False,
                   allow_unisolated: bool = False, progress: bool = True) -> list[CohortRow]:
    """Grade every student's submission of `assignment` through the fast path (or a Dask cluster), then record each
    through nbgrader's own autograde, which finds the verdict already computed. Resumable and idempotent."""
    from aipmlab.grader.quick_nbgrader import faster_nbgrader

    with faster_nbgrader():
        return _autograde_fast(course_dir, assignment, students, workers=workers, scheduler=scheduler,
                               cluster=cluster, allow_unisolated=allow_unisolated, progress=progress)


def _autograde_fast(course_dir: Path, assignment: str, students: list[str] | None, *, workers: int | None,
                    scheduler: str | None, cluster: bool, allow_unisolated: bool, progress: bool) -> list[CohortRow]:
    import nbformat
    from tqdm.auto import tqdm

    from aipmlab import course
    from aipmlab.grader import Limits, Submission, judge, record
    from aipmlab.grader.nbgrader_autograde import EngineAutograde, _safe_id, execution_key

    store = course_dir / RESULTS_FOLDER / assignment
    store.mkdir(parents=True, exist_ok=True)
    api = _nbgrader_api(course_dir, graded_in_advance=store)
    module = course.module(assignment)
    settings = EngineAutograde(parent=api)
    seed = settings.seed if settings.seed is not None else _default_seed(module)
    limits = Limits(memory_mib=settings.memory_mib, cell_seconds=settings.cell_seconds,
                    wall_seconds=settings.wall_seconds)
    fingerprint = judge.answer_key_fingerprint(module)
    rows: dict[str, CohortRow] = {}
    keys: dict[str, str] = {}          # student -> execution key of the notebook nbgrader will run
    refused: dict[str, str] = {}       # student -> why nbgrader refused it (the engine grades it alone)
    to_grade: dict[str, Submission] = {}
    firsts: dict[str, Submission] = {}  # execution key -> the first student's submission with it
    notebooks: dict[str, Any] = {}      # student -> the sanitized notebook, recorded once graded
    recorder = Recorder(api, assignment)
    everyone = students or students_of(course_dir, assignment)
    for student in everyone:
        handed_in = course_dir / "submitted" / student / assignment / module.notebook_name
        if not handed_in.exists():
            continue  # nbgrader's own autograde scores a missing notebook zero
        try:
            nb = sanitized(api, assignment, student, handed_in)
        except Exception as error:  # nbgrader would refuse it: the engine grades what was handed in
            refused[student] = " ".join(f"{type(error).__name__}: {error}".split())[:240]
            digest = hashlib.sha256(handed_in.read_bytes() + f"{seed} {fingerprint}".encode()).hexdigest()
            keys[student], notebook = f"refused-{digest}", handed_in
        else:
            keys[student] = execution_key(nb, seed, fingerprint)
            notebooks[student] = nb
            notebook = store / f"{keys[student]}.ipynb"
            if not notebook.exists():
                record.write_bytes_atomically(notebook, nbformat.writes(nb).encode())
        if keys[student] in firsts:
            continue  # the same notebook as another student's: graded once
        firsts[keys[student]] = submission = Submission(_safe_id(student, assignment), notebook, module.slug, seed)
        if record.stored_result(store / f"{keys[student]}.json", submission, fingerprint) is None:
            to_grade[keys[student]] = submission
    by_key = {key: [s for s in everyone if keys.get(s) == key] for key in firsts}
    with tqdm(total=len(everyone), disable=not progress, unit="student", desc=f"grading {assignment}") as bar:
        def record_all(key: str) -> None:
            for student in by_key.get(key, []):
                rows[student] = _record(api, course_dir, assignment, student, store, key, refused.get(student),
                                        allow_unisolated, notebooks.pop(student, None), recorder)
                bar.set_postfix_str(student[-30:])
                bar.update()
        for key in [key for key in by_key if key not in to_grade]:  # graded by an earlier run: record only
            record_all(key)
        for result in _grade(list(to_grade.values()), limits, workers, scheduler, cluster, allow_unisolated):
            key = next(k for k, s in to_grade.items() if s.submission_id == result.submission_id)
            record.write_atomically(store / f"{key}.json", result)
            record_all(key)
        for student in [s for s in everyone if s not in keys]:  # nothing handed in: nbgrader scores it zero
            rows[student] = _record(api, course_dir, assignment, student, store, None, None, allow_unisolated)
            bar.update()
    return [rows[student] for student in everyone]


def _default_seed(module: Any) -> int:
    from aipmlab import datasets

    return datasets.default_seed(module.tables[0])


def _grade(submissions: list, limits: Any, workers: int | None, scheduler: str | None, cluster: bool,
           allow_unisolated: bool):
    """Results as they finish: through a Dask cluster when one is named, else the fast path on this machine."""
    if scheduler or cluster:
        from aipmlab.grader.distributed import grade_on_cluster

        return grade_on_cluster(submissions, limits, scheduler=scheduler, workers=workers,
                                allow_unisolated=allow_unisolated)
    from aipmlab.grader.fast import grade_many

    return grade_many(submissions, limits, workers=workers, allow_unisolated=allow_unisolated)


def _record(api, course_dir: Path, assignment: str, student: str, store: Path, key: str | None,
            refusal: str | None, allow_unisolated: bool, sanitized_nb: Any = None, recorder: Recorder | None = None
            ) -> CohortRow:
    """Record one student's result: through nbgrader's autograde (which finds the verdict in `store`), or, for a
    notebook nbgrader refuses, straight into the gradebook as the one-at-a-time command does."""
    from nbgrader.api import Gradebook

    from aipmlab.grader import SubmissionResult, record

    marker = store / "recorded" / f"{student}.json"
    try:
        done = json.loads(marker.read_text())
    except (OSError, ValueError):
        done = {}
    if key is not None and done.get("key") == key:  # recorded by an earlier run from this very notebook
        return CohortRow(**done["row"])
    if refusal is not None:
        result = SubmissionResult.from_json(json.loads((store / f"{key}.json").read_text()))
        row = _record_engine_only(api, assignment, student, result, refusal)
    elif sanitized_nb is not None and recorder is not None:
        try:
            row = recorder.record(student, sanitized_nb)
        except Exception:  # anything nbgrader's own steps refuse: let nbgrader's app say why
            row = None
    else:
        row = None
    if row is None:
        outcome = api.autograde(assignment, student, force=True, create=True)
        if outcome["success"]:
            with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gradebook:
                submission = gradebook.find_submission(assignment, student)
                row = CohortRow(student, "nbgrader", submission.score, submission.max_score, "")
        else:  # refused past sanitizing: graded by the engine alone, as the plain command does
            row = _engine_only(api, course_dir, assignment, student, allow_unisolated,
                               _exception_line(outcome.get("error") or ""))
    if key is not None and row.how != "failed":
        record.write_bytes_atomically(marker, json.dumps({"key": key, "row": asdict(row)}).encode())
    return row
