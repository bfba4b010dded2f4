"""Grading on a Dask cluster gives the same results as the engine on one machine.

The embedded default, a local cluster of two worker processes (one thread each), grades a handful of
submissions sent as notebook bytes: the worked solutions, the untouched release, a patched checker and
a kernel that dies. Each result must equal `engine.grade_notebook`'s on the same submission, apart
from the time it took. On a cluster started with the README's `dask scheduler` and `dask worker`
commands, the grade command's `--scheduler` reuses stored results and stores new ones like a run on
one machine, and a worker whose answer key differs from the grader's refuses to grade.

The cohort command takes the same route: `aipmlab autograde ASSIGNMENT --scheduler ADDRESS`, run from
the course folder on that cluster, leaves nbgrader's gradebook and the autograded notebooks exactly as
the fast run on one machine does, a rerun grades nothing and changes nothing, and the worker keeps one
pre-warmed parent for all its batches. Killed with kill -9 mid-class on `--local-cluster 1`, it leaves
no process behind (no Dask worker, no pre-warmed parent, no sandbox), the gradebook stays sound, and a
rerun grades only what was not stored, giving the uninterrupted run's grades.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from aipmlab import paths
from aipmlab.grader import Limits, SubmissionResult, grade_notebook, record
from aipmlab.grader import cohort
from aipmlab.grader import distributed as on_dask
from tests.grader.hostile import cases
from tests.grader.test_cohort_fast import M00, TWIN, make_course, student_id
from tests.grader.test_engine import submissions_for
from tests.test_browser import free_port

pytestmark = pytest.mark.slow
LIMITS = Limits(cell_seconds=6, wall_seconds=90)
CHOSEN = ("controls/m00-solution", "controls/m00-release", "patch/check", "crash/kernel-dies")


def comparable(result: SubmissionResult) -> dict:
    """A result without the seconds it took (they differ from run to run) and the words for its isolation (a Dask
    worker forks from its pre-warmed parent; the plain engine starts a kernel: the same limits, said differently)."""
    return {name: value for name, value in result.to_json().items() if name not in ("seconds", "isolation")}


@contextlib.contextmanager
def cluster_from_the_readme(folder: Path) -> Iterator[str]:
    """A scheduler and a worker started with the README's commands (`dask scheduler`, `dask worker`); its address."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    env = dict(os.environ, PYTHONPATH=str(paths.kit_root()), DASK_DISTRIBUTED__WORKER__DAEMON="False")
    commands = ([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--memory-limit", "0",
                 "--no-dashboard", "--local-directory", str(folder)])
    started = []
    try:
        for command in commands:
            started.append(subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                            stderr=(folder / f"{command[1]}.log").open("wb"),
                                            start_new_session=True))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def grade_command(*arguments: str) -> tuple[int, list[SubmissionResult]]:
    """`aipmlab grade ... --json` run in this process: its exit code and the results it printed."""
    from aipmlab.cli import main

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["grade", *arguments, "--json"])
    return code, [SubmissionResult.from_json(row) for row in json.loads(printed.getvalue())]


@pytest.fixture(scope="module")
def readme_cluster(tmp_path_factory) -> Iterator[str]:
    """One cluster started the README's way for every test of this file; its scheduler's address."""
    with cluster_from_the_readme(tmp_path_factory.mktemp("readme-cluster")) as address:
        yield address


