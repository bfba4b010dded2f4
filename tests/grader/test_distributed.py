"""Grading on a Dask cluster gives the same results as the engine on one machine.

The embedded default, a local cluster of two worker processes (one thread each), grades a handful of
submissions sent as notebook bytes: the worked solutions, the untouched release, a patched checker and
a kernel that dies. Each result must equal `engine.grade_notebook`'s on the same submission, apart
from the time it took. On a cluster started with the README's `dask scheduler` and `dask worker`
commands, the grade command's `--scheduler` reuses stored results and stores new ones like a run on
one machine, and a worker whose answer key differs from the grader's refuses to grade.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from aipmlab import paths
from aipmlab.grader import Limits, SubmissionResult, grade_notebook, record
from aipmlab.grader import distributed as on_dask
from tests.grader.hostile import cases
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


def grade_everything(base: Path) -> dict:
    """Every run the tests look at, as plain data."""
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
    (base / "cluster").mkdir()
    with cluster_from_the_readme(base / "cluster") as address:
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
def graded(tmp_path_factory):
    return grade_everything(tmp_path_factory.mktemp("dask"))


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
