"""Grading on a Dask cluster gives the same results as the engine on one machine.

The embedded default, a local cluster of two worker processes (one thread each), grades a handful of
submissions sent as notebook bytes: the worked solutions, the untouched release, a patched checker and
a kernel that dies. Each result must equal `engine.grade_notebook`'s on the same submission, apart
from the time it took. On a cluster started with the README's `dask scheduler` and `dask worker`
commands, the grade command's `--scheduler` reuses stored results and stores new ones like a run on
one machine, and a worker whose answer key differs from the grader's refuses to grade.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

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
    """A result without the seconds it took, which differ from run to run."""
    return {name: value for name, value in result.to_json().items() if name != "seconds"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The chosen cases graded on the embedded default (a local cluster of two workers) and by the plain engine."""
    base = tmp_path_factory.mktemp("dask")
    chosen = [case for case in cases(base / "course", base / "results") if case.name in CHOSEN]
    submissions = submissions_for(chosen, base / "handed-in")
    on_cluster = list(on_dask.grade_on_cluster(submissions, LIMITS, workers=2))
    plain = [grade_notebook(submission, LIMITS) for submission in submissions]
    return {"base": base, "submissions": submissions, "cluster": on_cluster, "plain": plain}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and a worker started with the README's commands (`dask scheduler`, `dask worker`); its address."""
    folder = tmp_path_factory.mktemp("dask-cluster")
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
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(1, timeout=120)
        yield address
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_the_cluster_grades_every_submission_once(graded):
    assert sorted(r.submission_id for r in graded["cluster"]) == sorted(CHOSEN)


@pytest.mark.parametrize("name", CHOSEN)
def test_the_cluster_gives_the_engines_result(graded, name):
    on_cluster = next(r for r in graded["cluster"] if r.submission_id == name)
    plain = next(r for r in graded["plain"] if r.submission_id == name)
    assert comparable(on_cluster) == comparable(plain)
    assert "namespaces" in on_cluster.isolation


def test_a_worker_with_another_answer_key_refuses_to_grade(graded, cluster):
    from distributed import Client

    parcel = dict(on_dask._parcel(graded["submissions"][0]), fingerprint="not the grader's key")
    with Client(cluster) as client, pytest.raises(on_dask.AnswerKeyDiffers, match="differs from the grader"):
        list(on_dask._grade_with(client, [parcel], LIMITS, allow_unisolated=False))


def test_the_grade_command_on_a_cluster_reuses_and_stores_results(graded, cluster, tmp_path, capsys):
    from aipmlab.cli import main

    solution = next(s for s in graded["submissions"] if s.submission_id == "controls/m00-solution")
    unreadable = tmp_path / "not-a-notebook.ipynb"
    unreadable.write_text("{ this is not a notebook")
    results = tmp_path / "results"
    from_the_fixture = next(r for r in graded["cluster"] if r.submission_id == "controls/m00-solution")
    as_the_command_names_it = f"001-{solution.notebook.stem}"
    record.write_atomically(results / f"{as_the_command_names_it}.json",
                            SubmissionResult.from_json(dict(from_the_fixture.to_json(),
                                                            submission_id=as_the_command_names_it)))
    command = ["grade", str(solution.notebook), str(unreadable), "--module", "00", "--seed", str(solution.seed),
               "--scheduler", cluster, "--results", str(results), "--json"]
    assert main(command) == 0
    first = [SubmissionResult.from_json(row) for row in json.loads(capsys.readouterr().out)]
    assert [(r.status, r.points) for r in first] == [("graded", 1), ("failed", 0)]
    assert comparable(first[0]) == dict(comparable(from_the_fixture), submission_id=as_the_command_names_it)
    stored = {path.name: path.stat().st_mtime_ns for path in results.rglob("*.json")}
    assert len(stored) == 2
    assert main(command) == 0  # a rerun reuses both stored results and grades nothing
    again = [SubmissionResult.from_json(row) for row in json.loads(capsys.readouterr().out)]
    assert again == first
    assert {path.name: path.stat().st_mtime_ns for path in results.rglob("*.json")} == stored