def grade_everything(base: Path, address: str) -> dict:
    """Every run the grade command's tests look at, as plain data."""
    chosen = [case for case in cases(base / "course", base / "results") if case.name in CHOSEN]
    submissions = submissions_for(chosen, base / "handed-in")
    found = {"on cluster": list(on_dask.grade_on_cluster(submissions, LIMITS, workers=2)),
             "plain": [grade_notebook(submission, LIMITS) for submission in submissions]}

    solution = next(s for s in submissions if s.submission_id == "controls/m00-solution")
    unreadable = base / "not-a-notebook.ipynb"
    unreadable.write_text("{ this is not a notebook")
    results = base / "command-results"
    named = f"001-{solution.notebook.stem}"  # the grade command's id for the first notebook it is given
    already = next(r for r in found["on cluster"] if r.submission_id == solution.submission_id)
    record.write_atomically(results / f"{named}.json",
                            SubmissionResult.from_json(dict(already.to_json(), submission_id=named)))
    found["already stored"] = dict(already.to_json(), submission_id=named)
    arguments = (str(solution.notebook), str(unreadable), "--module", "00", "--seed", str(solution.seed),
                 "--scheduler", address, "--results", str(results))
    found["first command"] = grade_command(*arguments)
    found["stored"] = {p.name: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    found["second command"] = grade_command(*arguments)
    found["stored again"] = {p.name: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    from distributed import Client

    parcel = dict(on_dask._parcel(submissions[0]), fingerprint="not the grader's key")
    with Client(address) as client:
        try:
            list(on_dask._grade_with(client, [parcel], LIMITS, allow_unisolated=False))
            found["other key"] = "graded"
        except Exception as error:
            found["other key"] = f"{type(error).__name__}: {error}"
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory, readme_cluster):
    return grade_everything(tmp_path_factory.mktemp("dask"), readme_cluster)


def test_the_cluster_grades_every_submission_once(graded):
    assert sorted(r.submission_id for r in graded["on cluster"]) == sorted(CHOSEN)


@pytest.mark.parametrize("name", CHOSEN)
def test_the_cluster_gives_the_engines_result(graded, name):
    on_cluster = next(r for r in graded["on cluster"] if r.submission_id == name)
    plain = next(r for r in graded["plain"] if r.submission_id == name)
    assert comparable(on_cluster) == comparable(plain)
    assert "namespaces" in on_cluster.isolation


def test_a_worker_with_another_answer_key_refuses_to_grade(graded):
    assert graded["other key"].startswith("AnswerKeyDiffers: "), graded["other key"]
    assert "differs from the grader" in graded["other key"]


def test_the_grade_command_on_a_cluster_reuses_and_stores_results(graded):
    code, first = graded["first command"]
    assert code == 0
    assert [(r.status, r.points) for r in first] == [("graded", 1), ("failed", 0)]
    already = {k: v for k, v in graded["already stored"].items() if k not in ("seconds", "isolation")}
    assert comparable(first[0]) == already, "the stored result was reused, not graded again"
    assert len(graded["stored"]) == 2, "the new result was stored"
    assert graded["second command"] == (0, first), "a rerun gives the same results"
    assert graded["stored again"] == graded["stored"], "a rerun reuses both stored results and grades nothing"


# --- The cohort command on Dask: `aipmlab autograde ASSIGNMENT --scheduler ADDRESS | --local-cluster N` ----------

COHORT = ("controls/m00-solution", "controls/m00-release", "metadata/schema-99", "slow/sleeps")
SLOW_SECONDS = 1.5  # "slow/sleeps" is still running when the first result is stored, so the kill lands mid-class


def gradebook_rows(course_dir: Path) -> dict[str, tuple]:
    """Each student's submission total and, per grade cell, its automatic and manual scores, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id="aipmlab") as gradebook:
        return {submission.student_id: (submission.score, submission.max_score, tuple(sorted(
                    (grade.name, grade.auto_score, grade.manual_score, grade.needs_manual_grade)
                    for notebook in submission.notebooks for grade in notebook.grades)))
                for submission in gradebook.assignment_submissions(M00.slug)}


def autograded(course_dir: Path) -> dict[str, bytes]:
    """Every file nbgrader's autograde wrote for the class, by its path in `autograded/`."""
    folder = course_dir / "autograded"
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def stored_results(course_dir: Path) -> dict[str, tuple[int, int]]:
    """The results the cohort command stored, by file name: (inode, mtime in ns), which change when rewritten."""
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns)
            for path in (course_dir / cohort.RESULTS_FOLDER / M00.slug).glob("*.json")}


def stamps(course_dir: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime in ns) of every file the cohort command wrote (autograded notebooks, results, records)."""
    return {str(path.relative_to(course_dir)): (path.stat().st_ino, path.stat().st_mtime_ns)
            for folder in (course_dir / "autograded", course_dir / cohort.RESULTS_FOLDER)
            for path in folder.rglob("*") if path.is_file()}


def recorded_key(course_dir: Path, student: str) -> str:
    """The execution key the cohort command recorded `student` under (the name of its stored result)."""
    marker = course_dir / cohort.RESULTS_FOLDER / M00.slug / "recorded" / f"{student}.json"
    return json.loads(marker.read_text())["key"]


def pre_warmed_parents(address: str) -> set[tuple[int, float]]:
    """The pre-warmed parents running under the cluster's workers, as (process id, start time)."""
    import psutil
    from distributed import Client

    with Client(address) as client:
        workers = client.run(os.getpid).values()
    return {(process.pid, process.create_time()) for worker in workers
            for process in psutil.Process(worker).children(recursive=True)
            if process.cmdline()[1:3] == ["-m", "aipmlab.grader.zygote"]}  # the parent, not `unshare` before it


def course_copy(template: Path, folder: Path) -> Path:
    """The template course in another folder, rooted there: the same handed-in notebooks, byte for byte."""
    shutil.copytree(template, folder)
    config = folder / "nbgrader_config.py"
    config.write_text(config.read_text().replace(repr(str(template)), repr(str(folder))))
    return folder


def autograde_command(course_dir: Path, *options: str) -> dict:
    """`aipmlab autograde 00-start-here OPTIONS` run from the course folder as the README says, in this process: its
    exit code, what it printed, and the id of each submission it sent to the cluster."""
    from aipmlab.cli import main

    sent: list[str] = []
    original = on_dask.grade_on_cluster

    def sending(submissions, *arguments, **keywords):
        sent.extend(submission.submission_id for submission in submissions)
        return original(submissions, *arguments, **keywords)

    printed = io.StringIO()
    on_dask.grade_on_cluster = sending
    try:
        with contextlib.chdir(course_dir), contextlib.redirect_stdout(printed), \
                contextlib.redirect_stderr(io.StringIO()):
            code = main(["autograde", M00.slug, *options])
    finally:
        on_dask.grade_on_cluster = original
    return {"code": code, "printed": printed.getvalue(), "sent": sent}


def kill_9_mid_class(course_dir: Path) -> dict:
    """Start `aipmlab autograde 00-start-here --local-cluster 1` in the course folder, kill -9 it once a result is
    stored, and see which of the processes it had started are still alive a while later (they are then killed)."""
    import psutil

    store = course_dir / cohort.RESULTS_FOLDER / M00.slug
    command = [str(Path(sys.executable).parent / "aipmlab"), "autograde", M00.slug, "--local-cluster", "1"]
    log = (course_dir.parent / "killed-autograde.log").open("wb")
    process = subprocess.Popen(command, cwd=course_dir, start_new_session=True, stdout=subprocess.DEVNULL, stderr=log,
                               env=dict(os.environ, PYTHONPATH=str(paths.kit_root())))
    log.close()
    started: list = []
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not list(store.glob("*.json")):
            time.sleep(0.05)
        # Its workers, their pre-warmed parents and sandboxes, Dask's resource tracker. Only the command itself is
        # killed (as `kill -9 PID` or the OOM killer would): everything it started must go with it by itself.
        started = psutil.Process(process.pid).children(recursive=True)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        stored = stored_results(course_dir)

        def alive() -> list:
            found = []
            for child in started:
                try:
                    if child.status() != psutil.STATUS_ZOMBIE:
                        found.append(child)
                except psutil.NoSuchProcess:
                    pass
            return found

        deadline = time.monotonic() + 15
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [" ".join(child.cmdline()[:3])[:120] for child in alive()]
    finally:  # nothing of a failed run may linger: what is left of its group, and whatever it started elsewhere
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        for child in started:
            with contextlib.suppress(psutil.Error):
                child.kill()
    said = (course_dir.parent / "killed-autograde.log").read_text(errors="replace")[-2000:]
    return {"started": len(started), "left": left, "stored": stored, "exit": process.returncode, "said": said}


def grade_the_class(base: Path, address: str) -> dict:
    """The class through the fast path on one machine, through the cohort command on the README's cluster (twice),
    and killed mid-class on a local cluster then rerun on the README's cluster; what the tests look at."""
    template = base / "template"
    make_course(template, COHORT, slow_seconds=SLOW_SECONDS)
    one, on_cluster, killed = (course_copy(template, base / name) for name in ("one machine", "cluster", "killed"))
    found: dict = {"one machine rows": {row.student: row for row in
                                        cohort.autograde_fast(one, M00.slug, workers=2, progress=False)}}
    found["one machine"] = {"gradebook": gradebook_rows(one), "autograded": autograded(one)}

    found["first command"] = autograde_command(on_cluster, "--scheduler", address)
    found["parents after the class"] = pre_warmed_parents(address)
    found["cluster"] = {"gradebook": gradebook_rows(on_cluster), "autograded": autograded(on_cluster),
                        "stored": stored_results(on_cluster), "files": stamps(on_cluster)}
    found["rerun"] = autograde_command(on_cluster, "--scheduler", address)
    found["cluster again"] = {"gradebook": gradebook_rows(on_cluster), "autograded": autograded(on_cluster),
                              "stored": stored_results(on_cluster), "files": stamps(on_cluster)}

    found["kill"] = kill_9_mid_class(killed)
    with sqlite3.connect(killed / "gradebook.db") as db:
        found["integrity after kill"] = db.execute("PRAGMA integrity_check").fetchone()
    found["resumed"] = autograde_command(killed, "--scheduler", address)
    found["parents after resuming"] = pre_warmed_parents(address)
    found["killed"] = {"gradebook": gradebook_rows(killed), "autograded": autograded(killed),
                       "stored": stored_results(killed),
                       "keys sent": {recorded_key(killed, submission_id.split("/")[0])
                                     for submission_id in found["resumed"]["sent"]},
                       "temporary": [path.name for path in (killed / cohort.RESULTS_FOLDER).rglob("*.tmp")],
                       "exported": exported(killed, base / "grades.csv")}
    return found


def exported(course_dir: Path, to: Path) -> dict[str, str]:
    """Each student's raw score in the CSV that `nbgrader export` writes (its own plugin, in this process)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id="aipmlab") as gradebook:
        CsvExportPlugin(to=str(to)).export(gradebook)
    return {row["student_id"]: row["raw_score"] for row in csv.DictReader(to.open())}


@pytest.fixture(scope="module")
def class_on_dask(tmp_path_factory, readme_cluster):
    return grade_the_class(tmp_path_factory.mktemp("cohort-dask"), readme_cluster)


def test_the_cohort_command_on_a_cluster_records_what_one_machine_records(class_on_dask):
    first = class_on_dask["first command"]
    assert first["code"] == 0, first["printed"]
    students = sorted([student_id(name) for name in COHORT] + [TWIN])
    assert sorted(class_on_dask["one machine rows"]) == sorted(class_on_dask["cluster"]["gradebook"]) == students
    assert class_on_dask["cluster"]["gradebook"] == class_on_dask["one machine"]["gradebook"]
    assert class_on_dask["cluster"]["autograded"] == class_on_dask["one machine"]["autograded"]
    for row in class_on_dask["one machine rows"].values():
        assert f"{row.student}: {row.how}, {row.points:g}/{row.max_points:g}" in first["printed"]


def test_the_cohort_command_sends_each_notebook_to_the_cluster_once(class_on_dask):
    sent = class_on_dask["first command"]["sent"]
    assert len(sent) == len(set(sent)) == len(COHORT), "the twin's notebook is graded once, for both students"
    assert len(class_on_dask["cluster"]["stored"]) == len(COHORT)


def test_a_worker_keeps_one_pre_warmed_parent_for_all_its_batches(class_on_dask):
    parents = class_on_dask["parents after the class"]
    assert len(parents) == 1, "the README's one worker holds one pre-warmed parent once it has graded"
    assert class_on_dask["parents after resuming"] == parents, "the same parent served the later batches"


def test_a_rerun_on_the_cluster_grades_nothing_and_changes_nothing(class_on_dask):
    rerun = class_on_dask["rerun"]
    assert rerun["code"] == 0 and rerun["sent"] == []
    assert rerun["printed"] == class_on_dask["first command"]["printed"]
    assert class_on_dask["cluster again"] == class_on_dask["cluster"]


def test_kill_9_on_a_local_cluster_leaves_no_process_behind(class_on_dask):
    kill = class_on_dask["kill"]
    assert kill["exit"] == -signal.SIGKILL, f"it ended before it was killed:\n{kill['said']}"
    assert kill["started"] >= 3, "the command had started its cluster's workers before it was killed"
    assert kill["left"] == [], "still running after the command was killed"


def test_after_kill_9_the_gradebook_is_sound_and_a_rerun_grades_only_what_was_not_stored(class_on_dask):
    stored_at_kill, killed = class_on_dask["kill"]["stored"], class_on_dask["killed"]
    assert 0 < len(stored_at_kill) < len(COHORT), "killed mid-class"
    assert class_on_dask["integrity after kill"] == ("ok",)
    assert class_on_dask["resumed"]["code"] == 0
    assert {f"{key}.json" for key in killed["keys sent"]}.isdisjoint(stored_at_kill), "nothing stored graded again"
    assert len(killed["keys sent"]) == len(COHORT) - len(stored_at_kill), "everything not stored is graded"
    assert {name: killed["stored"][name] for name in stored_at_kill} == stored_at_kill, "kept as they were stored"
    assert killed["temporary"] == []


def test_after_kill_9_and_a_rerun_the_class_has_the_uninterrupted_grades(class_on_dask):
    killed = class_on_dask["killed"]
    assert killed["gradebook"] == class_on_dask["one machine"]["gradebook"]
    assert killed["autograded"] == class_on_dask["one machine"]["autograded"]
    assert {student: float(raw) for student, raw in killed["exported"].items()} == {
        student: total for student, (total, _most, _grades) in killed["gradebook"].items()}, "nbgrader still exports it"
